//! `linux.seccomp.listenerPath`: the seccomp agent that gets the notify fd.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use super::Listener;
use crate::error::{fail, StepContext, SysError};

/// Connect to `listenerPath` (before the process leaves the host's mount namespace).
pub fn connect_listener(l: &Listener) -> Result<UnixStream, SysError> {
    UnixStream::connect(&l.path).step(|| {
        format!(
            "linux.seccomp.listenerPath: failed to connect with seccomp agent at {}",
            l.path.display()
        )
    })
}

/// Send the notify fd to the seccomp agent with the container process state, as the spec's
/// "containerProcessState" message: one JSON document, the fd in SCM_RIGHTS.
pub fn send_to_listener(
    socket: &UnixStream,
    notify_fd: BorrowedFd<'_>,
    pid: i32,
    metadata: &str,
    state: &husk_spec::ContainerState,
) -> Result<(), SysError> {
    let msg = serde_json::json!({
        "ociVersion": husk_spec::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": metadata,
        "state": state,
    })
    .to_string();
    let fds = [notify_fd.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[std::io::IoSlice::new(msg.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(|_| ())
    .map_err(|e| fail("linux.seccomp: sending the notify fd to the listener", e))
}
