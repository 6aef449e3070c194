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
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::Spec;

use crate::cgroup_driver::CgroupDriver;
use crate::crash_point::stage;
use crate::error::StepContext;
use crate::exec_stub::ExecStub;
use crate::fd_socket::PidfdOf;
use crate::idmapped_mounts::{ContainerUserns, MountSources};
use crate::init::{self, InitArgs};
use crate::kill::ProcessGuard;
use crate::namespaces::{self, NamespacePlan};
use crate::seccomp::{connect_listener, SeccompPlan};
use crate::state::{owner_of, ContainerDir, Creator, Store, Stored};
use crate::sync::{self, ToChild, ToParent, Until};
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
    /// `--procfs`: every container gets the served /proc files unless its annotation says
    /// otherwise (procfs.rs).
    pub procfs_all: bool,
}

/// What `create` made: the init's host pid, and the pty master when husk keeps it (a
/// foreground `run` with `process.terminal` and no --console-socket).
#[derive(Debug)]
pub struct Created {
    pub pid: i32,
    pub console: Option<OwnedFd>,
}

/// Create the container: each phase below undoes nothing itself; what it made is owned by the
/// `Creation`, which takes it all back if a later phase fails (or husk returns early).
pub fn create(store: &Store, opts: &CreateOptions) -> Result<Created, Error> {
    let prepared = Prepared::new(store, opts)?;
    let mut c = Creation::begin(store, opts, prepared)?;
    c.fork()?;
    c.place_and_map()?;
    c.await_init()?;
    c.runtime_hooks()?;
    let console = c.await_ready()?;
    c.commit(console)
}

/// What is known and checked before anything is made: the bundle, the namespaces, the
/// rootless policy, the compiled seccomp filter and its agent.
struct Prepared {
    bundle: Bundle,
    plan: NamespacePlan,
    rootless: bool,
    rootless_maps: Option<rootless::MapWriters>,
    seccomp: Option<SeccompPlan>,
    seccomp_listener: Option<std::os::unix::net::UnixStream>,
    use_exec_stub: bool,
    /// The /proc files husk's procfs daemon serves it, the daemon answering.
    procfs: Option<crate::procfs::Served>,
}

impl Prepared {
    fn new(store: &Store, opts: &CreateOptions) -> Result<Prepared, Error> {
        crate::state::validate_id(&opts.id)?;
        let mut bundle = Bundle::load(&opts.bundle)?;
        let use_exec_stub = protect_husk_binary(&bundle.spec)?;
        add_listen_fds(&mut bundle.spec, opts.listen_fds);
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
        let rootless_maps = match rootless {
            true => rootless::check(&bundle.spec, &plan)?,
            false => None,
        };
        if let Some(devices) = net_devices_of(&bundle.spec) {
            if rootless {
                return Err(Error::Rootless(
                    "linux.netDevices: moving a host network device takes CAP_NET_ADMIN in the \
                     host's network namespace"
                        .into(),
                ));
            }
            crate::net_devices::check_present(devices)?;
        }
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
        let procfs = crate::procfs::prepare(
            store,
            &bundle.spec,
            opts.procfs_all,
            rootless,
            plan.has_own_mount_namespace(),
        )?;
        Ok(Prepared {
            bundle,
            plan,
            rootless,
            rootless_maps,
            seccomp,
            seccomp_listener,
            use_exec_stub,
            procfs,
        })
    }
}

/// Socket-activation fds go on at fd 3 onward, with LISTEN_FDS and LISTEN_PID=1 in the
/// process's environment, as runc does.
fn add_listen_fds(spec: &mut Spec, listen_fds: u32) {
    if listen_fds == 0 {
        return;
    }
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.push(format!("LISTEN_FDS={listen_fds}"));
        env.push("LISTEN_PID=1".into());
        p.set_env(Some(env));
    }
}

/// A container being made: what each phase made so far. Dropped before `commit`, it takes it
/// all back (see `Cleanup`): no state directory, cgroup or process is left behind.
struct Creation<'a> {
    opts: &'a CreateOptions,
    p: Prepared,
    dir: ContainerDir,
    cleanup: Cleanup,
    /// What is made is recorded as it is made, so that a husk killed at any point leaves a
    /// state `delete` can clean up from (see crash_point.rs).
    stored: Stored,
    cgroup: CgroupDriver,
    fifo: Option<OwnedFd>,
    channel: Option<sync::Channel>,
    intermediate: Pid,
    /// The intermediate was born in the cgroup (cgroup v2's clone3).
    placed: bool,
    sources: Option<MountSources>,
    /// The init asked for the runtime hooks before the intermediate sent its pid.
    hooks_requested: bool,
}

impl<'a> Creation<'a> {
    /// The state directory, the start gate (exec.fifo) and the cgroup with its limits.
    fn begin(store: &Store, opts: &'a CreateOptions, p: Prepared) -> Result<Self, Error> {
        let dir = store.create(&opts.id)?;
        let cleanup = Cleanup::new(&dir);
        let stored = Stored {
            id: opts.id.clone(),
            pid: 0,
            pid_start: 0,
            bundle: p.bundle.dir.clone(),
            rootfs: p.bundle.rootfs.clone(),
            created: husk_spec::time::now_rfc3339_nanos(),
            owner: owner_of(&dir.path),
            config: p.bundle.spec.clone(),
            cgroup: None,
            creating: Creator::me(),
            host_mounts_on_rootfs: (!p.plan.has_own_mount_namespace())
                .then(|| crate::rootfs::mounts_on(&p.bundle.rootfs)),
            procfs: p.procfs.iter().flat_map(|s| s.names()).collect(),
        };
        dir.save(&stored)?;
        stage("state-dir");
        let mut c = Creation {
            opts,
            p,
            dir,
            cleanup,
            stored,
            cgroup: CgroupDriver::Without { shown: None },
            fifo: None,
            channel: None,
            intermediate: Pid::from_raw(0),
            placed: false,
            sources: None,
            hooks_requested: false,
        };
        c.fifo = Some(make_fifo(&c.dir)?);
        c.make_cgroup()?;
        stage("cgroup");
        Ok(c)
    }

    fn linux(&self) -> &oci_spec::runtime::Linux {
        self.p.bundle.spec.linux().as_ref().expect("validated")
    }

    /// The cgroup, made and recorded, then limited by its driver before any process joins
    /// it (a systemd scope once it has one: see `place_and_map`).
    fn make_cgroup(&mut self) -> Result<(), Error> {
        let (opts, rootless) = (self.opts, self.p.rootless);
        let linux = self.p.bundle.spec.linux().as_ref().expect("validated");
        let cgroup = make_cgroup(linux, opts, rootless, &self.dir, &mut self.stored)?;
        self.cleanup.cgroup = cgroup.clone();
        self.cgroup = CgroupDriver::of(cgroup, rootless);
        self.cgroup.before_fork(&self.p.bundle.spec)
    }

    /// Fork the intermediate, which makes the namespaces and forks the init. On cgroup v2 it
    /// is born in the container's cgroup (no cgroup.procs write, which costs an RCU grace
    /// period); elsewhere it is moved there after Hello. Nothing here runs in another thread.
    fn fork(&mut self) -> Result<(), Error> {
        let (parent, child) = sync::pair()?;
        let (forked, placed) = fork_in_cgroup(self.cgroup.birthplace())?;
        match forked {
            ForkResult::Child => {
                drop(parent);
                init::intermediate(self.init_args(child))
            }
            ForkResult::Parent { child: pid } => {
                self.intermediate = pid;
                self.cleanup.intermediate = Some(ProcessGuard::own_child(pid));
            }
        }
        self.placed = placed;
        self.channel = Some(parent);
        self.fifo = None; // the init holds it now
        self.p.seccomp_listener = None; // and the seccomp agent's socket
        stage("forked");
        Ok(())
    }

    fn init_args(&mut self, channel: sync::Channel) -> InitArgs<'_> {
        InitArgs {
            id: &self.opts.id,
            bundle: &self.p.bundle,
            plan: &self.p.plan,
            cgroup: self.cgroup.shown(),
            channel,
            fifo: self.fifo.take().expect("made in begin"),
            no_pivot: self.opts.no_pivot,
            no_new_keyring: self.opts.no_new_keyring,
            preserve_fds: self.opts.listen_fds + self.opts.preserve_fds,
            seccomp: self.p.seccomp.as_ref(),
            seccomp_listener: self.p.seccomp_listener.as_ref(),
            state_lock: self.dir.lock_fd(),
            rootless: self.p.rootless,
            use_exec_stub: self.p.use_exec_stub,
            procfs: self.p.procfs.as_ref(),
        }
    }

    fn channel(&self) -> &sync::Channel {
        self.channel.as_ref().expect("forked")
    }

    /// Once the intermediate says Hello: into the cgroup (a systemd scope is made around it
    /// now, and limited), the id maps written, the idmapped mount sources made on the host.
    /// The intermediate waits on the socket until Proceed: nothing of the container runs
    /// before.
    fn place_and_map(&mut self) -> Result<(), Error> {
        self.channel().expect_hello()?;
        let pid = self.intermediate.as_raw();
        if self
            .cgroup
            .after_hello(pid, self.placed, &self.p.bundle.spec)?
        {
            self.stored.cgroup = self.cgroup.cgroup().cloned();
            self.cleanup.cgroup = self.cgroup.cgroup().cloned();
            self.dir.save(&self.stored)?;
        }
        match self.p.rootless_maps.take() {
            Some(writers) => rootless::write_id_maps(pid, self.linux(), writers)?,
            None if self.p.plan.new_user => namespaces::write_id_maps(pid, self.linux())?,
            None => {}
        }
        let userns = self.container_userns();
        self.sources = Some(MountSources::new(
            &self.p.bundle.spec,
            &self.p.bundle.dir,
            &userns,
        )?);
        stage("mapped");
        self.channel().to_child(&ToChild::Proceed)?;
        Ok(())
    }

    /// The user namespace idmapped mounts are made for.
    fn container_userns(&self) -> ContainerUserns {
        let plan = &self.p.plan;
        if plan.new_user {
            return ContainerUserns::Of(self.intermediate.as_raw());
        }
        match plan
            .join
            .iter()
            .find(|(f, _)| *f == CloneFlags::CLONE_NEWUSER)
        {
            Some((_, p)) => ContainerUserns::Path(p.clone()),
            None => ContainerUserns::None,
        }
    }

    /// The intermediate reports the init's pid; the init, on the same socket, asks for mount
    /// sources while it mounts and for the runtime hooks once its mounts are done. The init
    /// does not wait for the intermediate, so on a busy machine its requests can come first:
    /// they are taken in any order. Then the pids limit, the state, oomScoreAdj.
    fn await_init(&mut self) -> Result<(), Error> {
        let pid = loop {
            match self.next_from_init()? {
                ToParent::InitPid { pid } => break pid,
                ToParent::RunHooks if !self.hooks_requested => self.hooks_requested = true,
                ToParent::Error { message } => return Err(Error::Init(message)),
                other => {
                    let what = format!("expected the init's pid, got {other:?}");
                    return Err(Error::Init(what));
                }
            }
        };
        self.cleanup.init = Some(pid);
        self.cgroup.after_init(&self.p.bundle.spec)?;
        // The init is in the container's network namespace now: its devices go in.
        if let Some(devices) = net_devices_of(&self.p.bundle.spec) {
            let ns = crate::net_devices::namespace_of(pid)?;
            crate::net_devices::move_in(devices, ns.as_fd())?;
        }
        self.stored.pid = pid;
        // A zombie still has its start time: an init that failed is waited for below, where
        // its own error message arrives.
        self.stored.pid_start = process_info::start_time(pid)
            .ok_or_else(|| Error::Init("the init exited during create".into()))?;
        self.dir.save(&self.stored)?;
        stage("init-pid");
        set_oom_score_adj(&self.p.bundle.spec, pid)?;
        let intermediate = self.cleanup.intermediate.take().expect("forked");
        intermediate.reap()?;
        Ok(())
    }

    /// The init's next message other than a mount-source request; those are answered on the
    /// way (idmapped_mounts.rs).
    fn next_from_init(&mut self) -> Result<ToParent, Error> {
        let sources = self.sources.as_mut().expect("made in place_and_map");
        next_from_init(self.channel.as_ref().expect("forked"), sources)
    }

    /// The init has built the container's world up to pivot_root: the runtime's hooks
    /// (prestart, createRuntime) run now, in husk's namespaces.
    fn runtime_hooks(&mut self) -> Result<(), Error> {
        if !self.hooks_requested {
            match self.next_from_init() {
                Ok(ToParent::RunHooks) => {}
                Ok(ToParent::Error { message }) => return Err(Error::Init(message)),
                Ok(other) => return Err(Error::Init(format!("expected RunHooks, got {other:?}"))),
                Err(Error::Sync(sync::SyncError::Closed)) => {
                    return Err(Error::Init("exited before RunHooks".into()))
                }
                Err(e) => return Err(e),
            }
        }
        self.sources = None;
        let creating = self.stored.public(Status::Creating);
        if let Err(e) = run_runtime_hooks(&self.p.bundle.spec, &creating) {
            let message = e.to_string();
            let _ = self.channel().to_child(&ToChild::Error { message });
            return Err(e.into());
        }
        self.channel()
            .to_child(&ToChild::HooksDone { state: creating })?;
        stage("hooks-done");
        Ok(())
    }

    /// Until the init is Ready: the pty master, if it makes one, goes to the console socket
    /// or stays with husk (a foreground `run`).
    fn await_ready(&mut self) -> Result<Option<OwnedFd>, Error> {
        let master = self.channel().receive_console_until(Until::Ready)?;
        stage("ready");
        match (master, &self.opts.console_socket) {
            (Some(master), Some(socket)) => {
                terminal::send_to_console_socket(socket, master.as_fd())?;
                Ok(None)
            }
            (master, _) => Ok(master.map(terminal::kept_by_husk)),
        }
    }

    /// The container is created: its state says so, the pidfd and pid file go out, and
    /// nothing is undone any more.
    fn commit(mut self, console: Option<OwnedFd>) -> Result<Created, Error> {
        self.stored.created = husk_spec::time::now_rfc3339_nanos();
        self.stored.creating = None;
        self.dir.save(&self.stored)?;
        stage("saved");
        let pid = self.stored.pid;
        if let Some(socket) = &self.opts.pidfd_socket {
            crate::fd_socket::send_pidfd(socket, pid, PidfdOf::Init)?;
        }
        if let Some(pid_file) = &self.opts.pid_file {
            write_pid_file(pid_file, pid)?;
        }
        self.cleanup.disarm();
        Ok(Created { pid, console })
    }
}

/// `linux.netDevices`, when it names any.
pub(crate) fn net_devices_of(
    spec: &Spec,
) -> Option<&std::collections::HashMap<String, oci_spec::runtime::LinuxNetDevice>> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .filter(|d| !d.is_empty())
}

/// exec.fifo, the start gate: `start` opens it to read, which lets the waiting init's open
/// for writing return. Writable by the container's root even when a user namespace maps it
/// to another uid (the mode is set explicitly: mkfifo applied husk's umask). Returned as an
/// O_PATH fd for the init to reopen.
fn make_fifo(dir: &ContainerDir) -> Result<OwnedFd, Error> {
    let fifo_path = dir.fifo();
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .step(|| format!("mkfifo {}", fifo_path.display()))?;
    std::fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .step(|| format!("chmod {}", fifo_path.display()))?;
    let fifo = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(&fifo_path)
        .step(|| format!("opening {}", fifo_path.display()))?;
    Ok(fifo.into())
}

/// process.oomScoreAdj, set from here as runc does: the init's value is inherited by what
/// it execs.
fn set_oom_score_adj(spec: &Spec, pid: i32) -> Result<(), Error> {
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        let path = format!("/proc/{pid}/oom_score_adj");
        fs::write(&path, adj.to_string())
            .step(|| format!("process.oomScoreAdj: writing {adj} to {path}"))?;
    }
    Ok(())
}

/// The container's cgroup, recorded in its state (with the levels it will make) before it is
/// made, then made: whenever husk is killed, `delete` knows every directory husk may have
/// created. Rootless, a cgroup husk may not make is done without (rootless::without_cgroup).
pub(crate) fn make_cgroup(
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
        // Rootless: the hierarchies this user may write (as runc), or none at all.
        Err(e) if rootless && e.is_permission_denied() => match cgroup.create_where_permitted() {
            Ok(dropped) => {
                if let Err(refused) = rootless::check_dropped_controllers(linux, &dropped) {
                    let _ = cgroup.remove();
                    stored.cgroup = None;
                    dir.save(stored)?;
                    return Err(refused);
                }
                if !dropped.is_empty() {
                    tracing::debug!("rootless: no cgroup for the controllers {dropped:?}");
                }
                Some(cgroup)
            }
            Err(e) => {
                rootless::without_cgroup(linux, &e)?;
                None
            }
        },
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
    let plan = spec.linux().as_ref().map(NamespacePlan::from_linux);
    let own_pid_namespace = plan
        .as_ref()
        .is_some_and(|p| p.creates(CloneFlags::CLONE_NEWPID));
    // A dumpable init (init::waits_dumpable) shows its /proc/<pid>/exe to the container:
    // it must run from a sealed copy, as any husk process the container can reach.
    let dumpable = plan
        .as_ref()
        .is_some_and(|p| crate::init::waits_dumpable(p, rootless::is_rootless()));
    if own_pid_namespace
        && !dumpable
        && !sealed_exe::running_from_sealed_copy()
        && ExecStub::can_make()
    {
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

#[allow(deprecated)] // prestart is deprecated in the spec but still MUST run
pub(crate) fn run_runtime_hooks(
    spec: &Spec,
    state: &ContainerState,
) -> Result<(), hooks::HookError> {
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
    intermediate: Option<ProcessGuard>,
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
        // The intermediate first (killed and reaped as its guard drops): the cgroup can only
        // be removed once it is empty.
        drop(self.intermediate.take());
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
