//! `husk kill`: signal the container's init (through a pidfd, so a reused pid is never hit),
//! or with --all every process in its cgroup.

use std::os::fd::AsFd;
use std::time::Duration;

use husk_spec::Status;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

use crate::error::StepContext;
use crate::state::Store;
use crate::{process_info, sys, Error};

/// A signal given as a name (`KILL`, `SIGKILL`, `sigkill`) or a number (`9`, up to SIGRTMAX;
/// 0 checks that the container runs, as kill(2) does).
pub fn parse_signal(s: &str) -> Result<i32, Error> {
    let bad = || Error::BadSignal(s.to_string());
    if let Ok(n) = s.parse::<i32>() {
        return if (0..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    if let Some(rest) = name.strip_prefix("SIGRTMIN+") {
        let n: i32 = rest.parse().map_err(|_| bad())?;
        let sig = libc::SIGRTMIN() + n;
        return if sig <= libc::SIGRTMAX() {
            Ok(sig)
        } else {
            Err(bad())
        };
    }
    name.parse::<Signal>().map(|s| s as i32).map_err(|_| bad())
}

/// As runc: `kill` signals the init; with `--all`, or a SIGKILL to a container that shares
/// the host's pid namespace (whose other processes would outlive its init), every process in
/// its cgroup. A stopped container is an error, except with `--all` (runc's obsolete flag
/// keeps that meaning) and except a SIGKILL to a host-pid-namespace container whose init is
/// gone but whose other processes are not.
pub fn kill(store: &Store, id: &str, sig: i32, all: bool) -> Result<(), Error> {
    let dir = store.open(id)?;
    let stored = dir.load()?;
    let status = dir.status(&stored);
    let host_pidns = !crate::namespaces::NamespacePlan::from_config(&stored.config)
        .has_own(CloneFlags::CLONE_NEWPID);
    let everything = all || (host_pidns && sig == libc::SIGKILL);
    if status == Status::Stopped && !everything {
        return Err(Error::NotRunning {
            id: id.to_string(),
            status,
        });
    }
    if everything {
        return signal_everything(&stored, sig);
    }
    signal_init(id, stored.pid, stored.pid_start, sig)?;
    if sig == libc::SIGKILL && status == Status::Paused {
        if let Some(cg) = &stored.cgroup {
            cg.thaw_if_frozen()?;
        }
    }
    Ok(())
}

/// Every process of the container: its cgroup's, or rootless without a cgroup, its pid
/// namespace's.
fn signal_everything(stored: &crate::state::Stored, sig: i32) -> Result<(), Error> {
    if sig == 0 {
        return Ok(());
    }
    let s = Signal::try_from(sig).map_err(|_| Error::BadSignal(sig.to_string()))?;
    if let Some(cg) = &stored.cgroup {
        cg.signal_all(s)?;
        return Ok(());
    }
    if process_info::is_alive(stored.pid, stored.pid_start) {
        for pid in process_info::pids_in_pid_namespace_of(stored.pid) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), s);
        }
    }
    Ok(())
}

fn signal_init(id: &str, pid: i32, start: u64, sig: i32) -> Result<(), Error> {
    let no_such = || Error::Signal {
        id: id.to_string(),
        source: std::io::Error::other("no such process"),
    };
    let pidfd = sys::pidfd_open(pid).map_err(|_| no_such())?;
    // The pidfd pins this process; check it is still the container's init before signalling.
    if !process_info::is_alive(pid, start) {
        return Err(no_such());
    }
    sys::pidfd_send_signal(pidfd.as_fd(), sig).map_err(|source| Error::Signal {
        id: id.to_string(),
        source,
    })
}

/// SIGKILL `pid` and wait (up to 10 s) until it is gone; reap it if it is our child.
pub fn kill_and_wait(pid: i32) {
    let Ok(pidfd) = sys::pidfd_open(pid) else {
        return;
    };
    let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
    wait_gone(&pidfd, Duration::from_secs(10));
    let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
}

/// A process husk made, killed (and reaped) if dropped before `disarm`: the cleanup of every
/// error path after a fork, in one place.
pub struct ProcessGuard {
    pid: i32,
    /// husk's own child, reaped with waitpid; otherwise a grandchild, waited for by pidfd.
    own_child: bool,
    armed: bool,
}

impl ProcessGuard {
    pub fn own_child(pid: Pid) -> Self {
        ProcessGuard {
            pid: pid.as_raw(),
            own_child: true,
            armed: true,
        }
    }

    pub fn grandchild(pid: i32) -> Self {
        ProcessGuard {
            pid,
            own_child: false,
            armed: true,
        }
    }

    /// husk's child, which must exit 0 now that it has done its part.
    pub fn reap(mut self) -> Result<(), crate::Error> {
        self.armed = false;
        match waitpid(Pid::from_raw(self.pid), None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(other) => Err(crate::Error::Init(format!(
                "intermediate process ended with {other:?}"
            ))),
            Err(e) => Err(e)
                .step(|| "waiting for the intermediate process")
                .map_err(crate::Error::from),
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The process lives on; its pid.
    pub fn disarm(mut self) -> i32 {
        self.armed = false;
        self.pid
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.own_child {
            let _ = nix::sys::signal::kill(Pid::from_raw(self.pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(self.pid), None);
        } else {
            kill_and_wait(self.pid);
        }
    }
}

/// Wait for the process behind `pidfd` to exit.
pub fn wait_gone(pidfd: &std::os::fd::OwnedFd, timeout: Duration) {
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let t = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    loop {
        match poll(&mut fds, t) {
            Err(nix::Error::EINTR) => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGKILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("RTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert_eq!(
            parse_signal("0").unwrap(),
            0,
            "a liveness check, as kill -0"
        );
        for bad in ["65", "FOO", "", "-9"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
