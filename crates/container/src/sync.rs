//! The typed protocol between `husk create` (the parent), the intermediate process and the
//! container's init, over one SOCK_SEQPACKET socketpair (one message per packet, JSON encoded).
//!
//! ```text
//! parent                      intermediate                         init
//!   fork ──────────────────▶  join namespaces (setns)
//!                             unshare(user) if new
//!   ◀──────────────── Hello
//!   cgroup += pid, id maps
//!   Proceed ──────────────▶   unshare(the others), time offsets
//!                             fork ──────────────────────────────▶
//!   ◀──────── InitPid{pid}    exit 0
//!                                                                  mounts, /dev (before pivot)
//!   ◀──────────────────────────────────────────────────── RunHooks
//!   prestart, createRuntime hooks
//!   HooksDone{state} ──────────────────────────────────────────▶
//!                                                                  createContainer hooks, pivot_root,
//!                                                                  masks, sysctl, hostname
//!   ◀─────────────────────────────────────────────────────── Ready
//!   write state.json, pid file; exit                               wait on exec.fifo for `start`
//! ```
//! Any side may send `Error{message}` instead and exit. A closed socket (EOF) means the other
//! side died; the parent then reports it instead of hanging.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use husk_spec::ContainerState;
use nix::sys::socket::{
    recvmsg, send, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType,
};

use crate::sys;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum ToParent {
    Hello,
    InitPid {
        pid: i32,
    },
    RunHooks,
    /// The init asks for the source of `mounts[index]`, opened by husk in the container's
    /// mount namespace (the init's, passed as SCM_RIGHTS with this message): an idmapped
    /// mount, or a bind source the container's user cannot reach (idmapped_mounts.rs).
    MountSource {
        index: usize,
    },
    /// The pty master of a `process.terminal` process, passed as SCM_RIGHTS with this message.
    Console,
    Ready,
    Error {
        message: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum ToChild {
    /// The answer to `ToParent::MountSource`: the source, passed as SCM_RIGHTS.
    MountSource {
        index: usize,
    },
    Proceed,
    HooksDone {
        state: ContainerState,
    },
    Error {
        message: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("creating the sync socket: {0}")]
    Socket(#[source] nix::Error),
    #[error("sending {what}: {source}")]
    Send {
        what: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("receiving: {0}")]
    Recv(#[source] nix::Error),
    #[error("the other side closed the sync socket (it exited)")]
    Closed,
    #[error("malformed sync message: {0}")]
    Malformed(#[source] serde_json::Error),
    #[error("expected {expected}, got {got}")]
    Unexpected { expected: &'static str, got: String },
}

/// One end of the sync channel.
pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair: (parent's end, child's end). Both are close-on-exec.
pub fn pair() -> Result<(Channel, Channel), SyncError> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(SyncError::Socket)?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

const MAX_MESSAGE: usize = 64 * 1024;

impl Channel {
    fn send_raw<T: Serialize>(&self, what: &'static str, msg: &T) -> Result<(), SyncError> {
        let data = serde_json::to_vec(msg).expect("sync messages serialise");
        loop {
            match send(self.fd.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(nix::Error::EINTR) => continue,
                Err(source) => return Err(SyncError::Send { what, source }),
            }
        }
    }

    /// One message, and the fd that came with it (SCM_RIGHTS), if any.
    fn recv_raw<T: for<'de> Deserialize<'de>>(&self) -> Result<(T, Option<OwnedFd>), SyncError> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => break (msg.bytes, received_fd(&msg)),
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(SyncError::Recv(e)),
            }
        };
        if n == 0 {
            return Err(SyncError::Closed);
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(SyncError::Malformed)?;
        Ok((msg, fd))
    }

    /// Send `msg` with `fd` attached (SCM_RIGHTS).
    pub fn to_parent_with_fd(&self, msg: &ToParent, fd: BorrowedFd<'_>) -> Result<(), SyncError> {
        self.send_with_fd(msg, fd)
    }

    /// Send `msg` with `fd` attached (SCM_RIGHTS).
    pub fn to_child_with_fd(&self, msg: &ToChild, fd: BorrowedFd<'_>) -> Result<(), SyncError> {
        self.send_with_fd(msg, fd)
    }

    fn send_with_fd<T: Serialize>(&self, msg: &T, fd: BorrowedFd<'_>) -> Result<(), SyncError> {
        let data = serde_json::to_vec(msg).expect("sync messages serialise");
        let fds = [fd.as_raw_fd()];
        let iov = [std::io::IoSlice::new(&data)];
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &iov,
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(nix::Error::EINTR) => continue,
                Err(source) => {
                    return Err(SyncError::Send {
                        what: "message with an fd",
                        source,
                    })
                }
            }
        }
    }

    /// The child's next message, and the fd sent with it.
    pub fn from_child_with_fd(&self) -> Result<(ToParent, Option<OwnedFd>), SyncError> {
        self.recv_raw()
    }

    pub fn to_parent(&self, msg: &ToParent) -> Result<(), SyncError> {
        self.send_raw("message to parent", msg)
    }
    pub fn from_child(&self) -> Result<ToParent, SyncError> {
        self.recv_raw().map(|(m, _)| m)
    }
    pub fn to_child(&self, msg: &ToChild) -> Result<(), SyncError> {
        self.send_raw("message to child", msg)
    }
    pub fn from_parent(&self) -> Result<ToChild, SyncError> {
        self.recv_raw().map(|(m, _)| m)
    }

    /// The parent's next message, and the fd sent with it.
    pub fn from_parent_with_fd(&self) -> Result<(ToChild, Option<OwnedFd>), SyncError> {
        self.recv_raw()
    }

    /// Wait for the parent's `Proceed`.
    pub fn expect_proceed(&self) -> Result<(), SyncError> {
        match self.from_parent()? {
            ToChild::Proceed => Ok(()),
            other => Err(SyncError::Unexpected {
                expected: "Proceed",
                got: format!("{other:?}"),
            }),
        }
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The child's next message, which `take` accepts (or hands back): the child's own Error,
    /// any other message or its exit before sending one is an error naming what was awaited.
    pub fn expect_from_child<T>(
        &self,
        awaited: &str,
        take: impl FnOnce(ToParent) -> Result<T, ToParent>,
    ) -> Result<T, crate::Error> {
        use crate::Error::Init;
        match self.from_child() {
            Ok(ToParent::Error { message }) => Err(Init(message)),
            Ok(m) => take(m).map_err(|other| Init(format!("expected {awaited}, got {other:?}"))),
            Err(SyncError::Closed) => Err(Init(format!("exited before {awaited}"))),
            Err(e) => Err(e.into()),
        }
    }

    /// The intermediate's Hello: it is in its namespaces (or ready to make them).
    pub fn expect_hello(&self) -> Result<(), crate::Error> {
        self.expect_from_child("Hello", |m| match m {
            ToParent::Hello => Ok(()),
            other => Err(other),
        })
    }

    /// The pid of the process the intermediate forked.
    pub fn receive_pid(&self) -> Result<i32, crate::Error> {
        self.expect_from_child("the pid", |m| match m {
            ToParent::InitPid { pid } => Ok(pid),
            other => Err(other),
        })
    }

    /// Messages until the child is `Ready` (the init) or has exec'd (EOF: the socket is
    /// close-on-exec): the pty master, if it sends one, is returned.
    pub fn receive_console_until(&self, until: Until) -> Result<Option<OwnedFd>, crate::Error> {
        use crate::Error::Init;
        let mut console = None;
        loop {
            match self.from_child_with_fd() {
                Ok((ToParent::Console, Some(master))) if console.is_none() => {
                    console = Some(master)
                }
                Ok((ToParent::Ready, _)) if until == Until::Ready => return Ok(console),
                Err(SyncError::Closed) if until == Until::Exec => return Ok(console),
                Err(SyncError::Closed) => return Err(Init(format!("exited before {until:?}"))),
                Ok((ToParent::Error { message }, _)) => return Err(Init(message)),
                Ok((other, _)) => return Err(Init(format!("expected {until:?}, got {other:?}"))),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Where a child's run of messages ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The init reports Ready and waits for `start`.
    Ready,
    /// An exec'd process: its socket closes as it execs.
    Exec,
}

/// The fd a received message carried (SCM_RIGHTS), owned; the last one if it carried several.
pub(crate) fn received_fd(msg: &nix::sys::socket::RecvMsg<'_, '_, ()>) -> Option<OwnedFd> {
    let mut fd = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for raw in fds {
                    fd = Some(sys::own_fd(raw));
                }
            }
        }
    }
    fd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_eof_is_closed() {
        let (p, c) = pair().unwrap();
        c.to_parent(&ToParent::InitPid { pid: 42 }).unwrap();
        assert_eq!(p.from_child().unwrap(), ToParent::InitPid { pid: 42 });
        p.to_child(&ToChild::Proceed).unwrap();
        c.expect_proceed().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        c.to_parent_with_fd(&ToParent::Console, file.as_fd())
            .unwrap();
        let (msg, fd) = p.from_child_with_fd().unwrap();
        assert_eq!(msg, ToParent::Console);
        let st = nix::sys::stat::fstat(fd.unwrap().as_raw_fd()).unwrap();
        assert_eq!(st.st_rdev, nix::sys::stat::makedev(1, 3));
        drop(c);
        assert!(matches!(p.from_child(), Err(SyncError::Closed)));
    }
}
