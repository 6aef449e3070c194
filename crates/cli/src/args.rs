//! runc's command line, as clap definitions, and the argv normalisation that lets go-runc's
//! style through (`-no-subreaper`, `--rootless=true`).

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "husk",
    about = "husk is a low-level container runtime with runc's command line: it runs OCI \
             bundles and is driven by containerd, docker, podman and people as runc is.",
    disable_version_flag = true
)]
pub struct Cli {
    /// Root directory for container state (default: /run/husk as root,
    /// $XDG_RUNTIME_DIR/husk otherwise).
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Log file (default: stderr).
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Debug logging.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use the systemd cgroup driver.
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// true, false or auto (accepted as runc does).
    #[arg(long)]
    pub rootless: Option<String>,
    /// The CRIU binary checkpoint and restore run (default: criu from PATH).
    #[arg(long, global = true)]
    pub criu: Option<PathBuf>,
    /// Give every container /proc files computed from its cgroup (husk's procfs daemon), as
    /// the run.husk.procfs annotation does for one container.
    #[arg(long, global = true)]
    pub procfs: bool,
    /// Print the version.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container from a bundle; it waits for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start { id: String },
    /// Create and start a container, and wait for it unless --detach.
    Run(RunArgs),
    /// Print a container's state as JSON.
    State { id: String },
    /// Send a signal to a container's init (default SIGTERM).
    Kill {
        /// Signal every process of the container's cgroup, not only the init.
        #[arg(short, long)]
        all: bool,
        id: String,
        /// A name (KILL, SIGKILL) or a number.
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container (a running one only with --force).
    Delete {
        /// Kill the container first if it still runs.
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// List containers.
    List {
        /// table, or json: an array of state objects.
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Print only the ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Pause (freeze) every process of a container.
    Pause { id: String },
    /// Resume a paused container.
    Resume { id: String },
    /// Change a container's cgroup resources.
    Update(Box<UpdateArgs>),
    /// Print a container's resource usage (and OOM events) as JSON lines.
    Events {
        /// Print one stats event and exit.
        #[arg(long)]
        stats: bool,
        /// How often to print stats (a Go duration: 5s, 500ms, 1m).
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Run a new process in a running container.
    Exec(Box<ExecArgs>),
    /// List the processes of a container.
    Ps {
        /// table (ps(1)'s output, for the container's processes) or json (their host pids).
        #[arg(short, long, value_enum, default_value_t = PsFormat::Table)]
        format: PsFormat,
        id: String,
        /// Arguments for ps(1) (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Print the features husk supports (the runtime spec's features.json).
    Features,
    /// Serve /proc files computed from each reader's cgroup, at <root>/@procfs, until
    /// SIGTERM (the first create that needs it starts it).
    Procfs,
    /// Save a running container to disk with CRIU (it is deleted after, unless
    /// --leave-running or --pre-dump).
    Checkpoint(Box<CheckpointArgs>),
    /// Make a container again from a checkpoint, with CRIU.
    Restore(Box<RestoreArgs>),
    /// Write a default config.json.
    Spec {
        /// Where config.json is written.
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// A config an unprivileged user can run (user namespace mapping the caller).
        #[arg(long)]
        rootless: bool,
    },
}

/// The flags `checkpoint` and `restore` share (runc's).
#[derive(Args, Debug, Default, Clone)]
pub struct CriuArgs {
    /// The directory of CRIU's images (default: ./checkpoint).
    #[arg(long = "image-path")]
    pub image_path: Option<PathBuf>,
    /// Where CRIU writes its log and work files (default: the image directory).
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    /// Save and restore established TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow unix sockets connected to outside the container.
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow a process started from a shell (a session or terminal from outside).
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Save and restore file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// soft, full, strict or ignore (default: CRIU's, soft).
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// A namespace made empty rather than saved and restored (network; repeatable).
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
    /// Deduplicate memory images as they are written.
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Restore memory lazily, through userfaultfd.
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
}

/// `husk checkpoint`: runc's flags.
#[derive(Args, Debug)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// The previous pre-dump, relative to the image directory.
    #[arg(long = "parent-path")]
    pub parent_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint.
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Save memory only and leave the container running (for a later checkpoint).
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// ADDRESS:PORT of a CRIU page server to send memory to.
    #[arg(long = "page-server")]
    pub page_server: Option<String>,
    /// An fd CRIU writes \0 to once lazy pages are served (with --lazy-pages).
    #[arg(long = "status-fd", default_value_t = -1, allow_hyphen_values = true)]
    pub status_fd: i32,
    /// Skip TCP connections still being set up.
    #[arg(long = "tcp-skip-in-flight")]
    pub tcp_skip_in_flight: bool,
    /// Link unlinked files back where possible.
    #[arg(long = "link-remap")]
    pub link_remap: bool,
    pub id: String,
}

/// `husk restore`: runc's flags.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// The bundle: config.json and the rootfs.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Return once the container runs, without waiting for it.
    #[arg(short, long)]
    pub detach: bool,
    /// A unix socket to send the restored terminal's pty master to.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Write the restored init's host pid here.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not make husk a subreaper of the container's orphans.
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Accepted as runc does (CRIU puts the root mount back as it was saved).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// An LSM profile for the restored process (refused: no AppArmor or SELinux here).
    #[arg(long = "lsm-profile")]
    pub lsm_profile: Option<String>,
    /// An LSM mount context (refused: no SELinux here).
    #[arg(long = "lsm-mount-context")]
    pub lsm_mount_context: Option<String>,
    pub id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PsFormat {
    Table,
    Json,
}

/// `husk exec`: runc's flags.
#[derive(Args, Debug, Default)]
pub struct ExecArgs {
    /// A unix socket to send the pty master to (with --tty).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// A unix socket to send a pidfd of the process to (runc 1.2)
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// The working directory, inside the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// KEY=VALUE, added to the container's environment (repeatable).
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Give the process a terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// uid[:gid]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Supplementary group ids (repeatable).
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// A process.json to run instead of the command line.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Return once the process runs, without waiting for it.
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's host pid here.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// An SELinux label (refused: no SELinux on this host).
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// An AppArmor profile (refused: no AppArmor on this host).
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// A capability to add, as CAP_NAME (repeatable).
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Pass on this many fds from 3 onward.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// A sub-cgroup of the container's to run in: PATH or CONTROLLER[,...]:PATH.
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Exec into a paused container: the process starts frozen and runs once it is resumed.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// The bundle: config.json and the rootfs.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the init's host pid here.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to send the pty master to (process.terminal).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// A unix socket to send a pidfd of the process to (runc 1.2)
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Enter the rootfs with MS_MOVE and chroot instead of pivot_root (for a ramdisk root).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass on this many fds from 3 onward (after LISTEN_FDS ones).
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container runs, without waiting for it.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
    /// Do not make husk a subreaper of the container's orphans.
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
}

/// `husk update`: runc's flags, each setting one field of `linux.resources`, over the JSON
/// of `--resources` (a file, or `-` for stdin).
#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    /// LinuxResources JSON: a file, or - for stdin. The flags below override its fields.
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpu-idle", allow_hyphen_values = true)]
    pub cpu_idle: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Bytes, or with a unit: 100k, 64m, 1g (-1: no limit).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long = "kernel-memory", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

/// Every long flag husk knows, for turning go-style `-flag` into `--flag`.
const LONG_FLAGS: &[&str] = &[
    "root",
    "log",
    "log-format",
    "debug",
    "systemd-cgroup",
    "rootless",
    "criu",
    "version",
    "bundle",
    "pid-file",
    "console-socket",
    "pidfd-socket",
    "no-pivot",
    "no-new-keyring",
    "preserve-fds",
    "detach",
    "keep",
    "no-subreaper",
    "all",
    "force",
    "format",
    "quiet",
    "resources",
    "blkio-weight",
    "cpu-period",
    "cpu-quota",
    "cpu-burst",
    "cpu-share",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "cpu-idle",
    "cpuset-cpus",
    "cpuset-mems",
    "memory",
    "memory-reservation",
    "memory-swap",
    "kernel-memory",
    "kernel-memory-tcp",
    "pids-limit",
    "l3-cache-schema",
    "mem-bw-schema",
    "stats",
    "interval",
    "process",
    "tty",
    "cwd",
    "env",
    "user",
    "additional-gids",
    "cap",
    "no-new-privs",
    "apparmor",
    "process-label",
    "cgroup",
    "ignore-paused",
    "image-path",
    "work-path",
    "parent-path",
    "leave-running",
    "tcp-established",
    "tcp-skip-in-flight",
    "link-remap",
    "ext-unix-sk",
    "shell-job",
    "lazy-pages",
    "status-fd",
    "page-server",
    "file-locks",
    "pre-dump",
    "manage-cgroups-mode",
    "empty-ns",
    "auto-dedup",
    "lsm-profile",
    "lsm-mount-context",
];

/// Flags that take no value: `--flag=true` becomes `--flag`, `--flag=false` disappears.
const BOOL_FLAGS: &[&str] = &[
    "debug",
    "systemd-cgroup",
    "no-pivot",
    "no-new-keyring",
    "detach",
    "keep",
    "no-subreaper",
    "all",
    "force",
    "quiet",
    "stats",
    "tty",
    "no-new-privs",
    "ignore-paused",
    "leave-running",
    "tcp-established",
    "tcp-skip-in-flight",
    "link-remap",
    "ext-unix-sk",
    "shell-job",
    "lazy-pages",
    "file-locks",
    "pre-dump",
    "auto-dedup",
];

/// Flags of `exec` and `ps` that take a value as the next argument: what comes after them is
/// not the container id.
const VALUE_FLAGS: &[&str] = &[
    "--root",
    "--log",
    "--log-format",
    "--criu",
    "--rootless",
    "--console-socket",
    "--cwd",
    "--env",
    "-e",
    "--user",
    "-u",
    "--additional-gids",
    "-g",
    "--process",
    "-p",
    "--pid-file",
    "--process-label",
    "--apparmor",
    "--cap",
    "-c",
    "--preserve-fds",
    "--cgroup",
    "--format",
    "-f",
];

/// Rewrite go-runc's argv into the GNU style clap parses. The command line that `exec` and `ps`
/// pass on (everything after the container id) is left as it is.
pub fn normalize(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut verbatim = false;
    let mut subcommand: Option<String> = None;
    for (i, a) in args.into_iter().enumerate() {
        if i == 0 || verbatim {
            out.push(a);
            continue;
        }
        if a == "--" {
            verbatim = true;
            out.push(a);
            continue;
        }
        let after_value_flag = out
            .last()
            .is_some_and(|p| VALUE_FLAGS.contains(&p.as_str()));
        if !a.starts_with('-') && !after_value_flag {
            match &subcommand {
                None => subcommand = Some(a.clone()),
                // The container id: for exec and ps, the rest is the user's command line.
                Some(c) if c == "exec" || c == "ps" => verbatim = true,
                Some(_) => {}
            }
            out.push(a);
            continue;
        }
        let long = if let Some(rest) = a.strip_prefix("--") {
            Some(rest.to_string())
        } else if let Some(rest) = a.strip_prefix('-') {
            let name = rest.split('=').next().unwrap_or("");
            LONG_FLAGS.contains(&name).then(|| rest.to_string())
        } else {
            None
        };
        match long {
            Some(flag) => match flag.split_once('=') {
                Some((name, v)) if BOOL_FLAGS.contains(&name) => match v {
                    "true" | "1" => out.push(format!("--{name}")),
                    "false" | "0" => {}
                    _ => out.push(format!("--{flag}")),
                },
                _ => out.push(format!("--{flag}")),
            },
            None => out.push(a),
        }
    }
    out
}

impl Cli {
    /// The state root: `--root`, else /run/husk for root and $XDG_RUNTIME_DIR/husk for any
    /// other user (as runc), who cannot write /run.
    pub fn state_root(&self) -> anyhow::Result<PathBuf> {
        if let Some(r) = &self.root {
            return Ok(r.clone());
        }
        if nix::unistd::geteuid().is_root() {
            return Ok(PathBuf::from("/run/husk"));
        }
        match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(d) if !d.is_empty() => Ok(PathBuf::from(d).join("husk")),
            _ => anyhow::bail!(
                "husk runs as uid {} and XDG_RUNTIME_DIR is not set: give a state directory \
                 this user can write with --root",
                nix::unistd::geteuid()
            ),
        }
    }
}

/// runc's help layout (urfave/cli's): scripts read its first lines, `NAME:` then
/// `<binary> - ...` or `<binary> <command> - ...`. The binary is named as it was invoked, so
/// that husk installed as `runc` says runc.
const HELP: &str = "NAME:\n   {name} - Open Container Initiative runtime\n\n{about}\n\n\
USAGE:\n   {usage}\n\nCOMMANDS:\n{subcommands}\n\nGLOBAL OPTIONS:\n{options}\n";
const COMMAND_HELP: &str = "NAME:\n   BIN CMD - {about}\n\nUSAGE:\n   {usage}\n\n{all-args}\n";

/// Parse `argv` (normalised) with runc's help layout; an unknown command is runc's "No help
/// topic" error.
pub fn parse(argv: Vec<String>) -> Result<Cli, clap::Error> {
    let name = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "husk".into());
    // clap names are 'static; this runs once per process.
    let name: &'static str = Box::leak(name.into_boxed_str());
    let command = Cli::command()
        .name(name)
        .bin_name(name)
        .help_template(HELP)
        .mut_subcommands(|c| {
            let template = COMMAND_HELP
                .replace("BIN", name)
                .replace("CMD", c.get_name());
            c.help_template(template)
        });
    let mut command = command;
    let matches = command.try_get_matches_from_mut(&argv).map_err(|e| {
        if e.kind() == clap::error::ErrorKind::InvalidSubcommand {
            // The word clap took for a command, wherever it stands (after global flags too).
            let topic = match e.get(clap::error::ContextKind::InvalidSubcommand) {
                Some(clap::error::ContextValue::String(s)) => s.clone(),
                _ => argv.get(1).cloned().unwrap_or_default(),
            };
            return command.error(
                clap::error::ErrorKind::InvalidSubcommand,
                format!("No help topic for '{topic}' (not a command of {name}; {name} --help lists them)"),
            );
        }
        e
    })?;
    Cli::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: &[&str]) -> Vec<String> {
        normalize(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn go_style_flags_become_gnu_style() {
        assert_eq!(
            n(&["husk", "-root", "/r", "run", "-no-subreaper", "x"]),
            ["husk", "--root", "/r", "run", "--no-subreaper", "x"]
        );
        assert_eq!(
            n(&["husk", "run", "--detach=true", "--keep=false", "x"]),
            ["husk", "run", "--detach", "x"]
        );
        assert_eq!(
            n(&["husk", "kill", "-a", "x", "-9"]),
            ["husk", "kill", "-a", "x", "-9"]
        );
        assert_eq!(
            n(&["husk", "--rootless=true", "list"]),
            ["husk", "--rootless=true", "list"]
        );
    }

    #[test]
    fn an_unknown_command_is_named_after_global_flags_too() {
        for argv in [
            &["husk", "foo", "-h"][..],
            &["husk", "--root", "/r", "foo", "-h"],
            &["husk", "--debug", "--log", "/l", "foo"],
        ] {
            let e = parse(n(argv)).unwrap_err().to_string();
            assert!(e.contains("No help topic for 'foo'"), "{argv:?}: {e}");
        }
    }

    #[test]
    fn the_command_after_the_id_is_left_alone() {
        assert_eq!(
            n(&["husk", "-root", "/r", "exec", "-tty", "-cwd", "/x", "c1", "ls", "-all"]),
            ["husk", "--root", "/r", "exec", "--tty", "--cwd", "/x", "c1", "ls", "-all"]
        );
        assert_eq!(
            n(&["husk", "ps", "-format", "json", "c1", "-detach"]),
            ["husk", "ps", "--format", "json", "c1", "-detach"]
        );
    }

    #[test]
    fn the_cli_parses_what_containerd_sends() {
        let argv = n(&[
            "husk",
            "--root",
            "/run/containerd/runc/default",
            "--log",
            "/b/log.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/b/init.pid",
            "--no-new-keyring",
            "id1",
        ]);
        let cli = Cli::try_parse_from(argv).unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        match cli.command {
            Some(Command::Create(c)) => {
                assert_eq!(c.id, "id1");
                assert!(c.no_new_keyring);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(n(&["husk", "kill", "--all", "id1", "9"])).unwrap();
        assert!(matches!(cli.command, Some(Command::Kill { all: true, .. })));
    }
}
