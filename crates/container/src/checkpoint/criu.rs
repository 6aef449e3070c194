//! CRIU driven as runc drives it: `criu swrk 3`, a child with one end of a SOCK_SEQPACKET
//! pair at fd 3, one request written to it and the answers read until the final one. On the
//! way CRIU reports its steps (notify): husk answers each, acting on those it cares about.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nix::sys::socket::{recvmsg, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};

use super::proto::{Message, ReqType, Response};
use super::CheckpointError;
use crate::error::StepContext;
use crate::sys;

/// The CRIU binary husk runs (`--criu`, else `criu` from PATH).
#[derive(Debug, Clone)]
pub struct Criu {
    pub path: PathBuf,
}

/// runc's oldest CRIU: 3.0 answers the VERSION request.
pub const MIN_VERSION: u32 = 30000;

impl Criu {
    pub fn new(path: Option<&Path>) -> Criu {
        Criu {
            path: path.map(Path::to_path_buf).unwrap_or_else(|| "criu".into()),
        }
    }

    /// CRIU's version as major*10000 + minor*100 + sublevel; an error when it is older than
    /// runc's oldest (3.0).
    pub fn version(&self) -> Result<u32, crate::Error> {
        let mut req = Message::new();
        req.uint32(1, ReqType::Version as u32);
        let mut session = self.spawn(Vec::new(), false)?;
        let resp = session.request(&req, &mut |_, _| Ok(()))?;
        let _ = session.wait();
        let version = resp.version.unwrap_or(0);
        if version < MIN_VERSION {
            return Err(CheckpointError::TooOld {
                have: version_text(version),
                need: version_text(MIN_VERSION),
                what: "checkpoint and restore".into(),
            }
            .into());
        }
        Ok(version)
    }

    /// Whether CRIU and the kernel can track memory changes (pre-dump) and serve lazy pages.
    pub fn features(&self, mem_track: bool, lazy_pages: bool) -> Result<Response, crate::Error> {
        let mut features = Message::new();
        if mem_track {
            features.bool(1, true);
        }
        if lazy_pages {
            features.bool(2, true);
        }
        let mut req = Message::new();
        req.uint32(1, ReqType::FeatureCheck as u32)
            .message(5, &features);
        let mut session = self.spawn(Vec::new(), false)?;
        let resp = session.request(&req, &mut |_, _| Ok(()))?;
        let _ = session.wait();
        Ok(resp)
    }

    /// Start `criu swrk 3` with `fds` at 4, 5 and on (fds CRIU uses as its own: inherit_fd). With `stdio`, CRIU gets husk's own
    /// standard streams (a restore hands them to the restored process); otherwise none.
    pub fn spawn(&self, fds: Vec<RawFd>, stdio: bool) -> Result<Session, CheckpointError> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .step(|| "making the socket pair for criu swrk")?;
        let mut cmd = Command::new(&self.path);
        cmd.args(["swrk", "3"]);
        if !stdio {
            cmd.stdin(Stdio::null()).stdout(Stdio::null());
        }
        let mut placed = vec![theirs.as_raw_fd()];
        placed.extend(fds);
        sys::place_fds(&mut cmd, placed);
        let child = cmd.spawn().map_err(|source| CheckpointError::NoCriu {
            path: self.path.clone(),
            source,
        })?;
        drop(theirs);
        Ok(Session {
            sock: ours,
            child,
            path_text: self.path.display().to_string(),
        })
    }
}

/// `31701` as `3.17.1`.
pub fn version_text(v: u32) -> String {
    format!("{}.{}.{}", v / 10000, v / 100 % 100, v % 100)
}

/// A running `criu swrk`.
pub struct Session {
    sock: OwnedFd,
    child: Child,
    path_text: String,
}

/// What a notification handler is given: the notification, and the fd that came with it
/// (orphan-pts-master sends the restored terminal's master).
pub type OnNotify<'a> = dyn FnMut(&Response, Option<OwnedFd>) -> Result<(), crate::Error> + 'a;

impl Session {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Send `req` and read CRIU's answers: each notification goes to `on_notify` and is
    /// acknowledged; the last answer is returned, an error unless it says success.
    pub fn request(
        &mut self,
        req: &Message,
        on_notify: &mut OnNotify<'_>,
    ) -> Result<Response, crate::Error> {
        tracing::debug!(
            "using CRIU ({}) over swrk, pid {}",
            self.path_text,
            self.pid()
        );
        self.send(req)?;
        loop {
            let (resp, fd) = self.receive()?;
            if !resp.success {
                return Err(CheckpointError::Failed {
                    errno: resp.cr_errno.unwrap_or(0),
                    message: resp.cr_errmsg.clone().unwrap_or_default(),
                }
                .into());
            }
            if resp.kind != Some(ReqType::Notify) {
                return Ok(resp);
            }
            on_notify(&resp, fd)?;
            let mut ack = Message::new();
            ack.uint32(1, ReqType::Notify as u32).bool(3, true);
            self.send(&ack)?;
        }
    }

    fn send(&self, m: &Message) -> Result<(), CheckpointError> {
        send(self.sock.as_raw_fd(), m.bytes(), MsgFlags::MSG_NOSIGNAL)
            .step(|| "writing to criu swrk")?;
        Ok(())
    }

    fn receive(&self) -> Result<(Response, Option<OwnedFd>), CheckpointError> {
        let mut buf = vec![0u8; 10 * 4096];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => break (msg.bytes, crate::sync::received_fd(&msg)),
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e).step(|| "reading from criu swrk")?,
            }
        };
        if n == 0 {
            return Err(CheckpointError::Exited);
        }
        Ok((Response::decode(&buf[..n])?, fd))
    }

    /// Close husk's end and wait for CRIU to exit.
    pub fn wait(mut self) -> std::io::Result<std::process::ExitStatus> {
        let _ = nix::sys::socket::shutdown(self.sock.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        self.child.wait()
    }

    pub fn socket(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A session given up half-way: CRIU sees its socket close and exits; it is reaped
        // here so that no zombie is left.
        if let Ok(None) = self.child.try_wait() {
            let _ =
                nix::sys::socket::shutdown(self.sock.as_raw_fd(), nix::sys::socket::Shutdown::Both);
            let _ = self.child.wait();
        }
    }
}
