//! The processes husk forks to build a container, as ordered steps.
//!
//! `intermediate` joins and creates the namespaces and forks the init (a new pid or time
//! namespace only applies to children). `init` builds the container's world in those
//! namespaces, reports Ready, waits on exec.fifo for `start`, then execs `process.args`.
//! Both run in a child of the single-threaded husk (see sys::fork) and never return.

use std::convert::Infallible;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use husk_cgroups::Cgroup;
use husk_spec::{Bundle, Status};
use nix::sched::CloneFlags;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::unistd::{setresgid, setresuid, ForkResult, Gid, Uid};
use oci_spec::runtime::LinuxNamespaceType;

use crate::error::{fail, StepContext, SysError};
use crate::exec_stub::ExecStub;
use crate::masked_paths;
use crate::mounts::{self, MountContext};
use crate::namespaces::{self, NamespacePlan};
use crate::process::ExecPlan;
use crate::resolve::Root;
use crate::seccomp::{self, SeccompPlan};
use crate::sync::{Channel, ToChild, ToParent};
use crate::{devices, hooks, rlimits, rootfs, sys, terminal};

/// What the forked processes need, all prepared by the parent before the fork.
pub struct InitArgs<'a> {
    pub id: &'a str,
    pub bundle: &'a Bundle,
    pub plan: &'a NamespacePlan,
    pub cgroup: Option<&'a Cgroup>,
    pub channel: Channel,
    /// O_PATH fd of exec.fifo, reopened for writing once the container is ready.
    pub fifo: OwnedFd,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// `linux.seccomp`, compiled by the parent, and the agent's socket for SCMP_ACT_NOTIFY.
    pub seccomp: Option<&'a SeccompPlan>,
    pub seccomp_listener: Option<&'a std::os::unix::net::UnixStream>,
    /// husk's lock on the state directory (closed first thing: see ContainerDir::lock_fd).
    pub state_lock: std::os::fd::RawFd,
    /// husk runs unprivileged: it cannot enter the container's mount namespace to open a
    /// bind source for the init.
    pub rootless: bool,
    /// Whether the container's process and in-container hooks are exec'd through a sealed
    /// stub the init makes when it needs it (not when husk runs from a sealed copy of itself;
    /// exec_stub.rs).
    pub use_exec_stub: bool,
    /// The /proc files husk's procfs daemon serves the container (procfs.rs).
    pub procfs: Option<&'a crate::procfs::Served>,
}

/// Report `err` to the parent and exit. Used by both forked processes.
fn die(channel: &Channel, err: impl std::fmt::Display) -> ! {
    let message = err.to_string();
    if channel
        .to_parent(&ToParent::Error {
            message: message.clone(),
        })
        .is_err()
    {
        // `create` is gone (the failure came after Ready): the init's stderr is all that is left.
        eprintln!("husk init: {message}");
    }
    sys::exit_now(1)
}

/// The intermediate process: namespaces, then fork the init and report its pid.
pub fn intermediate(args: InitArgs<'_>) -> ! {
    let _ = nix::unistd::close(args.state_lock);
    crate::inherited_fds::close_in_child(args.preserve_fds);
    crate::cpu_affinity::reset();
    if let Err(e) = intermediate_steps(&args) {
        die(&args.channel, e)
    }
    match sys::fork_sibling() {
        Err(e) => die(&args.channel, fail("forking the container init", e)),
        Ok(ForkResult::Child) => init(args),
        Ok(ForkResult::Parent { child }) => {
            let _ = args.channel.to_parent(&ToParent::InitPid {
                pid: sys::raw(child),
            });
            sys::exit_now(0)
        }
    }
}

fn intermediate_steps(a: &InitArgs<'_>) -> Result<(), String> {
    a.plan.join_all().map_err(|e| e.to_string())?;
    a.plan.unshare_user().map_err(|e| e.to_string())?;
    // The parent now puts us in the cgroup (before a cgroup namespace is made, so that its
    // root is the container's cgroup) and writes the id maps.
    a.channel
        .to_parent(&ToParent::Hello)
        .map_err(|e| e.to_string())?;
    a.channel.expect_proceed().map_err(|e| e.to_string())?;
    a.plan.unshare_rest().map_err(|e| e.to_string())?;
    if a.plan.creates(nix::sched::CloneFlags::CLONE_NEWNET) {
        crate::net_devices::loopback_up().map_err(|e| e.to_string())?;
    }
    // Before the uid changes below: a change of uid makes the process non-dumpable, and
    // /proc/self/timens_offsets then belongs to the host's root, which a new user namespace
    // does not map (EACCES).
    if a.plan.creates(namespaces::flag(LinuxNamespaceType::Time)) {
        if let Some(linux) = a.bundle.spec.linux() {
            namespaces::write_time_offsets(linux).map_err(|e| e.to_string())?;
        }
    }
    // In a user namespace created or joined: files the init makes must belong to a mapped id
    // (as an unmapped id, mkdir fails with EOVERFLOW).
    if a.plan.has_userns() {
        become_userns_root().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Ask husk for the source of `mounts[index]`, opened in our mount namespace (sent along):
/// see idmapped_mounts.rs.
fn mount_source_from_husk(channel: &Channel, index: usize) -> Result<OwnedFd, SysError> {
    let what = || format!("mounts[{index}]: the source from husk");
    let ns = std::fs::File::open("/proc/self/ns/mnt").step(what)?;
    channel
        .to_parent_with_fd(&ToParent::MountSource { index }, ns.as_fd())
        .map_err(|e| fail(what(), e))?;
    match channel.from_parent_with_fd().map_err(|e| fail(what(), e))? {
        (ToChild::MountSource { index: i }, Some(fd)) if i == index => Ok(fd),
        (ToChild::Error { message }, _) => Err(fail(what(), message)),
        (other, _) => Err(fail(what(), format!("unexpected {other:?}"))),
    }
}

/// Become root of the container's user namespace, so that files made during setup are owned
/// by a mapped id. A mapping without 0 keeps the ids we have (the kernel's EINVAL); any other
/// failure is an error.
fn become_userns_root() -> Result<(), SysError> {
    let zero = |e: nix::Error| {
        if e == nix::Error::EINVAL {
            Ok(())
        } else {
            Err(e)
        }
    };
    setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .or_else(zero)
        .step(|| "setresgid(0) in the container's user namespace")?;
    setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
        .or_else(zero)
        .step(|| "setresuid(0) in the container's user namespace")
}

/// The container's init.
fn init(args: InitArgs<'_>) -> ! {
    match init_steps(&args) {
        Ok(never) => match never {},
        Err(e) => die(&args.channel, e),
    }
}

/// Rootless, in user and pid namespaces of its own: `exec` into the created container opens
/// /proc/<init>/ns/*, which the user may do only if the init is dumpable (runc's init is). It
/// is made dumpable while it waits for `start`, and then holds no fd into the host: a private
/// procfs of the container's own pid namespace, made before the masks (the kernel refuses
/// one after them), stands in for the host's to reopen the FIFO; and husk runs from a sealed
/// copy (create.rs protect_husk_binary), so its /proc/<pid>/exe leads to no host file. Root's
/// init stays not dumpable throughout.
pub(crate) fn waits_dumpable(plan: &NamespacePlan, rootless: bool) -> bool {
    rootless
        && plan.creates(CloneFlags::CLONE_NEWUSER)
        && plan.creates(namespaces::flag(LinuxNamespaceType::Pid))
}

fn procfs_for_a_dumpable_wait(a: &InitArgs<'_>) -> Option<OwnedFd> {
    if !waits_dumpable(a.plan, a.rootless) {
        return None;
    }
    sys::private_procfs()
        .inspect_err(|e| tracing::debug!("no private procfs, exec waits for start: {e}"))
        .ok()
}

/// The init's life in three parts, each with its own error path: the container's world,
/// built and reported to `create` over the socket (until Ready); the wait for `start`; the
/// process, whose failures go to `start` through the FIFO.
fn init_steps(a: &InitArgs<'_>) -> Result<Infallible, SysError> {
    let world = build_world(a)?;
    let fifo = wait_for_start(a, &world)?;
    execute_process(a, world, fifo)
}

/// What the built world hands to the wait and the exec.
struct World {
    /// The state the hooks see (from `create`, with the pid).
    state: husk_spec::ContainerState,
    /// The procfs the FIFO is reopened through: the host's, verified, or (a dumpable wait)
    /// the container's own.
    fifo_procfs: OwnedFd,
    dumpable_wait: bool,
    exec: ExecPlan,
    exe: std::path::PathBuf,
}

fn build_world(a: &InitArgs<'_>) -> Result<World, SysError> {
    reset_inherited_state()?;
    if !a.no_new_keyring {
        join_session_keyring(a.id);
    }
    let from_husk = |index| mount_source_from_husk(&a.channel, index);
    prepare_rootfs(a)?;
    let rootfs = Root::open(&a.bundle.rootfs)?; // opened after the bind: the new mount
    let all_mounts = a.bundle.spec.mounts().clone().unwrap_or_default();
    build_filesystem(a, &mount_context(a, &rootfs, &from_husk), &all_mounts)?;
    if let Some(served) = a.procfs {
        crate::procfs::bind_into(&rootfs, served)?;
    }
    let state = await_runtime_hooks(a)?;
    run_create_container_hooks(a, &state)?;
    // The host's procfs, verified, kept for the fifo and our own /proc/self files: nothing
    // the container mounted can redirect these writes (CVE-2019-16884, CVE-2025-52881).
    let host_proc = sys::openat(
        crate::resolve::cwd(),
        c"/proc",
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .step(|| "opening /proc")?;
    check_procfs(&host_proc)?;
    enter_rootfs(a)?;
    let root = Root::open(Path::new("/"))?;
    let waiting_procfs = finish_inside(a, &mount_context(a, &root, &from_husk), &all_mounts)?;
    let (exec, exe) = prepare_process(a)?;
    Ok(World {
        state,
        dumpable_wait: waiting_procfs.is_some(),
        fifo_procfs: waiting_procfs.unwrap_or(host_proc),
        exec,
        exe,
    })
}

/// Nothing of husk's signal state, session or dumpability goes on into the container.
fn reset_inherited_state() -> Result<(), SysError> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .step(|| "resetting the signal mask")?;
    sys::default_signal_dispositions().step(|| "resetting signal dispositions")?;
    // A session of its own, as runc's init: no controlling terminal of the caller's.
    nix::unistd::setsid().step(|| "setsid")?;
    // Not dumpable while husk's fds and the host's view are still reachable: a process of the
    // container cannot ptrace or open /proc/<init>/... until exec resets it.
    nix::sys::prctl::set_dumpable(false).step(|| "prctl(PR_SET_DUMPABLE)")?;
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    Ok(())
}

/// A session keyring of the container's own (`_ses.<id>`), as runc makes; a kernel that
/// refuses it (keyrings off, or a quota) is no error.
fn join_session_keyring(id: &str) {
    let Ok(name) = CString::new(format!("_ses.{id}")) else {
        return; // ids are validated: no NUL
    };
    if let Err(e) = sys::join_session_keyring(&name) {
        tracing::debug!("no new session keyring: {e}");
    }
}

/// Propagation, and the rootfs as a mount point of its own (in the host's mount namespace
/// when the config has none of its own).
fn prepare_rootfs(a: &InitArgs<'_>) -> Result<(), SysError> {
    let rootfs = a.bundle.rootfs.as_path();
    if !a.plan.has_own_mount_namespace() {
        return rootfs::prepare_in_host_namespace(rootfs);
    }
    let linux = a.bundle.spec.linux().as_ref().expect("validated");
    rootfs::prepare(
        rootfs,
        rootfs::root_propagation(linux.rootfs_propagation().as_deref()),
    )
}

fn mount_context<'r>(
    a: &'r InitArgs<'_>,
    root: &'r Root,
    from_husk: &'r dyn Fn(usize) -> Result<OwnedFd, SysError>,
) -> MountContext<'r> {
    MountContext {
        root,
        bundle: &a.bundle.dir,
        in_userns: a.plan.has_userns(),
        new_cgroupns: a.plan.creates(CloneFlags::CLONE_NEWCGROUP),
        cgroup: a.cgroup,
        source_from_husk: from_husk,
        husk_opens_sources: !a.rootless,
        calls: &mounts::KERNEL,
    }
}

/// Every mount of the config, then /dev's nodes and links (unless /dev is the host's,
/// bound), the config's devices, and the process's cwd.
fn build_filesystem(
    a: &InitArgs<'_>,
    ctx: &MountContext<'_>,
    all_mounts: &[oci_spec::runtime::Mount],
) -> Result<(), SysError> {
    for (i, m) in all_mounts.iter().enumerate() {
        mounts::mount_entry(ctx, i, m)?;
    }
    let dev_from_host = all_mounts.iter().any(|m| {
        mounts::destination(m) == Path::new("/dev")
            && mounts::parse_options(m.options().as_deref().unwrap_or_default()).is_bind()
    });
    if !dev_from_host {
        for node in devices::default_nodes() {
            devices::create(ctx.root, &node, ctx.in_userns)?;
        }
        devices::create_symlinks(ctx.root)?;
    }
    // /dev/ptmx is the symlink to the container's devpts made above, as runc keeps it: a
    // node listed for it would replace it (bound from the host's, rootless) and the
    // container's terminal would come from the wrong devpts.
    let linux = a.bundle.spec.linux().as_ref().expect("validated");
    for d in linux
        .devices()
        .iter()
        .flatten()
        .filter(|d| d.path() != Path::new("/dev/ptmx"))
    {
        devices::create(ctx.root, &devices::node_of(d), ctx.in_userns)?;
    }
    ctx.root.mkdir_all(process_of(a).cwd(), 0o755)?;
    Ok(())
}

fn process_of<'a>(a: &'a InitArgs<'_>) -> &'a oci_spec::runtime::Process {
    a.bundle
        .spec
        .process()
        .as_ref()
        .expect("validated: process is present")
}

/// prestart and createRuntime hooks run in the runtime's namespaces, by `create`: ask, and
/// wait until they ran. The answer carries the state the container's hooks see.
fn await_runtime_hooks(a: &InitArgs<'_>) -> Result<husk_spec::ContainerState, SysError> {
    a.channel
        .to_parent(&ToParent::RunHooks)
        .map_err(|e| fail("asking for hooks", e))?;
    match a
        .channel
        .from_parent()
        .map_err(|e| fail("waiting for hooks", e))?
    {
        ToChild::HooksDone { state } => Ok(state),
        ToChild::Error { message } => Err(fail("create", message)),
        other => Err(fail("waiting for hooks", format!("unexpected {other:?}"))),
    }
}

/// createContainer hooks, in the container's namespaces, in the rootfs as runc runs them (a
/// hook may name the container's files relatively).
fn run_create_container_hooks(
    a: &InitArgs<'_>,
    state: &husk_spec::ContainerState,
) -> Result<(), SysError> {
    let hooks = a.bundle.spec.hooks().as_ref();
    let Some(h) = hooks.and_then(|h| h.create_container().clone()) else {
        return Ok(());
    };
    let stub = a.use_exec_stub.then(ExecStub::make).transpose()?;
    let rootfs = &a.bundle.rootfs;
    nix::unistd::chdir(rootfs).step(|| format!("entering the rootfs {}", rootfs.display()))?;
    hooks::run("createContainer", &h, state, stub.as_ref(), None)
        .map_err(|e| fail("createContainer hooks", e))
}

/// pivot_root into the rootfs (a move with --no-pivot, a chroot in the host's mount
/// namespace), then the configured propagation on the new "/".
fn enter_rootfs(a: &InitArgs<'_>) -> Result<(), SysError> {
    let rootfs = &a.bundle.rootfs;
    if !a.plan.has_own_mount_namespace() {
        return rootfs::enter_by_chroot(rootfs);
    }
    if a.no_pivot {
        rootfs::move_root(rootfs)?;
    } else {
        rootfs::pivot(rootfs)?;
    }
    let linux = a.bundle.spec.linux().as_ref().expect("validated");
    rootfs::apply_root_propagation(linux.rootfs_propagation().as_deref())
}

/// Inside the new root: the terminal, a read-only /dev, sysctls, read-only and masked
/// paths, the host and domain names, a read-only root. Returns the container's own procfs
/// when the init will wait dumpable (see `waits_dumpable`), made before the masks.
fn finish_inside(
    a: &InitArgs<'_>,
    ctx: &MountContext<'_>,
    all_mounts: &[oci_spec::runtime::Mount],
) -> Result<Option<OwnedFd>, SysError> {
    let spec = &a.bundle.spec;
    let linux = spec.linux().as_ref().expect("validated");
    let process = process_of(a);
    // The terminal, from the container's own devpts; the master goes to `create`.
    if process.terminal().unwrap_or(false) {
        let pty = terminal::open_pty(process)?;
        terminal::mount_console(ctx.root, pty.slave.as_fd())?;
        a.channel
            .to_parent_with_fd(&ToParent::Console, pty.master.as_fd())
            .map_err(|e| fail("sending the pty master", e))?;
        terminal::become_controlling(&pty.slave)?;
    }
    // A read-only /dev, once /dev/console is in it too.
    mounts::finish_readonly_dev(ctx, all_mounts)?;
    if let Some(sysctls) = linux.sysctl().as_ref().filter(|s| !s.is_empty()) {
        let procfs = sys::private_procfs().step(|| "linux.sysctl: a private procfs instance")?;
        for (key, value) in sysctls {
            write_sysctl(&procfs, key, value)?;
        }
    }
    let waiting_procfs = procfs_for_a_dumpable_wait(a);
    hide_paths(ctx.root, linux)?;
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).step(|| format!("sethostname({h:?})"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        sys::setdomainname(d).step(|| format!("setdomainname({d:?})"))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        rootfs::make_readonly()?;
    }
    Ok(waiting_procfs)
}

/// linux.readonlyPaths, then linux.maskedPaths.
fn hide_paths(root: &Root, linux: &oci_spec::runtime::Linux) -> Result<(), SysError> {
    for p in linux.readonly_paths().iter().flatten() {
        masked_paths::readonly(&mounts::KERNEL, root, Path::new(p))?;
    }
    let masked = linux.masked_paths().clone().unwrap_or_default();
    if !masked.is_empty() {
        let null = masked_paths::open_dev_null(root)?;
        let null_path = crate::resolve::fd_path(null.as_fd());
        masked_paths::mask_all(&mounts::KERNEL, root, &null_path, &masked)?;
    }
    Ok(())
}

/// The process's limits, and what it needs to exec, checked now so that `create` reports
/// them.
fn prepare_process(a: &InitArgs<'_>) -> Result<(ExecPlan, std::path::PathBuf), SysError> {
    let process = process_of(a);
    rlimits::apply(process.rlimits().as_deref().unwrap_or_default())?;
    let mut exec = ExecPlan::from_process(process)?;
    exec.caps.check_obtainable()?;
    exec.finish_env();
    let exe = exec.find_executable()?;
    Ok((exec, exe))
}

/// Ready, then the wait for `start`: opening the FIFO for writing blocks until `start` opens
/// it to read; the release byte written then tells `start` the init is on its way. A dumpable
/// wait holds no host fd (the host's /proc was never kept: see `waits_dumpable`).
fn wait_for_start(a: &InitArgs<'_>, world: &World) -> Result<std::fs::File, SysError> {
    sys::exit_on_signals(&[libc::SIGHUP, libc::SIGINT, libc::SIGTERM])
        .step(|| "handling termination signals while waiting for start")?;
    a.channel
        .to_parent(&ToParent::Ready)
        .map_err(|e| fail("reporting ready", e))?;
    let fifo_path =
        CString::new(format!("self/fd/{}", a.fifo.as_raw_fd())).expect("a number holds no NUL");
    if world.dumpable_wait {
        nix::sys::prctl::set_dumpable(true).step(|| "prctl(PR_SET_DUMPABLE)")?;
    }
    let fifo = sys::openat(world.fifo_procfs.as_fd(), &fifo_path, libc::O_WRONLY, 0)
        .step(|| "opening exec.fifo")?;
    nix::sys::prctl::set_dumpable(false).step(|| "prctl(PR_SET_DUMPABLE)")?;
    let mut fifo = std::fs::File::from(fifo);
    fifo.write_all(b"\0")
        .step(|| "writing the release byte to exec.fifo")?;
    Ok(fifo)
}

/// After `start`: the exec stub, the cwd, scheduling, the fds closed, seccomp, the user,
/// the startContainer hooks, the exec. A failure is written to `start` through the FIFO.
fn execute_process(a: &InitArgs<'_>, world: World, mut fifo: std::fs::File) -> ! {
    let World {
        mut state,
        fifo_procfs,
        exec,
        exe,
        ..
    } = world;
    drop(fifo_procfs);
    let mut report = |e: SysError| -> ! {
        let _ = fifo.write_all(e.to_string().as_bytes());
        sys::exit_now(127)
    };
    state.status = Status::Created;
    let hook_state = state.clone();
    // Made now, not held while waiting for start (runc's fd-leak check looks at that init).
    let stub = match a.use_exec_stub.then(ExecStub::make).transpose() {
        Ok(stub) => stub,
        Err(e) => report(e),
    };
    state.status = Status::Running;
    if let Err(e) = become_the_process(a, &exec, &state) {
        report(e);
    }
    // As runc: startContainer hooks run last, as the container's user and under its seccomp
    // filter, just before the process; without env of their own, with the process's.
    let hooks = a.bundle.spec.hooks().as_ref();
    if let Some(h) = hooks.and_then(|h| h.start_container().clone()) {
        let env = Some(exec.env.as_slice());
        if let Err(e) = hooks::run("startContainer", &h, &hook_state, stub.as_ref(), env) {
            report(fail("startContainer hooks", e));
        }
    }
    let e = exec.exec(&exe, stub.as_ref());
    if stub.is_none() {
        // As the stub does (and runc's init): the exec's failure goes to the process's stderr
        // and the init exits 127; `start` has already seen the release byte and sees the FIFO
        // close as after an exec, so the container simply stops, with the one line to say why.
        let _ = nix::unistd::write(std::io::stderr(), format!("{e}\n").as_bytes());
        sys::exit_now(127)
    }
    report(e)
}

/// The cwd, scheduling, husk's fds closed, the user and umask, and the seccomp filter (last,
/// so that nothing of husk's own setup runs under it, unless no_new_privs is off: then
/// before the user changes, while the init may still install it).
fn become_the_process(
    a: &InitArgs<'_>,
    exec: &ExecPlan,
    state: &husk_spec::ContainerState,
) -> Result<(), SysError> {
    let seccomp = || match a.seccomp {
        Some(plan) => seccomp::install(plan, a.seccomp_listener, state, state.pid),
        None => Ok(()),
    };
    let linux = a.bundle.spec.linux().as_ref().expect("validated");
    let cwd = exec.open_cwd()?;
    let in_cwd = exec.enter_cwd_early(&cwd)?;
    crate::process::apply_scheduling(process_of(a), linux)?;
    // Nothing of husk's may reach the container but stdio and the preserved fds
    // (CVE-2024-21626); the FIFO and the host /proc fd are close-on-exec too.
    sys::cloexec_from(3 + a.preserve_fds).step(|| "marking fds close-on-exec")?;
    if !exec.no_new_privs {
        seccomp()?;
    }
    exec.become_user()?;
    if !in_cwd {
        exec.enter_cwd_as_user(&cwd)?;
    }
    exec.apply_umask();
    if exec.no_new_privs {
        seccomp()?;
    }
    Ok(())
}

fn check_procfs(fd: &OwnedFd) -> Result<(), SysError> {
    let st = nix::sys::statfs::fstatfs(fd).step(|| "statfs /proc")?;
    if st.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(fail("checking /proc", "it is not a procfs"));
    }
    Ok(())
}

/// Write one `linux.sysctl` entry through `procfs`, a private procfs instance: no mount the
/// config (or the image) put over /proc/sys can redirect the write to another file
/// (CVE-2025-52881); the file opened is checked to be on procfs, without following links.
fn write_sysctl(procfs: &OwnedFd, key: &str, value: &str) -> Result<(), SysError> {
    let rel = format!("sys/{}", key.replace('.', "/"));
    let path = crate::error::c_string(format!("linux.sysctl.{key}"), rel.clone())?;
    let fd = sys::openat2(
        procfs.as_fd(),
        &path,
        libc::O_WRONLY | libc::O_NOFOLLOW,
        0,
        sys::RESOLVE_NO_XDEV | sys::RESOLVE_NO_MAGICLINKS | sys::RESOLVE_NO_SYMLINKS,
    )
    .step(|| format!("linux.sysctl.{key}: opening /proc/{rel}"))?;
    check_procfs(&fd)?;
    std::fs::File::from(fd)
        .write_all(value.as_bytes())
        .step(|| format!("linux.sysctl.{key}: writing {value:?}"))
}
