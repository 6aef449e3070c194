//! `husk run` without --detach: wait for the container's init (husk is its subreaper), forward
//! the signals husk receives to it, and turn its end into an exit code (128+N for signal N).

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{StepContext, SysError};

/// Become the subreaper of everything forked from here, so that the init (whose parent, the
/// intermediate, exits) is reparented to us and we can wait for it.
pub fn become_subreaper() -> Result<(), SysError> {
    nix::sys::prctl::set_child_subreaper(true).step(|| "prctl(PR_SET_CHILD_SUBREAPER)")
}

const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// Wait for `pid` to exit, forwarding signals to it; reaps any other orphan on the way.
pub fn wait_for_exit(pid: i32) -> Result<i32, SysError> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in FORWARDED {
        set.add(*s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .step(|| "blocking signals")?;
    loop {
        // Reap first: the child may have exited before the signals were blocked.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
                Ok(WaitStatus::Exited(p, code)) if p == Pid::from_raw(pid) => return Ok(code),
                Ok(WaitStatus::Signaled(p, sig, _)) if p == Pid::from_raw(pid) => {
                    return Ok(128 + sig as i32)
                }
                Ok(WaitStatus::StillAlive) => break,
                Ok(_) => continue,
                Err(nix::Error::ECHILD) => {
                    // Not our child (run with --no-subreaper): its status cannot be known.
                    return Err(crate::error::fail(
                        format!("waiting for the container's init {pid}"),
                        "it is not husk's child (--no-subreaper), so its exit status is unknown",
                    ));
                }
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e).step(|| "waiting for the container"),
            }
        }
        match set.wait() {
            Ok(Signal::SIGCHLD) => {}
            Ok(sig) => {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
            }
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(e).step(|| "waiting for signals"),
        }
    }
}
