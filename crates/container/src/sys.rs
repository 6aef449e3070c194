//! The only place in husk-container with `unsafe`: the kernel edge. Calls nix lacks go through
//! rustix where it has them (openat2, pidfd_open, fsopen/fsconfig/fsmount, open_tree,
//! move_mount, setdomainname, the pty and window-size ioctls); the rest are by hand, each with
//! why no maintained crate serves: clone3 into a cgroup, mount_setattr (idmap), close_range,
//! capset of all three sets, seccomp with a listener, keyctl, ioprio, sched_setattr,
//! set_mempolicy, pidfd_send_signal (rustix's Signal cannot carry 0 or real-time signals),
//! and fork. Each wrapper takes and returns `OwnedFd`/`BorrowedFd`, never a raw fd that a
//! caller must remember to close.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::unistd::{ForkResult, Pid};

/// Resolve the path as if `dirfd` were the root: `..` and absolute symlinks stay inside.
pub const RESOLVE_IN_ROOT: u64 = 0x10;
/// Refuse magic links (/proc/self/fd/N and the like) while resolving.
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
/// Refuse any symlink while resolving.
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
/// Refuse crossing into another mount.
pub const RESOLVE_NO_XDEV: u64 = 0x01;

/// openat2(2): open `path` relative to `dirfd` with `resolve` restrictions (close-on-exec).
pub fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let oflags = OFlags::from_bits_retain((flags | libc::O_CLOEXEC) as u32);
    let resolve = ResolveFlags::from_bits_retain(resolve);
    loop {
        match rustix::fs::openat2(dirfd, path, oflags, Mode::from_bits_retain(mode), resolve) {
            // A concurrent rename raced the resolution: retry.
            Err(rustix::io::Errno::AGAIN) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

/// argv and envp for an exec in a forked child: the strings and their NULL-terminated
/// pointer arrays, all built before the fork, so that the exec allocates nothing.
pub struct ExecArgs {
    _strings: (Vec<CString>, Vec<CString>),
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

// SAFETY: the pointers point into the CStrings owned by the same value, whose heap buffers do
// not move when it moves; nothing mutates them.
unsafe impl Send for ExecArgs {}
// SAFETY: as above; shared access only reads.
unsafe impl Sync for ExecArgs {}

impl ExecArgs {
    pub fn new(argv: Vec<CString>, envp: Vec<CString>) -> ExecArgs {
        let ptrs = |v: &[CString]| -> Vec<*const libc::c_char> {
            v.iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        };
        ExecArgs {
            argv: ptrs(&argv),
            envp: ptrs(&envp),
            _strings: (argv, envp),
        }
    }

    /// execveat(fd, "", argv, envp, AT_EMPTY_PATH): exec the file `fd` is open on. Returns
    /// only on failure, with the error.
    pub fn execveat_empty_path(&self, fd: RawFd) -> io::Error {
        // SAFETY: the path is a valid empty C string, argv and envp are NULL-terminated
        // arrays of pointers to C strings that self keeps alive.
        unsafe {
            libc::syscall(
                libc::SYS_execveat,
                fd,
                c"".as_ptr(),
                self.argv.as_ptr(),
                self.envp.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        io::Error::last_os_error()
    }
}

/// Make the child of `cmd` exec the file `fd` is open on, with `exec`, instead of `cmd`'s
/// program (once its stdio is in place). A failed exec fails the spawn.
pub fn exec_fd_instead(cmd: &mut std::process::Command, fd: RawFd, exec: ExecArgs) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before its exec. It only calls execveat
    // on arrays built before the fork, so it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || Err(exec.execveat_empty_path(fd)));
    }
}

/// pidfd_open(2): a handle on process `pid` that cannot be confused with a later process
/// that reuses the number.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    let pid =
        rustix::process::Pid::from_raw(pid).ok_or(io::Error::from_raw_os_error(libc::ESRCH))?;
    Ok(rustix::process::pidfd_open(
        pid,
        rustix::process::PidfdFlags::empty(),
    )?)
}

/// pidfd_send_signal(2). By hand: rustix's `Signal` cannot carry 0 (a liveness probe) or the
/// real-time signals (docker's 34-64) without unsafe of its own.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: the pidfd is valid for the call; a NULL siginfo is allowed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `struct mount_attr` for mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

pub const AT_RECURSIVE: u32 = 0x8000;
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

pub const MOUNT_ATTR_IDMAP: u64 = 0x100000;

/// mount_setattr(2) on the mount `fd` refers to (AT_EMPTY_PATH), recursively when asked.
pub fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, set: u64, clear: u64) -> io::Result<()> {
    mount_setattr_raw(
        fd,
        recursive,
        &MountAttr {
            attr_set: set,
            attr_clr: clear,
            propagation: 0,
            userns_fd: 0,
        },
    )
}

/// Give the detached mount `fd` the id mapping of user namespace `userns`
/// (MOUNT_ATTR_IDMAP), on its submounts too when `recursive`.
pub fn mount_setattr_idmap(
    fd: BorrowedFd<'_>,
    userns: BorrowedFd<'_>,
    recursive: bool,
) -> io::Result<()> {
    mount_setattr_raw(
        fd,
        recursive,
        &MountAttr {
            attr_set: MOUNT_ATTR_IDMAP,
            attr_clr: 0,
            propagation: 0,
            userns_fd: userns.as_raw_fd() as u64,
        },
    )
}

fn mount_setattr_raw(fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr) -> io::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: the empty path is a valid C string, `attr` is initialised and outlives the call,
    // and the size passed is its exact size.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// open_tree(OPEN_TREE_CLONE): a detached copy of the mount at `path` (with its submounts
/// when `recursive`), as for a bind mount that is not attached anywhere yet.
pub fn open_tree_clone(path: &CStr, recursive: bool) -> io::Result<OwnedFd> {
    use rustix::mount::OpenTreeFlags as F;
    let mut flags = F::OPEN_TREE_CLONE | F::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= F::AT_RECURSIVE;
    }
    Ok(rustix::mount::open_tree(rustix::fs::CWD, path, flags)?)
}

/// move_mount(2) of the detached mount `from` onto the file or directory `onto` (both by fd).
pub fn move_mount_onto(from: BorrowedFd<'_>, onto: BorrowedFd<'_>) -> io::Result<()> {
    use rustix::mount::MoveMountFlags as F;
    let flags = F::MOVE_MOUNT_F_EMPTY_PATH | F::MOVE_MOUNT_T_EMPTY_PATH;
    Ok(rustix::mount::move_mount(from, c"", onto, c"", flags)?)
}

/// move_mount(2) of the detached mount `from` onto the path `target`, for a forked child of a
/// threaded process: a raw call, no allocation. 0, or the errno.
pub fn move_mount_raw(from: RawFd, target: &CStr) -> i32 {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    // SAFETY: both strings are valid C strings that outlive the call; the fds are the
    // caller's.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if ret == 0 {
        0
    } else {
        errno()
    }
}

/// For a forked child of a threaded process: enter the mount namespace `ns`, make the
/// directory `root` its root, and move each detached mount onto its target path there, over
/// whatever was on it (unmounted first). Raw calls on what the caller made: no allocation.
/// 0, or the errno of the step that failed.
pub fn move_mounts_in_namespace(
    ns: BorrowedFd<'_>,
    root: BorrowedFd<'_>,
    moves: &[(OwnedFd, CString)],
) -> i32 {
    // SAFETY: plain system calls on valid fds and C strings; nothing is allocated.
    let entered = unsafe {
        libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNS) == 0
            && libc::fchdir(root.as_raw_fd()) == 0
            && libc::chroot(c".".as_ptr()) == 0
    };
    if !entered {
        return errno();
    }
    for (tree, target) in moves {
        // SAFETY: as above; a target with nothing on it fails with EINVAL, which is fine.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        let err = move_mount_raw(tree.as_raw_fd(), target);
        if err != 0 {
            return err;
        }
    }
    0
}

/// The calling thread's errno.
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

/// Run `work` in a forked child and wait for it, from a process that may have other threads
/// (husk's procfs daemon). `work` must only make raw system calls on what was made before the
/// fork: no allocation, no lock, which another thread may have held at the fork. It returns 0
/// or an errno, which becomes the child's exit code and this function's error.
pub fn in_child(work: impl FnOnce() -> i32) -> io::Result<()> {
    // SAFETY: the child runs only `work` (see above) and leaves with _exit, which runs no
    // atexit handler and no destructor.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        ForkResult::Child => {
            let code = work();
            // SAFETY: _exit ends the child at once, as a forked child of a threaded process
            // must.
            unsafe { libc::_exit(code & 0xff) }
        }
        ForkResult::Parent { child } => {
            match nix::sys::wait::waitpid(child, None).map_err(io::Error::from)? {
                nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(()),
                nix::sys::wait::WaitStatus::Exited(_, code) => {
                    Err(io::Error::from_raw_os_error(code))
                }
                other => Err(io::Error::other(format!("the child ended: {other:?}"))),
            }
        }
    }
}

/// Mark every fd from `first` upward close-on-exec (close_range with CLOSE_RANGE_CLOEXEC), so
/// that nothing of husk's leaks into the container (CVE-2024-21626).
pub fn cloexec_from(first: u32) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: plain syscall with integer arguments; it only changes fd flags.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The three capability sets as 64-bit masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// capset(2) of all three sets at once (so that E ⊆ P holds at every step).
pub fn capset(sets: CapSets) -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let split = |m: u64| (m as u32, (m >> 32) as u32);
    let (e0, e1) = split(sets.effective);
    let (p0, p1) = split(sets.permitted);
    let (i0, i1) = split(sets.inheritable);
    let data = [
        Data {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        Data {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: header and data are initialised, correctly laid out for version 3 (two Data
    // structs), and outlive the call.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// setdomainname(2).
pub fn setdomainname(name: &str) -> io::Result<()> {
    Ok(rustix::system::setdomainname(name.as_bytes())?)
}

/// fork(2).
///
/// The caller must be single-threaded: husk never starts a thread, so the child may allocate
/// and take locks (allocator, logger) without finding one held by a thread that no longer
/// exists. The release profile uses panic=abort, so nothing unwinds out of the child.
pub fn fork() -> io::Result<ForkResult> {
    // SAFETY: husk is single-threaded at every fork (see above); the child continues with a
    // consistent copy of the address space.
    unsafe { nix::unistd::fork() }.map_err(io::Error::from)
}

/// `struct clone_args` of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// fork(2), the child born in the cgroup v2 directory `cgroup` (clone3 with
/// CLONE_INTO_CGROUP). Writing a pid to cgroup.procs takes the kernel's threadgroup lock for
/// writing, which waits for an RCU grace period (10-20 ms here); a child created in place
/// never moves. Returns `None` when the kernel cannot (then fork and write cgroup.procs).
///
/// Same rule as `fork`: the caller is single-threaded. Unlike glibc's fork, no atfork
/// handlers run and glibc's cached thread id in the child still holds the parent's; with a
/// single thread nothing of husk's depends on either (raise() in the child fails with ESRCH
/// rather than reach another process, and abort() then falls back to its trap instruction).
pub fn fork_into_cgroup(cgroup: BorrowedFd<'_>) -> io::Result<Option<ForkResult>> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is initialised and outlives the call; without CLONE_VM and with no stack
    // given the child runs on a copy of the parent's memory, as after fork, and husk is
    // single-threaded here (see above).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        0 => Ok(Some(ForkResult::Child)),
        pid if pid > 0 => Ok(Some(ForkResult::Parent {
            child: Pid::from_raw(pid as i32),
        })),
        _ => {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOSYS) | Some(libc::E2BIG) | Some(libc::EINVAL) => Ok(None),
                _ => Err(e),
            }
        }
    }
}

/// fork(2), the child made a child of the caller's parent (CLONE_PARENT): the intermediate
/// forks the container's init this way, so that the init is husk's own child and husk can
/// wait for it without being a subreaper (`run --no-subreaper`, as runc's init is runc's
/// child).
///
/// Same rule as `fork`: the caller is single-threaded, and glibc's cached thread id in the
/// child still holds the caller's (see `fork_into_cgroup`).
pub fn fork_sibling() -> io::Result<ForkResult> {
    // SAFETY: clone with only CLONE_PARENT and the exit signal, and no new stack, is fork with
    // another parent: the child runs on a copy of the caller's memory, and the caller is
    // single-threaded (see above). The unused pointer arguments are null.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match ret {
        0 => Ok(ForkResult::Child),
        pid if pid > 0 => Ok(ForkResult::Parent {
            child: Pid::from_raw(pid as i32),
        }),
        _ => Err(io::Error::last_os_error()),
    }
}

/// set_mempolicy(2): `mode` with its flags, over the nodes set in `mask` (64 per word).
pub fn set_mempolicy(mode: i32, mask: &[u64]) -> io::Result<()> {
    let (ptr, maxnode) = if mask.is_empty() {
        (std::ptr::null(), 0usize)
    } else {
        // The kernel reads maxnode - 1 bits.
        (mask.as_ptr(), mask.len() * 64 + 1)
    };
    // SAFETY: `mask` outlives the call and holds at least maxnode - 1 bits; a null mask with
    // maxnode 0 is the empty set.
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Exit immediately without running atexit handlers or flushing stdio buffers shared with the
/// parent (the forked child's way out).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it never returns.
    unsafe { libc::_exit(code) }
}

/// A pid from nix's type.
pub fn raw(pid: Pid) -> i32 {
    pid.as_raw()
}

/// setrlimit(2) by raw resource number, so that every RLIMIT_* of the spec is reachable.
pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is initialised and outlives the call.
    let ret = unsafe { libc::setrlimit(resource as _, &lim) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// openat(2) with plain resolution, returning an owned fd.
pub fn openat(dirfd: BorrowedFd<'_>, path: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    openat2(dirfd, path, flags, mode, 0)
}

/// AT_FDCWD as a borrowed fd, for the *at calls (as rustix's `CWD`).
pub fn at_fdcwd() -> BorrowedFd<'static> {
    // SAFETY: AT_FDCWD (-100) is not -1 (BorrowedFd's only invalid value) and is a sentinel the
    // kernel interprets as the current directory: there is no resource that could be closed.
    unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) }
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a fresh session keyring for the container, so
/// that it does not share the caller's keys.
pub fn join_session_keyring(name: &CStr) -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Take ownership of an fd the kernel just handed us (SCM_RIGHTS, ioctl results).
pub fn own_fd(raw: RawFd) -> OwnedFd {
    // SAFETY: callers pass an fd that was just created for this process and that nothing else
    // owns or will close.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// Unlock a pty master (unlockpt) and open its peer with TIOCGPTPEER: the slave is reached
/// through the master itself, never by a /dev/pts path the container could swap.
pub fn pty_peer(master: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    use rustix::pty::OpenptFlags as F;
    rustix::pty::unlockpt(master)?;
    Ok(rustix::pty::ioctl_tiocgptpeer(
        master,
        F::RDWR | F::NOCTTY | F::CLOEXEC,
    )?)
}

/// A terminal's size (TIOCGWINSZ), as (rows, columns).
pub fn window_size(fd: BorrowedFd<'_>) -> io::Result<(u16, u16)> {
    let ws = rustix::termios::tcgetwinsize(fd)?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Set a terminal's size (TIOCSWINSZ).
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    Ok(rustix::termios::tcsetwinsize(fd, ws)?)
}

/// Make the terminal on fd 0 the calling session leader's controlling terminal (TIOCSCTTY).
pub fn set_controlling_terminal() -> io::Result<()> {
    Ok(rustix::process::ioctl_tiocsctty(std::io::stdin())?)
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog): with SECCOMP_FILTER_FLAG_NEW_LISTENER the
/// kernel returns the notify fd.
pub fn seccomp_load(prog: &[seccompiler::sock_filter], flags: u32) -> io::Result<Option<OwnedFd>> {
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const seccompiler::sock_filter,
    }
    const SECCOMP_SET_MODE_FILTER: u32 = 1;
    const NEW_LISTENER: u32 = 8;
    let fprog = SockFprog {
        len: u16::try_from(prog.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
        filter: prog.as_ptr(),
    };
    // SAFETY: `fprog` points at `prog`, a valid array of `len` sock_filter structs (the same
    // layout as the kernel's), and both outlive the call; the kernel copies the program.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const SockFprog,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & NEW_LISTENER != 0 {
        return Ok(Some(own_fd(ret as RawFd)));
    }
    Ok(None)
}

/// A fresh, detached procfs instance (fsopen + fsconfig + fsmount): it belongs to the calling
/// process's pid namespace and nothing mounted in the container can cover any file in it.
pub fn private_procfs() -> io::Result<OwnedFd> {
    detached_mount(c"proc")
}

/// A handler that ends the process: `_exit(128 + signal)`, async-signal-safe.
extern "C" fn exit_on(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe and takes no lock.
    unsafe { libc::_exit(128 + sig) }
}

/// Make `signals` end the process. A container's init waiting for `start` is PID 1 of its pid
/// namespace, which the kernel spares every signal it has no handler for (SIGKILL aside):
/// runc's init, a Go program, exits on SIGHUP, SIGINT and SIGTERM, so a created container
/// can be stopped with them (through --pidfd-socket, say). husk's does the same.
pub fn exit_on_signals(signals: &[libc::c_int]) -> io::Result<()> {
    for &sig in signals {
        // SAFETY: an all-zero sigaction is valid; the handler is an extern "C" fn that only
        // calls _exit; sigaction copies the struct.
        let ret = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = exit_on as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut())
        };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// SIGPIPE back to its default (Rust ignores it, and a write to a closed pipe then fails with
/// EPIPE and `println!` panics): for the commands that only print, so that `husk list | head
/// -1` ends husk quietly, as it ends runc.
pub fn default_sigpipe() {
    // SAFETY: SIG_DFL installs no handler, so no code of ours runs in signal context.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Every signal back to its default disposition, as runc does before exec: an ignored signal
/// stays ignored across execve, so a husk started under `nohup` (SIGHUP ignored) or by Rust
/// (SIGPIPE ignored) would pass that on, and `docker kill -s HUP` would go unseen. Handlers
/// do not survive exec; only SIG_IGN needs undoing, but SIG_DFL for all is simplest.
pub fn default_signal_dispositions() -> io::Result<()> {
    /// The kernel's struct sigaction (x86_64 and aarch64 layout): handler, flags, restorer,
    /// mask. SIG_DFL needs no restorer.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let act = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // The raw call, because glibc's sigaction refuses its own internal signals (32 and 33),
    // which a parent may also have left ignored. SIGKILL and SIGSTOP cannot be changed.
    for sig in (1..=64).filter(|s| ![libc::SIGKILL, libc::SIGSTOP].contains(s)) {
        // SAFETY: `act` is a valid kernel sigaction installing no handler (so no code of ours
        // runs in signal context) and outlives the call; the old action is not asked for.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &act as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A detached, read-only overlayfs mount whose only layer is `lower` (fsopen + fsconfig +
/// fsmount): files opened through it can never be opened for writing (no upper layer), and
/// the mount is in no namespace's tree, so nothing needs unmounting.
pub fn readonly_overlay(lower: &CStr) -> io::Result<OwnedFd> {
    // Without an upper layer overlayfs wants two lower ones, the first hiding the second. As
    // runc does: an attached directory that is neither above nor below `lower` (overlapping
    // layers are refused), here /dev. Nothing of it shows through: only husk's own name is
    // opened, and `lower` has it. Where /dev cannot be a layer, an empty detached tmpfs,
    // named by its /proc/self/fd path; that works only since Linux 6.15 (Debian 12's 6.1
    // refuses it with EINVAL and a kernel log line, so it is not the first choice).
    overlay_of(&layers(lower, "/dev")?).or_else(|_| {
        let empty = detached_mount(c"tmpfs")?;
        overlay_of(&layers(
            lower,
            &format!("/proc/self/fd/{}", empty.as_raw_fd()),
        )?)
    })
}

/// overlayfs's lowerdir= value: `top` over `below`.
fn layers(top: &CStr, below: &str) -> io::Result<std::ffi::CString> {
    let joined = format!("{}:{below}", top.to_string_lossy());
    std::ffi::CString::new(joined).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// A new detached tmpfs with `options` (`mode=1777`, `size=64m`: each `key=value` or a bare
/// flag set through fsconfig), for tmpcopyup to fill before it is moved into place.
pub fn detached_tmpfs(options: &[String]) -> io::Result<OwnedFd> {
    let fs = fs_context(c"tmpfs")?;
    for opt in options {
        let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
        let c = |s: &str| {
            std::ffi::CString::new(s).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
        };
        fs_set(&fs, &c(key)?, &c(value)?)?;
    }
    fs_mount(&fs, 0)
}

/// A new detached mount of filesystem `fstype` with default options.
fn detached_mount(fstype: &CStr) -> io::Result<OwnedFd> {
    let fs = fs_context(fstype)?;
    fs_mount(&fs, 0)
}

fn overlay_of(lower: &CStr) -> io::Result<OwnedFd> {
    const MOUNT_ATTR_RDONLY: u32 = 1;
    const MOUNT_ATTR_NODEV: u32 = 4;
    let fs = fs_context(c"overlay")?;
    fs_set(&fs, c"lowerdir", lower)?;
    // Without an upper layer the overlay is read-only; these keep it from needing features
    // (index, xino) that some lower filesystems lack.
    let _ = fs_set(&fs, c"xino", c"off");
    let _ = fs_set(&fs, c"index", c"off");
    fs_mount(&fs, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV)
}

/// fsopen(2): a filesystem context for `fstype`.
fn fs_context(fstype: &CStr) -> io::Result<OwnedFd> {
    Ok(rustix::mount::fsopen(
        fstype,
        rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC,
    )?)
}

/// fsconfig(FSCONFIG_SET_STRING): one option of a filesystem context.
fn fs_set(fs: &OwnedFd, key: &CStr, value: &CStr) -> io::Result<()> {
    Ok(rustix::mount::fsconfig_set_string(fs, key, value)?)
}

/// fsconfig(FSCONFIG_CMD_CREATE), then fsmount(2) with mount attributes `attrs`: the
/// detached mount.
fn fs_mount(fs: &OwnedFd, attrs: u32) -> io::Result<OwnedFd> {
    use rustix::mount::{FsMountFlags, MountAttrFlags};
    rustix::mount::fsconfig_create(fs)?;
    let attrs = MountAttrFlags::from_bits_retain(attrs);
    Ok(rustix::mount::fsmount(
        fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        attrs,
    )?)
}

/// personality(2).
pub fn personality(persona: libc::c_ulong) -> io::Result<()> {
    // SAFETY: plain syscall with an integer argument.
    if unsafe { libc::personality(persona) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// ioprio_set(IOPRIO_WHO_PROCESS, 0 = the caller, ioprio).
pub fn ioprio_set_self(ioprio: i32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: i32 = 1;
    // SAFETY: plain syscall with integer arguments.
    if unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, ioprio) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `struct sched_attr` (SCHED_ATTR_SIZE_VER0, 48 bytes).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// sched_setattr(0 = the caller, attr, 0).
pub fn sched_setattr_self(mut attr: SchedAttr) -> io::Result<()> {
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is an initialised sched_attr whose size field matches its layout and it
    // outlives the call.
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Run `f` in the mount namespace `ns`, then come back to husk's own (and its working
/// directory, which setns resets). For the parent only, which is single-threaded: setns of a
/// mount namespace needs a process that shares its filesystem context with no other thread.
pub fn in_mount_namespace<T>(ns: BorrowedFd<'_>, f: impl FnOnce() -> T) -> io::Result<T> {
    let own: OwnedFd = std::fs::File::open("/proc/self/ns/mnt")?.into();
    let cwd = nix::fcntl::open(
        ".",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map(own_fd)?;
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNS)?;
    let out = f();
    if let Err(e) = nix::sched::setns(&own, nix::sched::CloneFlags::CLONE_NEWNS) {
        // husk cannot go on in the container's mount namespace: nothing it does after this
        // could be trusted to reach the host's files.
        eprintln!("husk: returning to the host's mount namespace: {e}");
        std::process::abort();
    }
    nix::unistd::fchdir(cwd.as_raw_fd())?;
    Ok(out)
}

/// Give the child of `cmd` the fds `fds`, in order, at 3, 4, 5 and so on (criu swrk's socket
/// and the directories and namespaces it is told about by number), not close-on-exec there.
pub fn place_fds(cmd: &mut std::process::Command, fds: Vec<RawFd>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before its exec and only calls fcntl and
    // dup2 on numbers it was given: no allocation, no lock. Each source is first copied above
    // every target, so that placing one fd cannot overwrite another still to be placed.
    unsafe {
        cmd.pre_exec(move || {
            let high = 3 + fds.len() as RawFd;
            let mut copies = [0 as RawFd; 16];
            for (i, fd) in fds.iter().take(copies.len()).enumerate() {
                let copy = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, high);
                if copy < 0 {
                    return Err(io::Error::last_os_error());
                }
                copies[i] = copy;
            }
            for (i, copy) in copies.iter().take(fds.len().min(16)).enumerate() {
                if libc::dup2(*copy, 3 + i as RawFd) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}
