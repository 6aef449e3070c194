//! Processes: fork, clone3 into a cgroup (CLONE_INTO_CGROUP) or as a sibling
//! (CLONE_PARENT), work in a forked child, and the exit that runs no atexit handler.

use super::*;

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

/// Exit immediately without running atexit handlers or flushing stdio buffers shared with the
/// parent (the forked child's way out).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it never returns.
    unsafe { libc::_exit(code) }
}
