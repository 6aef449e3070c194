//! `husk exec`: a new process in a running container, top to bottom.
//!
//! ```text
//! husk exec                    intermediate                        process
//!   open /proc/<init>/ns/*, root
//!   fork ──────────────────▶   (not dumpable)
//!   ◀───────────────── Hello
//!   cgroup += pid
//!   Proceed ──────────────▶    setns: user first, then the rest
//!                              chroot to the init's root
//!                              fork ──────────────────────────────▶
//!   ◀────────── InitPid{pid}   exit 0                               setsid, pty (Console+fd),
//!                                                                   rlimits, user, caps, cwd
//!   ◀──────────────────────────────────────────── EOF on exec, or Error
//!   pid file; wait (unless --detach) and return its exit code
//! ```
//! Like `create`, husk is single-threaded here, so the forked children may allocate and log.

use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use husk_cgroups::Cgroup;
use husk_spec::Status;
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::unistd::ForkResult;
use oci_spec::runtime::{LinuxNamespaceType, Process};

use crate::create::{check_terminal, write_pid_file, CreateOptions};
use crate::error::{fail, StepContext, SysError};
use crate::kill::ProcessGuard;
use crate::process::ExecPlan;
use crate::seccomp::{connect_listener, SeccompPlan};
use crate::state::Store;
use crate::sync::{self, Channel, ToChild, ToParent, Until};
use crate::{namespaces, rlimits, sys, terminal, Error};

/// The flags of `husk exec`, with the process already built from `--process` or the
/// command line.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub id: String,
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// `--pidfd-socket`: where a pidfd of the process goes (runc 1.2).
    pub pidfd_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    /// `--cgroup`: a sub-cgroup of the container's (`path`, or `controller[,controller]:path`).
    pub sub_cgroups: Vec<String>,
    /// `--ignore-paused`: exec into a paused container (the process waits, frozen, until the
    /// container is resumed).
    pub ignore_paused: bool,
}

/// The started process: its host pid, and the pty master when husk keeps it.
#[derive(Debug)]
pub struct Executed {
    pub pid: i32,
    pub console: Option<OwnedFd>,
}

/// The proc name of each namespace type, in the order they are joined: the user namespace
/// first (it grants the rights to join the others), the mount namespace last.
const JOIN_ORDER: &[(LinuxNamespaceType, &str)] = &[
    (LinuxNamespaceType::User, "user"),
    (LinuxNamespaceType::Ipc, "ipc"),
    (LinuxNamespaceType::Uts, "uts"),
    (LinuxNamespaceType::Network, "net"),
    (LinuxNamespaceType::Pid, "pid"),
    (LinuxNamespaceType::Cgroup, "cgroup"),
    (LinuxNamespaceType::Time, "time"),
    (LinuxNamespaceType::Mount, "mnt"),
];

/// What the forked side needs, opened by the parent while the init is pinned.
struct Target {
    namespaces: Vec<(CloneFlags, &'static str, OwnedFd)>,
    root: OwnedFd,
}

pub fn exec(store: &Store, opts: &ExecOptions) -> Result<Executed, Error> {
    let dir = store.open(&opts.id)?;
    let stored = dir.load()?;
    let status = dir.status(&stored);
    // exec changes nothing in the state: the lock goes now, so that `resume` of a container
    // exec'd into with --ignore-paused (whose new process waits frozen) is not held up, and a
    // long exec does not hold up other commands (runc locks nothing across an exec either).
    drop(dir);
    check_status(status, opts)?;
    check_process(&stored.config, &opts.process)?;
    check_terminal(
        opts.process.terminal().unwrap_or(false),
        &CreateOptions {
            foreground: !opts.detach,
            console_socket: opts.console_socket.clone(),
            ..CreateOptions::default()
        },
    )?;
    let cgroup = match &stored.cgroup {
        Some(cg) => Some(sub_cgroup(cg, &opts.sub_cgroups)?),
        None => None,
    };
    let target = pinned_target(&stored, opts)?;
    // Read now: the forked side cannot read the container's config files once inside.
    let plan = ExecPlan::from_process(&opts.process)?;
    plan.caps.warn_unraisable_ambient();
    fork_and_join(
        opts,
        &stored.public(status),
        &stored.config,
        target,
        plan,
        cgroup.as_ref(),
    )
}

fn check_status(status: Status, opts: &ExecOptions) -> Result<(), Error> {
    let why = match status {
        Status::Created | Status::Running => return Ok(()),
        Status::Paused if opts.ignore_paused => return Ok(()),
        Status::Paused => "cannot exec in a paused container (resume it first, or --ignore-paused)",
        _ => "cannot exec in a stopped container: container not running",
    };
    Err(Error::CannotExec {
        id: opts.id.clone(),
        why,
    })
}

/// The init pinned by a pidfd while its namespaces and root are opened, then checked to be
/// still the container's init.
fn pinned_target(stored: &crate::state::Stored, opts: &ExecOptions) -> Result<Target, Error> {
    let pidfd = sys::pidfd_open(stored.pid).step(|| format!("pidfd_open({})", stored.pid))?;
    let target = open_target(&stored.config, stored.pid)?;
    if !crate::process_info::is_alive(stored.pid, stored.pid_start) {
        return Err(Error::CannotExec {
            id: opts.id.clone(),
            why: "cannot exec in a stopped container: its init exited",
        });
    }
    drop(pidfd);
    Ok(target)
}

/// Fork the intermediate (born in the cgroup on v2, see create.rs; moved there after Hello
/// elsewhere), which joins and forks the process; husk's side follows it. The container's
/// seccomp filter applies to every process in it: compiled, and its agent reached, here.
fn fork_and_join(
    opts: &ExecOptions,
    container: &husk_spec::ContainerState,
    config: &oci_spec::runtime::Spec,
    target: Target,
    plan: ExecPlan,
    cgroup: Option<&Cgroup>,
) -> Result<Executed, Error> {
    let no_linux = oci_spec::runtime::Linux::default();
    let linux = config.linux().as_ref().unwrap_or(&no_linux);
    let seccomp = linux
        .seccomp()
        .as_ref()
        .map(SeccompPlan::compile)
        .transpose()?;
    let listener = match seccomp.as_ref().and_then(|p| p.listener.as_ref()) {
        Some(l) if seccomp.as_ref().is_some_and(|p| p.notify) => Some(connect_listener(l)?),
        _ => None,
    };
    let filter = Filter {
        linux,
        plan: seccomp.as_ref(),
        listener: listener.as_ref(),
        state: container,
    };
    let (parent, child) = sync::pair()?;
    let (forked, placed) = crate::create::fork_in_cgroup(cgroup)?;
    let intermediate = match forked {
        ForkResult::Child => {
            drop(parent);
            intermediate_side(
                &child,
                &target,
                &opts.process,
                plan,
                &filter,
                opts.preserve_fds,
            )
        }
        ForkResult::Parent { child: pid } => ProcessGuard::own_child(pid),
    };
    drop(child);
    drop(target);
    drop(listener); // the process holds the agent's socket now
    let join = if placed { None } else { cgroup };
    parent_side(&parent, intermediate, join, opts).map_err(Error::of_exec)
}

/// husk's side: the cgroup, the pid, the terminal, the pidfd and pid file. Any failure
/// kills what was forked (the guards).
fn parent_side(
    parent: &Channel,
    intermediate: ProcessGuard,
    cgroup: Option<&Cgroup>,
    opts: &ExecOptions,
) -> Result<Executed, Error> {
    parent.expect_hello()?;
    tracing::debug!("exec: joined the container's namespaces");
    if let Some(cg) = cgroup {
        cg.add_pid(intermediate.pid())?;
        tracing::debug!("exec: joined the container's cgroup");
    }
    parent.to_child(&ToChild::Proceed)?;
    let pid = parent.receive_pid()?;
    tracing::debug!("exec: the process is pid {pid}, about to exec");
    let process = ProcessGuard::grandchild(pid);
    intermediate.reap()?;
    let master = parent.receive_console_until(Until::Exec)?;
    tracing::debug!("exec: pid {pid} exec'd");
    let console = match (master, &opts.console_socket) {
        (Some(master), Some(socket)) => {
            terminal::send_to_console_socket(socket, master.as_fd())?;
            None
        }
        (master, _) => master,
    };
    if let Some(socket) = &opts.pidfd_socket {
        crate::fd_socket::send_pidfd(socket, pid, crate::fd_socket::PidfdOf::Exec)?;
    }
    if let Some(pid_file) = &opts.pid_file {
        write_pid_file(pid_file, pid)?;
    }
    let pid = process.disarm();
    Ok(Executed { pid, console })
}

/// The process must fit the container it joins: validated as part of its config.
fn check_process(config: &oci_spec::runtime::Spec, process: &Process) -> Result<(), Error> {
    let mut spec = config.clone();
    spec.set_process(Some(process.clone()));
    husk_spec::validate::validate(&spec).map_err(Error::BadProcess)?;
    crate::lsm::refuse_process_labels(process).map_err(Error::Lsm)
}

/// `--cgroup`: the container's cgroup, or a sub-cgroup of it in the named controllers'
/// hierarchies (all of them when no controller is named). The sub-cgroup must exist.
fn sub_cgroup(cg: &Cgroup, specs: &[String]) -> Result<Cgroup, Error> {
    let mut out = cg.clone();
    for spec in specs {
        let (controllers, path) = match spec.split_once(':') {
            Some((c, p)) => (c.split(',').map(str::to_string).collect::<Vec<_>>(), p),
            None => (vec![], spec.as_str()),
        };
        let rel = std::path::Path::new(path.trim_start_matches('/'));
        if rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(Error::BadCgroup(format!(
                "--cgroup {spec:?}: bad sub cgroup path: {path} is not a sub cgroup path (it must \
                 stay inside the container's cgroup)"
            )));
        }
        let mut matched = controllers.is_empty();
        for h in &mut out.hierarchies {
            let wanted = controllers.is_empty()
                || controllers
                    .iter()
                    .any(|c| h.controllers.contains(c) || (h.v2 && h.has(c)));
            if !wanted {
                continue;
            }
            matched = true;
            let sub = h.rel.join(rel);
            if !h.mount.join(&sub).is_dir() {
                return Err(Error::BadCgroup(format!(
                    "--cgroup {spec:?}: adding pid to {}/cgroup.procs: no such file or directory",
                    h.mount.join(&sub).display()
                )));
            }
            h.rel = sub;
        }
        if !matched {
            return Err(Error::BadCgroup(format!(
                "--cgroup {spec:?}: unknown controller {:?}: the container has no such controller",
                controllers.join(",")
            )));
        }
    }
    Ok(out)
}

/// Open the init's namespaces (those the config gives the container) and its root.
fn open_target(config: &oci_spec::runtime::Spec, pid: i32) -> Result<Target, Error> {
    let listed: Vec<LinuxNamespaceType> = config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
        .iter()
        .map(|n| n.typ())
        .collect();
    let mut namespaces = Vec::new();
    for (typ, name) in JOIN_ORDER {
        // CRIU restores a container into a time namespace of its own (so that its monotonic
        // clocks go on where they were) even when the config lists none: the time namespace
        // is the init's, whatever the config says, so that a restored container's exec'd
        // process can be checkpointed with it.
        if !listed.contains(typ) && *typ != LinuxNamespaceType::Time {
            continue;
        }
        let path = format!("/proc/{pid}/ns/{name}");
        let fd = std::fs::File::open(&path).step(|| format!("opening {path}"))?;
        // Joining one's own user namespace is an error (EINVAL); the others are no-ops.
        let own = std::fs::metadata(format!("/proc/self/ns/{name}")).ok();
        let theirs = fd.metadata().ok();
        if let (Some(a), Some(b)) = (own, theirs) {
            use std::os::unix::fs::MetadataExt;
            if a.ino() == b.ino() && a.dev() == b.dev() {
                continue;
            }
        }
        namespaces.push((namespaces::flag(*typ), *name, OwnedFd::from(fd)));
    }
    let root_path = format!("/proc/{pid}/root");
    let root = sys::openat(
        crate::resolve::cwd(),
        &crate::error::c_string(&root_path, root_path.clone())?,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .step(|| format!("opening {root_path}"))?;
    Ok(Target { namespaces, root })
}

/// Report `err` to the parent and exit (the forked side's way out).
fn die(channel: &Channel, err: impl std::fmt::Display) -> ! {
    let _ = channel.to_parent(&ToParent::Error {
        message: err.to_string(),
    });
    sys::exit_now(1)
}

/// What an exec'd process takes from the container's config beyond its own process: the
/// personality, the seccomp filter, its agent's socket and the state to send the agent.
struct Filter<'a> {
    /// The container's `linux` (personality, memory policy).
    linux: &'a oci_spec::runtime::Linux,
    plan: Option<&'a SeccompPlan>,
    listener: Option<&'a std::os::unix::net::UnixStream>,
    state: &'a husk_spec::ContainerState,
}

impl Filter<'_> {
    fn install(&self, pid: i32) -> Result<(), SysError> {
        match self.plan {
            Some(plan) => crate::seccomp::install(plan, self.listener, self.state, pid),
            None => Ok(()),
        }
    }
}

fn intermediate_side(
    channel: &Channel,
    target: &Target,
    process: &Process,
    plan: ExecPlan,
    filter: &Filter<'_>,
    preserve_fds: u32,
) -> ! {
    crate::inherited_fds::close_in_child(preserve_fds);
    // execCPUAffinity.initial, before the process joins the container's cgroup; otherwise
    // every CPU, not the affinity of whoever ran husk.
    match process
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.initial().clone())
    {
        Some(cpus) => {
            tracing::debug!(
                "exec: CPU affinity {:#x} ({cpus}) until the container's cgroup is joined",
                crate::cpu_affinity::mask_of(&cpus)
            );
            if let Err(e) = crate::cpu_affinity::set(&cpus, "process.execCPUAffinity.initial") {
                die(channel, e);
            }
        }
        None => crate::cpu_affinity::reset(),
    }
    let enter = || -> Result<(), SysError> {
        // Not dumpable: nothing in the container may open /proc/<pid>/exe or our fds while we
        // are inside (CVE-2019-5736); exec resets it.
        nix::sys::prctl::set_dumpable(false).step(|| "prctl(PR_SET_DUMPABLE)")?;
        channel
            .to_parent(&ToParent::Hello)
            .map_err(|e| fail("sync", e))?;
        channel.expect_proceed().map_err(|e| fail("sync", e))?;
        for (flag, name, fd) in &target.namespaces {
            setns(fd, *flag).step(|| format!("joining the container's {name} namespace"))?;
        }
        // The init's root, whether it got there by pivot_root or (--no-pivot) by chroot.
        nix::unistd::fchdir(target.root.as_raw_fd()).step(|| "entering the container's root")?;
        nix::unistd::chroot(".").step(|| "chroot to the container's root")?;
        Ok(())
    };
    if let Err(e) = enter() {
        die(channel, e);
    }
    // The process learns its host pid (for the seccomp agent) through this pipe: in a pid
    // namespace it cannot see it itself.
    let (pid_r, pid_w) = match nix::unistd::pipe() {
        Ok(p) => p,
        Err(e) => die(channel, fail("pipe", e)),
    };
    match sys::fork_sibling() {
        Err(e) => die(channel, fail("forking the process", e)),
        Ok(ForkResult::Child) => {
            drop(pid_w);
            let mut buf = [0u8; 4];
            let host_pid = match nix::unistd::read(pid_r.as_raw_fd(), &mut buf) {
                Ok(4) => i32::from_ne_bytes(buf),
                _ => 0,
            };
            drop(pid_r);
            match process_side(channel, process, plan, filter, host_pid, preserve_fds) {
                Ok(never) => match never {},
                Err(e) => die(channel, e),
            }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(pid_r);
            let _ = nix::unistd::write(&pid_w, &sys::raw(child).to_ne_bytes());
            drop(pid_w);
            let _ = channel.to_parent(&ToParent::InitPid {
                pid: sys::raw(child),
            });
            sys::exit_now(0)
        }
    }
}

/// The process itself, inside every namespace: terminal, limits, identity, exec.
fn process_side(
    channel: &Channel,
    process: &Process,
    mut plan: ExecPlan,
    filter: &Filter<'_>,
    host_pid: i32,
    preserve_fds: u32,
) -> Result<Infallible, SysError> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .step(|| "resetting the signal mask")?;
    sys::default_signal_dispositions().step(|| "resetting signal dispositions")?;
    nix::unistd::setsid().step(|| "setsid")?;
    nix::unistd::chdir("/").step(|| "chdir /")?;
    if process.terminal().unwrap_or(false) {
        let pty = terminal::open_pty(process)?;
        channel
            .to_parent_with_fd(&ToParent::Console, pty.master.as_fd())
            .map_err(|e| fail("sending the pty master", e))?;
        terminal::become_controlling(&pty.slave)?;
    }
    rlimits::apply(process.rlimits().as_deref().unwrap_or_default())?;
    plan.finish_env();
    let exe = plan.find_executable()?;
    let cwd = plan.open_cwd()?;
    let in_cwd = plan.enter_cwd_early(&cwd)?;
    crate::process::apply_scheduling(process, filter.linux)?;
    // execCPUAffinity.final, now that the process is in the container's cgroup.
    if let Some(cpus) = process
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.cpu_affinity_final().clone())
    {
        crate::cpu_affinity::set(&cpus, "process.execCPUAffinity.final")?;
    }
    sys::cloexec_from(3 + preserve_fds).step(|| "marking fds close-on-exec")?;
    if !plan.no_new_privs {
        filter.install(host_pid)?;
    }
    plan.become_user()?;
    if !in_cwd {
        plan.enter_cwd_as_user(&cwd)?;
    }
    plan.apply_umask();
    if plan.no_new_privs {
        filter.install(host_pid)?;
    }
    // The process joining runs from husk's sealed copy already (the CLI re-executed it).
    Err(plan.exec(&exe, None))
}
