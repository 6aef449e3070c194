//! `husk start`: release the init waiting on exec.fifo, and return once it has exec'd the
//! user's program (or report why it could not), then run the poststart hooks.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use husk_spec::Status;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::error::StepContext;
use crate::state::Store;
use crate::{hooks, kill, sys, Error};

pub fn start(store: &Store, id: &str) -> Result<(), Error> {
    let dir = store.open(id)?;
    let stored = dir.load()?;
    let status = dir.status(&stored);
    if status != Status::Created {
        return Err(Error::CannotStart {
            id: id.to_string(),
            status,
        });
    }
    // Pin the init and confirm it is the container's before opening the FIFO: the open
    // releases it, and a short program may have exited by the time we looked again.
    let pidfd = sys::pidfd_open(stored.pid).step(|| format!("pidfd_open({})", stored.pid))?;
    if !crate::process_info::is_alive(stored.pid, stored.pid_start) {
        return Err(Error::CannotStart {
            id: id.to_string(),
            status: Status::Stopped,
        });
    }
    let fifo_path = dir.fifo();
    let outcome = release(&fifo_path, &pidfd)?;
    if !outcome.released || !outcome.message.is_empty() {
        let _ = std::fs::remove_file(&fifo_path);
        // The init closes the FIFO as it exits, a moment before it is gone: wait for that, so
        // that the container is "stopped" when start reports the failure.
        kill::wait_gone(&pidfd, std::time::Duration::from_secs(5));
        let why = match outcome.message.is_empty() {
            true => "the init exited before exec".to_string(),
            false => outcome.message,
        };
        return Err(Error::Init(why));
    }
    run_poststart_hooks(&stored)
}

/// What the init said through the FIFO.
struct Released {
    /// Its release byte came: the container is no longer "created".
    released: bool,
    /// What it wrote after that byte: why the process could not be exec'd.
    message: String,
}

/// Open exec.fifo to read (which releases the init) and read until EOF: the init writes one
/// NUL when released, then the FIFO closes on exec. Anything after the NUL is the init's
/// error. If the init dies, its pidfd says so.
fn release(fifo_path: &std::path::Path, pidfd: &OwnedFd) -> Result<Released, Error> {
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(fifo_path)
        .step(|| format!("opening {}", fifo_path.display()))?;
    let mut received: Vec<u8> = Vec::new();
    let mut released = false;
    loop {
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            r => r.step(|| "waiting for the container to start")?,
        };
        let fifo_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let init_gone = fds[1].revents().is_some_and(|r| !r.is_empty());
        if !fifo_ready {
            if init_gone {
                break;
            }
            continue;
        }
        let mut buf = [0u8; 4096];
        match fifo.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                received.extend_from_slice(&buf[..n]);
                if !released {
                    released = true;
                    let _ = std::fs::remove_file(fifo_path);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e).step(|| "reading exec.fifo").map_err(Error::from),
        }
    }
    let message = String::from_utf8_lossy(received.get(1..).unwrap_or_default());
    Ok(Released {
        released,
        message: message.trim().to_string(),
    })
}

/// runtime-spec 1.3.0: a failing poststart hook fails start, and the container is stopped.
fn run_poststart_hooks(stored: &crate::state::Stored) -> Result<(), Error> {
    let hooks = stored.config.hooks().as_ref();
    let Some(h) = hooks.and_then(|h| h.poststart().clone()) else {
        return Ok(());
    };
    let state = stored.public(Status::Running);
    if let Err(e) = hooks::run("poststart", &h, &state, None, None) {
        kill::kill_and_wait(stored.pid);
        return Err(e.into());
    }
    Ok(())
}
