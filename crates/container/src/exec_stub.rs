//! CVE-2019-5736 for `create` and `run`, without re-executing husk (see sealed_exe.rs for the
//! attack). What must not happen is a process inside the container running the husk binary
//! from the host: through /proc/self/exe, a `#!/proc/self/exe` script or an ELF interpreter,
//! the container's process, or a hook run inside it, would be the host's husk. Another
//! process in the container could then hold that file open and write to it once it exits.
//!
//! So the init does not execve the container's program itself. It execs this stub, a static
//! program of a few hundred bytes (exec_stub.S) in a sealed memfd, which execs the program.
//! Whatever the program's path leads to, /proc/self/exe at that moment is the sealed stub,
//! and the host's binary is out of reach. Hooks that run in the container's namespaces go
//! through the stub too. Making the memfd is a few syscalls; re-executing husk from a sealed
//! copy of itself costs a second start of husk, about 1.5 ms.
//!
//! The init is the only husk process in the container until then, and it is not dumpable.
//! That holds only when the container has a pid namespace of its own. When it joins one,
//! other processes can see the init, so create re-executes husk from a sealed copy as
//! before. `exec` always does, because the container's processes can see the process that
//! joins them.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

/// The assembled stub (empty where build.rs has none for the target).
static STUB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/exec_stub"));

/// The stub, in a sealed memfd (close-on-exec: it goes with the exec it serves).
#[derive(Debug)]
pub struct ExecStub(OwnedFd);

impl ExecStub {
    /// None where there is no stub for this architecture, or memfds cannot be executed
    /// (vm.memfd_noexec=2): the caller then re-executes husk from a sealed copy.
    pub fn create() -> Option<ExecStub> {
        if STUB.is_empty() {
            return None;
        }
        match crate::sealed_exe::sealed_executable_memfd(c"husk-exec-stub", &mut &STUB[..]) {
            Ok(fd) => Some(ExecStub(fd)),
            Err(e) => {
                tracing::debug!("no exec stub: {e}");
                None
            }
        }
    }

    /// Whether a stub can be made here (an architecture it is written for, and executable
    /// memfds). The init makes its own when it needs one, so that the init waiting for
    /// `start` holds no memfd.
    pub fn can_make() -> bool {
        Self::create().is_some()
    }

    /// A stub, or why there is none though `can_make` said there would be.
    pub fn make() -> Result<ExecStub, crate::error::SysError> {
        Self::create().ok_or_else(|| {
            crate::error::fail("making the exec stub", "memfd_create or sealing failed")
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// Exec `path` with `argv` and `envp` through the stub. Returns only on failure.
    ///
    /// Through execve of /proc/self/fd/N where /proc is mounted, so that a seccomp profile
    /// needs nothing but execve, as without the stub; else execveat on the fd.
    pub fn exec(&self, path: &CStr, argv: &[CString], envp: &[CString]) -> Errno {
        let stub_argv = self.argv(path, argv);
        let via_proc = CString::new(format!("/proc/self/fd/{}", self.0.as_raw_fd()))
            .expect("no NUL in a number");
        match nix::unistd::execve(&via_proc, &stub_argv, envp) {
            Err(Errno::ENOENT | Errno::ENOTDIR) => {}
            Err(e) => return e,
            Ok(never) => match never {},
        }
        match nix::unistd::fexecve(self.0.as_raw_fd(), &stub_argv, envp) {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }

    /// The stub's argv: its own name, the program's path, then the program's argv.
    pub fn argv(&self, path: &CStr, argv: &[CString]) -> Vec<CString> {
        let mut out = Vec::with_capacity(argv.len() + 2);
        out.push(c"husk-exec".to_owned());
        out.push(path.to_owned());
        out.extend(argv.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::process::{CommandExt, ExitStatusExt};

    /// The stub runs the program with its argv and environment, and reports a failed exec.
    #[test]
    fn the_stub_execs_its_first_argument() {
        let Some(stub) = ExecStub::create() else {
            eprintln!("SKIP: no exec stub on this host");
            return;
        };
        let argv = stub.argv(
            c"/bin/sh",
            &[c"sh".into(), c"-c".into(), c"echo $0 $X".into()],
        );
        let out = run(&stub, &argv, &[c"X=there".into()]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "sh there\n");
        let argv = stub.argv(c"/nonexistent", &[c"x".into()]);
        let out = run(&stub, &argv, &[]);
        assert_eq!(out.status.code(), Some(127));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "exec /nonexistent: no such file or directory\n"
        );
        // A directory: EACCES, in runc's words.
        let out = run(&stub, &stub.argv(c"/", &[c"x".into()]), &[]);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "exec /: permission denied\n"
        );
        // A file used as a directory: ENOTDIR.
        let out = run(&stub, &stub.argv(c"/etc/passwd/x", &[c"x".into()]), &[]);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "exec /etc/passwd/x: not a directory\n"
        );
        assert!(out.status.signal().is_none());
    }

    /// The memfd is sealed: nothing can change the stub.
    #[test]
    fn the_stub_cannot_be_written() {
        let Some(stub) = ExecStub::create() else {
            return;
        };
        let path = format!("/proc/self/fd/{}", stub.fd().as_raw_fd());
        let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        let err = f.write_all(b"\x7fELF").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
        assert!(f.set_len(0).is_err());
    }

    fn run(stub: &ExecStub, argv: &[CString], envp: &[CString]) -> std::process::Output {
        let fd = stub.fd().as_raw_fd();
        let mut cmd = std::process::Command::new(format!("/proc/self/fd/{fd}"));
        cmd.arg0(argv[0].to_str().unwrap())
            .args(argv[1..].iter().map(|a| a.to_str().unwrap()))
            .env_clear()
            .envs(envp.iter().map(|e| {
                let (k, v) = e.to_str().unwrap().split_once('=').unwrap();
                (k.to_string(), v.to_string())
            }));
        cmd.output().unwrap()
    }
}
