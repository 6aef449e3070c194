//! runc's command line, as clap definitions, and the argv normalisation that lets go-runc's
//! style through (`-no-subreaper`, `--rootless=true`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "husk",
    about = "An OCI container runtime, runc-compatible",
    disable_version_flag = true
)]
pub struct Cli {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = "/run/husk")]
    pub root: PathBuf,
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
    /// Path to criu (accepted and ignored, as clients pass it).
    #[arg(long, hide = true)]
    pub criu: Option<String>,
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
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container (a running one only with --force).
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// List containers.
    List {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Write a default config.json.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "pidfd-socket", hide = true)]
    pub pidfd_socket: Option<PathBuf>,
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
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
];

/// Rewrite go-runc's argv into the GNU style clap parses.
pub fn normalize(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut after_dashdash = false;
    for (i, a) in args.into_iter().enumerate() {
        if i == 0 || after_dashdash {
            out.push(a);
            continue;
        }
        if a == "--" {
            after_dashdash = true;
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
