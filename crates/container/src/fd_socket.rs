//! Handing an fd to a client that listens on a unix socket: the pty master for
//! `--console-socket`, a pidfd for `--pidfd-socket`. Both use runc's format: one message whose
//! payload names what is sent, with the fd attached as SCM_RIGHTS.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use crate::error::{StepContext, SysError};
use crate::sys;

/// Connect to `socket` (given as `flag`) and send `fd` with `payload`.
pub fn send(flag: &str, socket: &Path, payload: &[u8], fd: BorrowedFd<'_>) -> Result<(), SysError> {
    let stream = UnixStream::connect(socket)
        .step(|| format!("connecting to {flag} {}", socket.display()))?;
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(payload)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .step(|| format!("sending to {flag} {}", socket.display()))?;
    Ok(())
}

/// What a pidfd is of, named in the message as runc names it.
#[derive(Debug, Clone, Copy)]
pub enum PidfdOf {
    /// A container's init (create, run): "standard".
    Init,
    /// A process `exec` started: "setns".
    Exec,
}

/// `--pidfd-socket`: a pidfd of `pid`, with which the client can signal and wait for the
/// process without the pid-reuse race.
pub fn send_pidfd(socket: &Path, pid: i32, of: PidfdOf) -> Result<(), SysError> {
    let pidfd = sys::pidfd_open(pid).step(|| format!("pidfd_open({pid})"))?;
    let payload: &[u8] = match of {
        PidfdOf::Init => b"standard",
        PidfdOf::Exec => b"setns",
    };
    send("--pidfd-socket", socket, payload, pidfd.as_fd())
}
