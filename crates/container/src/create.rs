//! `husk create`: from a bundle to a container waiting for `start`, top to bottom.
//! On any failure everything made so far is undone (see `Cleanup`): no state directory,
//! cgroup or process is left behind.

use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use husk_cgroups::Cgroup;
use husk_spec::{Bundle, ContainerState, Status};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::Spec;

use crate::crash_point::stage;
use crate::error::StepContext;
use crate::exec_stub::ExecStub;
use crate::fd_socket::PidfdOf;
use crate::idmapped_mounts::{ContainerUserns, MountSources};
use crate::init::{self, InitArgs};
use crate::namespaces::{self, NamespacePlan};
use crate::seccomp::{connect_listener, SeccompPlan};
use crate::state::{owner_of, ContainerDir, Creator, Store, Stored};
use crate::sync::{self, ToChild, ToParent};
use crate::{hooks, kill, process_info, rootless, sealed_exe, sys, terminal, Error};

/// The flags of `husk create` (and `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// `--pidfd-socket`: where a pidfd of the init goes (runc 1.2).
    pub pidfd_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Socket-activation fds husk was given (LISTEN_FDS for husk's own pid): passed on at fd
    /// 3 onward, before the `--preserve-fds` ones, with LISTEN_FDS/LISTEN_PID=1 in the
    /// process's environment, as runc does.
    pub listen_fds: u32,
    /// `run` without --detach: husk stays and may hold the terminal itself.
    pub foreground: bool,
    /// `--systemd-cgroup`: the cgroup is a transient systemd scope (husk_cgroups::systemd).
    pub systemd_cgroup: bool,
}

/// What `create` made: the init's host pid, and the pty master when husk keeps it (a
/// foreground `run` with `process.terminal` and no --console-socket).
#[derive(Debug)]
pub struct Created {
    pub pid: i32,
    pub console: Option<OwnedFd>,
}

/// Create the container.
pub fn create(store: &Store, opts: &CreateOptions) -> Result<Created, Error> {
    crate::state::validate_id(&opts.id)?;
    let mut bundle = Bundle::load(&opts.bundle)?;
    let use_exec_stub = protect_husk_binary(&bundle.spec)?;
    if opts.listen_fds > 0 {
        if let Some(p) = bundle.spec.process_mut() {
            let mut env = p.env().clone().unwrap_or_default();
            env.push(format!("LISTEN_FDS={}", opts.listen_fds));
            env.push("LISTEN_PID=1".into());
            p.set_env(Some(env));
        }
    }
    for w in &bundle.warnings {
        tracing::warn!("{w}");
    }
    stage("bundle-loaded");
    check_supported(&bundle.spec, opts)?;
    warn_unraisable_ambient(&bundle.spec);
    let linux = bundle.spec.linux().as_ref().expect("validated");
    let plan = NamespacePlan::from_linux(linux);
    let rootless = rootless::is_rootless();
    if rootless && opts.systemd_cgroup {
        return Err(Error::Rootless(
            "--systemd-cgroup: husk does not drive the user's own systemd instance; run \
             without --systemd-cgroup (a delegated cgroup husk runs in is used)"
                .into(),
        ));
    }
    let rootless_maps = if rootless {
        rootless::check(&bundle.spec, &plan)?
    } else {
        None
    };

    // The filter is compiled, and the seccomp agent reached, before anything is made.
    let seccomp = linux
        .seccomp()
        .as_ref()
        .map(SeccompPlan::compile)
        .transpose()?;
    if let Some(plan) = &seccomp {
        tracing::debug!("seccomp filter flags: {}", plan.flags);
    }
    let seccomp_listener = match seccomp.as_ref().and_then(|p| p.listener.as_ref()) {
        Some(l) if seccomp.as_ref().is_some_and(|p| p.notify) => Some(connect_listener(l)?),
        _ => None,
    };

    let dir = store.create(&opts.id)?;
    let mut cleanup = Cleanup::new(&dir);
    // What is made is recorded as it is made, so that a husk killed at any point leaves a
    // state `delete` can clean up from (see crash_point.rs).
    let mut stored = Stored {
        id: opts.id.clone(),
        pid: 0,
        pid_start: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: husk_spec::time::now_rfc3339_nanos(),
        owner: owner_of(&dir.path),
        config: bundle.spec.clone(),
        cgroup: None,
        creating: Creator::me(),
        host_mounts_on_rootfs: (!plan.has_own_mount_namespace())
            .then(|| crate::rootfs::mounts_on(&bundle.rootfs)),
    };
    dir.save(&stored)?;
    stage("state-dir");

    // The start gate, and the cgroup.
    let fifo_path = dir.fifo();
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .step(|| format!("mkfifo {}", fifo_path.display()))?;
    // Writable by the container's root even when a user namespace maps it to another uid;
    // mkfifo applied husk's umask, so set the mode explicitly.
    std::fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .step(|| format!("chmod {}", fifo_path.display()))?;
    let fifo = sys::openat(
        crate::resolve::cwd(),
        &std::ffi::CString::new(fifo_path.as_os_str().as_encoded_bytes()).unwrap_or_default(),
        libc::O_PATH,
        0,
    )
    .step(|| format!("opening {}", fifo_path.display()))?;
    let mut cgroup = make_cgroup(linux, opts, rootless, &dir, &mut stored)?;
    // Without a cgroup of its own (rootless), a cgroup mount shows the ones husk is in, as
    // runc's does.
    let shown_cgroup = match &cgroup {
        None if rootless => Cgroup::of_this_process().ok(),
        _ => None,
    };
    cleanup.cgroup = cgroup.clone();
    // Limits are in place before any process joins the cgroup. A systemd scope only exists
    // once it has a process: it is limited as soon as the intermediate is in it, below.
    if let Some(cg) = cgroup.as_ref().filter(|cg| cg.systemd.is_none()) {
        limit(cg, &bundle.spec, rootless)?;
    }
    stage("cgroup");

    // Fork the intermediate; it forks the init. Nothing below runs in another thread.
    let (parent, child) = sync::pair()?;
    // On cgroup v2 the intermediate is born in the container's cgroup (no cgroup.procs
    // write, which costs an RCU grace period); elsewhere it is moved there after Hello.
    // A systemd scope is made around the intermediate once it exists.
    let (forked, placed) = fork_in_cgroup(cgroup.as_ref().filter(|cg| cg.systemd.is_none()))?;
    let intermediate = match forked {
        ForkResult::Child => {
            drop(parent);
            init::intermediate(InitArgs {
                id: &opts.id,
                bundle: &bundle,
                plan: &plan,
                cgroup: cgroup.as_ref().or(shown_cgroup.as_ref()),
                channel: child,
                fifo,
                no_pivot: opts.no_pivot,
                no_new_keyring: opts.no_new_keyring,
                preserve_fds: opts.listen_fds + opts.preserve_fds,
                seccomp: seccomp.as_ref(),
                seccomp_listener: seccomp_listener.as_ref(),
                state_lock: dir.lock_fd(),
                rootless,
                use_exec_stub,
            })
        }
        ForkResult::Parent { child: pid } => pid,
    };
    drop(child);
    drop(seccomp_listener); // the init holds it now
    cleanup.intermediate = Some(intermediate);
    stage("forked");

    expect(&parent, "Hello", |m| matches!(m, ToParent::Hello))?;
    match &mut cgroup {
        Some(cg) if cg.systemd.is_some() => {
            // The intermediate waits on the socket: nothing of the container runs until the
            // scope is made and limited.
            cg.start_unit(intermediate.as_raw())?;
            stored.cgroup = Some(cg.clone());
            cleanup.cgroup = Some(cg.clone());
            dir.save(&stored)?;
            limit(cg, &bundle.spec, rootless)?;
        }
        Some(cg) if !placed => cg.add_pid(intermediate.as_raw())?,
        _ => {}
    }
    match rootless_maps {
        Some(writers) => rootless::write_id_maps(intermediate.as_raw(), linux, writers)?,
        None if plan.new_user => namespaces::write_id_maps(intermediate.as_raw(), linux)?,
        None => {}
    }
    // Idmapped mounts are made here, on the host, now that the user namespace exists.
    let userns = if plan.new_user {
        ContainerUserns::Of(intermediate.as_raw())
    } else if let Some((_, p)) = plan
        .join
        .iter()
        .find(|(f, _)| *f == CloneFlags::CLONE_NEWUSER)
    {
        ContainerUserns::Path(p.clone())
    } else {
        ContainerUserns::None
    };
    let mut sources = MountSources::new(&bundle.spec, &bundle.dir, &userns)?;
    stage("mapped");
    parent.to_child(&ToChild::Proceed)?;
    // The intermediate reports the init's pid; the init, on the same socket, asks for mount
    // sources while it mounts and for the runtime hooks once its mounts are done. The init
    // does not wait for the intermediate, so on a busy machine its requests can come first:
    // take them in any order.
    let mut hooks_requested = false;
    let pid = loop {
        match next_from_init(&parent, &mut sources)? {
            ToParent::InitPid { pid } => break pid,
            ToParent::RunHooks if !hooks_requested => hooks_requested = true,
            ToParent::Error { message } => return Err(Error::Init(message)),
            other => {
                return Err(Error::Init(format!(
                    "expected the init's pid, got {other:?}"
                )))
            }
        }
    };
    cleanup.init = Some(pid);
    if let Some(cg) = &cgroup {
        limit_pids(cg, &bundle.spec)?;
    }
    stored.pid = pid;
    // A zombie still has its start time: an init that failed is waited for below, where its
    // own error message arrives.
    stored.pid_start = process_info::start_time(pid)
        .ok_or_else(|| Error::Init("the init exited during create".into()))?;
    dir.save(&stored)?;
    stage("init-pid");
    if let Some(adj) = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.oom_score_adj())
    {
        // Set from here, as runc does: the init's value is inherited by what it execs.
        let path = format!("/proc/{pid}/oom_score_adj");
        fs::write(&path, adj.to_string())
            .step(|| format!("process.oomScoreAdj: writing {adj} to {path}"))?;
    }
    reap_intermediate(intermediate)?;
    cleanup.intermediate = None;

    // The init has built the container's world up to pivot_root; the runtime's hooks now.
    if !hooks_requested {
        match next_from_init(&parent, &mut sources) {
            Ok(ToParent::RunHooks) => {}
            Ok(ToParent::Error { message }) => return Err(Error::Init(message)),
            Ok(other) => return Err(Error::Init(format!("expected RunHooks, got {other:?}"))),
            Err(Error::Sync(sync::SyncError::Closed)) => {
                return Err(Error::Init("exited before RunHooks".into()))
            }
            Err(e) => return Err(e),
        }
    }
    drop(sources);
    let creating = stored.public(Status::Creating);
    if let Err(e) = run_runtime_hooks(&bundle.spec, &creating) {
        let _ = parent.to_child(&ToChild::Error {
            message: e.to_string(),
        });
        return Err(e.into());
    }
    parent.to_child(&ToChild::HooksDone { state: creating })?;
    stage("hooks-done");
    let mut console = None;
    loop {
        match parent.from_child_with_fd() {
            Ok((ToParent::Console, Some(master))) if console.is_none() => {
                match &opts.console_socket {
                    Some(socket) => terminal::send_to_console_socket(socket, master.as_fd())?,
                    None => console = Some(terminal::kept_by_husk(master)),
                }
            }
            Ok((ToParent::Ready, _)) => break,
            Ok((ToParent::Error { message }, _)) => return Err(Error::Init(message)),
            Ok((other, _)) => return Err(Error::Init(format!("expected Ready, got {other:?}"))),
            Err(sync::SyncError::Closed) => return Err(Error::Init("exited before Ready".into())),
            Err(e) => return Err(e.into()),
        }
    }

    stage("ready");
    stored.created = husk_spec::time::now_rfc3339_nanos();
    stored.creating = None;
    dir.save(&stored)?;
    stage("saved");
    if let Some(socket) = &opts.pidfd_socket {
        crate::fd_socket::send_pidfd(socket, pid, PidfdOf::Init)?;
    }
    if let Some(pid_file) = &opts.pid_file {
        write_pid_file(pid_file, pid)?;
    }
    cleanup.disarm();
    Ok(Created { pid, console })
}

/// The container's cgroup, recorded in its state (with the levels it will make) before it is
/// made, then made: whenever husk is killed, `delete` knows every directory husk may have
/// created. Rootless, a cgroup husk may not make is done without (rootless::without_cgroup).
fn make_cgroup(
    linux: &oci_spec::runtime::Linux,
    opts: &CreateOptions,
    rootless: bool,
    dir: &ContainerDir,
    stored: &mut Stored,
) -> Result<Option<Cgroup>, Error> {
    let path = linux.cgroups_path().as_deref();
    let mut cgroup = if opts.systemd_cgroup {
        Cgroup::resolve_systemd(path, &opts.id)?
    } else {
        Cgroup::resolve(path, &opts.id)?
    };
    cgroup.claim_missing_levels();
    stored.cgroup = Some(cgroup.clone());
    dir.save(stored)?;
    stored.cgroup = match cgroup.create() {
        Ok(()) => Some(cgroup),
        Err(e) if rootless && e.is_permission_denied() => {
            rootless::without_cgroup(linux, &e)?;
            None
        }
        Err(e) => {
            stored.cgroup = None;
            dir.save(stored)?;
            return Err(e.into());
        }
    };
    dir.save(stored)?;
    Ok(stored.cgroup.clone())
}

/// CVE-2019-5736 (exec_stub.rs, sealed_exe.rs): no process in the container may run the husk
/// binary. With a pid namespace of its own, the container's init is alone in it until it
/// execs, and it execs through a sealed stub it makes when it needs it (true here: the stub
/// can be made). Otherwise, or when the stub cannot be made, husk re-executes itself from a
/// sealed copy now, before anything is made (and returns false once it runs from it).
fn protect_husk_binary(spec: &Spec) -> Result<bool, Error> {
    let own_pid_namespace = spec
        .linux()
        .as_ref()
        .is_some_and(|l| NamespacePlan::from_linux(l).creates(CloneFlags::CLONE_NEWPID));
    if own_pid_namespace && !sealed_exe::running_from_sealed_copy() && ExecStub::can_make() {
        tracing::debug!("CVE-2019-5736: the container's process is exec'd through the sealed stub");
        return Ok(true);
    }
    sealed_exe::reexec_from_sealed_copy()?;
    Ok(false)
}

/// Fork, the child born in `cgroup` when the host allows it (cgroup v2: clone3 with
/// CLONE_INTO_CGROUP). The bool says whether it was; if not, the caller moves the child there.
/// husk is single-threaded here (see sys::fork).
pub(crate) fn fork_in_cgroup(cgroup: Option<&Cgroup>) -> Result<(ForkResult, bool), Error> {
    if let Some(dir) = cgroup.and_then(|c| c.clone_target()) {
        if let Some(f) = sys::fork_into_cgroup(dir.as_fd()).step(|| "forking into the cgroup")? {
            return Ok((f, true));
        }
    }
    Ok((sys::fork().step(|| "forking")?, false))
}

/// What husk cannot do yet is refused by name before anything is made.
fn check_supported(spec: &Spec, opts: &CreateOptions) -> Result<(), Error> {
    let process = spec.process().as_ref().expect("validated");
    check_terminal(process.terminal().unwrap_or(false), opts)?;
    crate::lsm::refuse_labels(spec).map_err(Error::Lsm)?;
    let linux = spec.linux().as_ref().expect("validated");
    if linux.intel_rdt().is_some() {
        // The spec makes an unusable intelRdt an error; husk has no resctrl support at all.
        return Err(Error::Unsupported(
            "linux.intelRdt: husk does not implement Intel RDT (resctrl); remove it from the \
             config"
                .into(),
        ));
    }
    Ok(())
}

fn warn_unraisable_ambient(spec: &Spec) {
    let caps = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref());
    if let Ok(plan) = crate::capabilities::CapPlan::from_spec(caps) {
        plan.warn_unraisable_ambient();
    }
}

/// runc's rules for where a terminal's master goes: a detached container needs a socket to
/// send it to; a socket is only for a detached container with a terminal.
pub fn check_terminal(terminal: bool, opts: &CreateOptions) -> Result<(), Error> {
    if terminal && !opts.foreground && opts.console_socket.is_none() {
        return Err(Error::Terminal(
            "process.terminal is true but no --console-socket was given: \
             cannot allocate a tty when husk detaches without a console socket",
        ));
    }
    if opts.console_socket.is_some() && (opts.foreground || !terminal) {
        return Err(Error::Terminal(
            "--console-socket given, but the process has no terminal (process.terminal: false) \
             or husk does not detach: cannot use a console socket",
        ));
    }
    Ok(())
}

/// The container's limits: the device list, then `linux.resources`. A device cgroup takes
/// CAP_SYS_ADMIN on the host (v1 lists, v2 eBPF): rootless, in a delegated cgroup, the
/// container only has the host's nodes, bind-mounted.
/// Every limit but the pids one, which waits for the init (limit_pids).
fn limit(cgroup: &Cgroup, spec: &Spec, rootless: bool) -> Result<(), Error> {
    if !rootless {
        apply_devices(cgroup, spec)?;
    }
    if let Some(resources) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
        let mut without_pids = resources.clone();
        without_pids.set_pids(None);
        husk_cgroups::apply_resources(cgroup, &without_pids, false)?;
    }
    Ok(())
}

/// `linux.resources.pids`, once the init exists: for a moment the cgroup holds both the
/// intermediate and the init, so a limit of 1 (runc's reading of 0) set earlier would stop
/// the init from being forked. runc also sets its limits after its init is in the cgroup.
fn limit_pids(cgroup: &Cgroup, spec: &Spec) -> Result<(), Error> {
    let pids = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| *r.pids());
    if let Some(pids) = pids {
        let mut only_pids = oci_spec::runtime::LinuxResources::default();
        only_pids.set_pids(Some(pids));
        husk_cgroups::apply_resources(cgroup, &only_pids, false)?;
    }
    Ok(())
}

/// The device cgroup: the config's rules and runc's default allowances
/// (husk_cgroups::container_device_rules).
fn apply_devices(cgroup: &Cgroup, spec: &Spec) -> Result<(), Error> {
    let config = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone())
        .unwrap_or_default();
    cgroup.apply_devices(&husk_cgroups::container_device_rules(&config))?;
    Ok(())
}

#[allow(deprecated)] // prestart is deprecated in the spec but still MUST run
fn run_runtime_hooks(spec: &Spec, state: &ContainerState) -> Result<(), hooks::HookError> {
    let Some(h) = spec.hooks() else { return Ok(()) };
    hooks::run(
        "prestart",
        h.prestart().as_deref().unwrap_or_default(),
        state,
        None,
        None,
    )?;
    hooks::run(
        "createRuntime",
        h.create_runtime().as_deref().unwrap_or_default(),
        state,
        None,
        None,
    )
}

/// The init's next message other than a mount-source request; those are answered on the way
/// (idmapped_mounts.rs).
fn next_from_init(parent: &sync::Channel, sources: &mut MountSources) -> Result<ToParent, Error> {
    loop {
        match parent.from_child_with_fd()? {
            (ToParent::MountSource { index }, Some(mntns)) => {
                match sources.open(index, mntns.as_fd()) {
                    Ok(fd) => {
                        parent.to_child_with_fd(&ToChild::MountSource { index }, fd.as_fd())?
                    }
                    Err(e) => {
                        let message = e.to_string();
                        let _ = parent.to_child(&ToChild::Error { message });
                        return Err(e.into());
                    }
                }
            }
            (msg, _) => return Ok(msg),
        }
    }
}

fn expect(
    ch: &sync::Channel,
    what: &'static str,
    ok: impl Fn(&ToParent) -> bool,
) -> Result<(), Error> {
    match ch.from_child() {
        Ok(m) if ok(&m) => Ok(()),
        Ok(ToParent::Error { message }) => Err(Error::Init(message)),
        Ok(other) => Err(Error::Init(format!("expected {what}, got {other:?}"))),
        Err(sync::SyncError::Closed) => Err(Error::Init(format!("exited before {what}"))),
        Err(e) => Err(e.into()),
    }
}

fn reap_intermediate(pid: Pid) -> Result<(), Error> {
    match waitpid(pid, None) {
        Ok(WaitStatus::Exited(_, 0)) => Ok(()),
        Ok(other) => Err(Error::Init(format!(
            "intermediate process ended with {other:?}"
        ))),
        Err(e) => Err(e)
            .step(|| "waiting for the intermediate process")
            .map_err(Error::from),
    }
}

/// The pid, written atomically (a temporary file renamed into place) as clients expect.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<(), Error> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .step(|| format!("writing pid file {}", tmp.display()))?;
    f.write_all(pid.to_string().as_bytes())
        .step(|| format!("writing pid file {}", tmp.display()))?;
    fs::rename(&tmp, path).step(|| format!("renaming pid file to {}", path.display()))?;
    Ok(())
}

/// Undoes a half-made container when `create` fails: kills its processes, removes the cgroup
/// and the state directory.
struct Cleanup {
    dir: PathBuf,
    intermediate: Option<Pid>,
    init: Option<i32>,
    cgroup: Option<Cgroup>,
    armed: bool,
}

impl Cleanup {
    fn new(dir: &ContainerDir) -> Self {
        Cleanup {
            dir: dir.path.clone(),
            intermediate: None,
            init: None,
            cgroup: None,
            armed: true,
        }
    }
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.intermediate {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        if let Some(pid) = self.init {
            kill::kill_and_wait(pid);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.signal_all(nix::sys::signal::Signal::SIGKILL);
            if let Err(e) = cg.remove() {
                tracing::warn!("cleaning up after a failed create: {e}");
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
