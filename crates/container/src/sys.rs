//! The only place in husk-container with `unsafe`: the kernel edge. Calls nix lacks go through
//! rustix where it has them (openat2, pidfd_open, fsopen/fsconfig/fsmount, open_tree,
//! move_mount, setdomainname, the pty and window-size ioctls); the rest are by hand, each with
//! why no maintained crate serves: clone3 into a cgroup, mount_setattr (idmap), close_range,
//! capset of all three sets, seccomp with a listener, keyctl, ioprio, sched_setattr,
//! set_mempolicy, pidfd_send_signal (rustix's Signal cannot carry 0 or real-time signals),
//! and fork. Each wrapper takes and returns `OwnedFd`/`BorrowedFd`, never a raw fd that a
//! caller must remember to close. Three groups have files of their own: fork.rs (fork and
//! clone3), mount_api.rs (the new mount API and mount namespaces) and signals.rs.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::unistd::{ForkResult, Pid};

mod fork;
mod mount_api;
mod signals;

pub use fork::*;
pub use mount_api::*;
pub use signals::*;

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

/// The calling thread's errno.
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
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
    mount_api::detached_mount(c"proc")
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
