//! `husk run` and `husk exec` without --detach: wait for the process (husk's own child: the
//! intermediate forks it with CLONE_PARENT), forward the signals husk receives to it, relay
//! its terminal when husk holds the pty, and turn its end into an exit code (128+N for
//! signal N).

use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{StepContext, SysError};
use crate::terminal::Relay;

/// Become the subreaper of everything forked from here, so that the container's orphans
/// (processes of a container without a pid namespace of its own, whose parent exits) are
/// reparented to husk and reaped, as runc does unless --no-subreaper.
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

/// Wait for `pid` to exit, forwarding signals to it and relaying its terminal when husk holds
/// the pty master; reaps any other orphan on the way.
pub fn wait_for_exit(pid: i32, console: Option<OwnedFd>) -> Result<i32, SysError> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in FORWARDED {
        set.add(*s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .step(|| "blocking signals")?;
    let signals = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .step(|| "signalfd")?;
    let mut relay = console.map(Relay::new);
    loop {
        // Reap first: the child may have exited before the signals were blocked.
        if let Some(code) = reap(pid)? {
            if let Some(r) = relay.as_mut() {
                r.from_master();
            }
            return Ok(code);
        }
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        let (want_stdin, want_master) = relay.as_ref().map(|r| r.wants()).unwrap_or_default();
        let stdin_at = want_stdin.then(|| {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let master_at = match (&relay, want_master) {
            (Some(r), true) => {
                fds.push(PollFd::new(r.master.as_fd(), PollFlags::POLLIN));
                Some(fds.len() - 1)
            }
            _ => None,
        };
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            r => r.step(|| "waiting for the container")?,
        };
        let ready = |i: Option<usize>| {
            i.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (stdin_ready, master_ready) = (ready(stdin_at), ready(master_at));
        if let Some(r) = relay.as_mut() {
            if stdin_ready {
                r.from_stdin();
            }
            if master_ready {
                r.from_master();
            }
        }
        while let Ok(Some(info)) = signals.read_signal() {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            match sig {
                Signal::SIGCHLD => {}
                Signal::SIGWINCH if relay.is_some() => {
                    if let Some(r) = &relay {
                        r.resize();
                    }
                }
                sig => {
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
                }
            }
        }
    }
}

/// The exit code of `pid` if it has ended (128+N for signal N); other children are reaped.
fn reap(pid: i32) -> Result<Option<i32>, SysError> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Exited(p, code)) if p == Pid::from_raw(pid) => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == Pid::from_raw(pid) => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::Error::ECHILD) => {
                // The process is husk's child from birth (CLONE_PARENT): reaped elsewhere.
                return Err(crate::error::fail(
                    format!("waiting for the container's process {pid}"),
                    "it is no longer husk's child",
                ));
            }
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e).step(|| "waiting for the container"),
        }
    }
}
