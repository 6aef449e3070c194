//! `process.terminal` and `process.consoleSize`: a pty made in the container's devpts, the
//! process's controlling terminal and stdio; its master goes to `--console-socket` (SCM_RIGHTS,
//! as runc) or back to husk, which relays it when `run`/`exec` stay in the foreground.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sys::termios::{self, SetArg, Termios};
use oci_spec::runtime::Process;

use crate::error::{fail, StepContext, SysError};
use crate::resolve::{fd_path, Root};
use crate::sys;

/// A new pty: the master (for husk or the console socket) and its peer.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// The device major numbers of Unix98 pty slaves (136..=143).
fn is_pty_slave(fd: BorrowedFd<'_>) -> bool {
    nix::sys::stat::fstat(fd.as_raw_fd()).is_ok_and(|st| {
        st.st_mode & libc::S_IFMT == libc::S_IFCHR
            && (136..=143).contains(&nix::sys::stat::major(st.st_rdev))
    })
}

/// Open a pty in the devpts visible at /dev/ptmx (the container's, after pivot_root), sized
/// as `process.consoleSize` says.
pub fn open_pty(process: &Process) -> Result<Pty, SysError> {
    let master = sys::openat(
        crate::resolve::cwd(),
        c"/dev/ptmx",
        libc::O_RDWR | libc::O_NOCTTY,
        0,
    )
    .step(|| "process.terminal: opening /dev/ptmx")?;
    let slave = sys::pty_peer(master.as_fd())
        .step(|| "process.terminal: /dev/ptmx is not a pty multiplexer")?;
    if !is_pty_slave(slave.as_fd()) {
        return Err(fail(
            "process.terminal",
            "the pty's peer is not a pty slave",
        ));
    }
    // The terminal belongs to the process's user (its group stays devpts' gid=, the tty
    // group), as runc hands it over: a non-root process can then set its own modes.
    let uid = process.user().uid();
    if uid != 0 {
        nix::unistd::fchown(
            slave.as_raw_fd(),
            Some(nix::unistd::Uid::from_raw(uid)),
            None,
        )
        .step(|| format!("process.terminal: giving the pty to uid {uid}"))?;
    }
    if let Some(size) = process.console_size() {
        let rows = u16::try_from(size.height()).unwrap_or(u16::MAX);
        let cols = u16::try_from(size.width()).unwrap_or(u16::MAX);
        sys::set_window_size(master.as_fd(), rows, cols)
            .step(|| "process.consoleSize: setting the window size")?;
    }
    Ok(Pty { master, slave })
}

/// Bind the pty slave over /dev/console, as runc does. The target is opened inside the
/// rootfs without following any symlink and must be a regular file or a character device, so
/// a /dev/console planted as a link to a host or /proc file is refused (CVE-2025-52565).
pub fn mount_console(root: &Root, slave: BorrowedFd<'_>) -> Result<(), SysError> {
    let dev = root.mkdir_all(Path::new("/dev"), 0o755)?;
    let target = match sys::openat2(
        dev.as_fd(),
        c"console",
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
        sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            sys::openat(
                dev.as_fd(),
                c"console",
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW,
                0o600,
            )
            .step(|| "creating /dev/console")?;
            sys::openat2(
                dev.as_fd(),
                c"console",
                libc::O_PATH | libc::O_NOFOLLOW,
                0,
                sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
            )
            .step(|| "opening /dev/console")?
        }
        Err(e) => return Err(e).step(|| "opening /dev/console"),
    };
    let st = nix::sys::stat::fstat(target.as_raw_fd()).step(|| "stat /dev/console")?;
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        return Err(fail(
            "mounting /dev/console",
            "it is neither a regular file nor a character device (a symlink?); refusing",
        ));
    }
    mount(
        Some(&fd_path(slave)),
        &fd_path(target.as_fd()),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .step(|| "bind-mounting the pty over /dev/console")
}

/// Make the pty slave the process's stdio and controlling terminal. The caller is a session
/// leader (setsid) without a terminal.
pub fn become_controlling(slave: &OwnedFd) -> Result<(), SysError> {
    for fd in 0..3 {
        nix::unistd::dup2(slave.as_raw_fd(), fd).step(|| format!("dup2(pty, {fd})"))?;
    }
    sys::set_controlling_terminal().step(|| "ioctl(TIOCSCTTY)")
}

/// Send the pty master to the `--console-socket` listener: one message whose data is the
/// pty's name and whose SCM_RIGHTS carries the fd, as runc (and go-runc's console) expects.
pub fn send_to_console_socket(socket: &Path, master: BorrowedFd<'_>) -> Result<(), SysError> {
    crate::fd_socket::send("--console-socket", socket, b"/dev/ptmx", master)
}

/// A pty master husk keeps to relay itself (no --console-socket). As runc: no \n to \r\n
/// translation on the container's terminal, so that its output reaches husk's stdout as the
/// process wrote it (the line discipline is the pty's, shared by both ends). Done when the
/// master arrives, before `start`: the process may write before the relay begins.
pub fn kept_by_husk(master: OwnedFd) -> OwnedFd {
    if let Ok(mut t) = termios::tcgetattr(master.as_fd()) {
        t.output_flags.remove(termios::OutputFlags::ONLCR);
        let _ = termios::tcsetattr(master.as_fd(), SetArg::TCSANOW, &t);
    }
    master
}

/// husk's own end of a foreground container's terminal: its stdin (raw, when it is a
/// terminal) goes to the pty master, the master's output to its stdout.
pub struct Relay {
    pub master: OwnedFd,
    saved: Option<Termios>,
    stdin_open: bool,
    master_open: bool,
}

impl Relay {
    pub fn new(master: OwnedFd) -> Relay {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            termios::cfmakeraw(&mut raw);
            let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        let relay = Relay {
            master,
            saved,
            stdin_open: true,
            master_open: true,
        };
        relay.resize();
        let _ = nix::fcntl::fcntl(
            relay.master.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        relay
    }

    /// Copy husk's terminal size to the pty (at start and on SIGWINCH).
    pub fn resize(&self) {
        if let Ok((rows, cols)) = sys::window_size(std::io::stdin().as_fd()) {
            let _ = sys::set_window_size(self.master.as_fd(), rows, cols);
        }
    }

    /// The fds to poll: (stdin, master), each only while it is open.
    pub fn wants(&self) -> (bool, bool) {
        (self.stdin_open, self.master_open)
    }

    /// stdin has data (or EOF): pass it on.
    pub fn from_stdin(&mut self) {
        let mut buf = [0u8; 8192];
        match std::io::stdin().lock().read(&mut buf) {
            Ok(0) | Err(_) => {
                // EOF on a pipe: the end of the terminal's input, as a ^D would be.
                self.stdin_open = false;
                let _ = write_all_fd(self.master.as_fd(), &[4]);
            }
            Ok(n) => {
                let _ = write_all_fd(self.master.as_fd(), &buf[..n]);
            }
        }
    }

    /// The master has output (or the last slave closed): copy it to stdout.
    pub fn from_master(&mut self) {
        let mut buf = [0u8; 8192];
        loop {
            match nix::unistd::read(self.master.as_raw_fd(), &mut buf) {
                Ok(0) => {
                    self.master_open = false;
                    return;
                }
                Ok(n) => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
                Err(nix::Error::EAGAIN) => return,
                Err(nix::Error::EINTR) => continue,
                // EIO: every slave is closed; the process is gone.
                Err(_) => {
                    self.master_open = false;
                    return;
                }
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

fn write_all_fd(fd: BorrowedFd<'_>, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::Error::EINTR) => {}
            Err(nix::Error::EAGAIN) => {
                let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLOUT)];
                let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(1000u16));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
