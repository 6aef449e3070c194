//! CVE-2019-5736: a container process must never get a writable handle on the husk binary.
//!
//! `exec`, and `create`/`run` of a container that joins a pid namespace (exec_stub.rs covers
//! the others), first re-execute husk from a place where the binary cannot be written, as
//! runc 1.2 does. The cheap form: the binary's
//! directory as the only layer of a detached read-only overlayfs mount (a few syscalls, no
//! copy); opening the file through it for writing fails with EROFS. Where overlayfs cannot
//! be used, a sealed in-memory copy (a memfd with F_SEAL_WRITE, SHRINK, GROW and SEAL). From
//! then on /proc/<pid>/exe of every husk process, and the `/proc/self/exe` that a container
//! entrypoint like `#!/proc/self/exe` would run, is that read-only file: the binary on the
//! host is out of reach. (The forked helpers are also not dumpable while they are inside, so
//! they cannot be ptraced either.)

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};

use crate::error::{fail, StepContext, SysError};

/// The seals of a copy no one can change: neither its size nor, through any fd or a mapping
/// made from now on, its contents; and no seal can be taken off.
const SIZE_SEALS: SealFlag = SealFlag::F_SEAL_SHRINK.union(SealFlag::F_SEAL_GROW);
const NO_WRITE: SealFlag = SealFlag::F_SEAL_WRITE.union(SealFlag::F_SEAL_FUTURE_WRITE);

/// True if this process already runs from a binary it cannot write: a sealed memfd, or a
/// file on a read-only mount.
pub fn running_from_sealed_copy() -> bool {
    let Ok(f) = File::open("/proc/self/exe") else {
        return false;
    };
    let sealed = fcntl(f.as_raw_fd(), FcntlArg::F_GET_SEALS).is_ok_and(|s| {
        let s = SealFlag::from_bits_truncate(s);
        s.contains(SIZE_SEALS | SealFlag::F_SEAL_SEAL) && s.intersects(NO_WRITE)
    });
    let readonly_mount = nix::sys::statvfs::fstatvfs(&f)
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    sealed || readonly_mount
}

/// The binary, opened through a detached read-only overlay of its directory.
fn through_readonly_overlay() -> Result<OwnedFd, SysError> {
    let exe = std::fs::read_link("/proc/self/exe").step(|| "reading /proc/self/exe")?;
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        return Err(fail("sealing husk", "its path has no directory"));
    };
    let dir = crate::error::c_string(dir.display(), dir.as_os_str().as_bytes())?;
    let name = crate::error::c_string(name.to_string_lossy(), name.as_bytes())?;
    let mnt =
        crate::sys::readonly_overlay(&dir).step(|| "a read-only overlay of husk's directory")?;
    crate::sys::openat2(
        mnt.as_fd(),
        &name,
        libc::O_RDONLY,
        0,
        crate::sys::RESOLVE_NO_SYMLINKS,
    )
    .step(|| "opening husk through the read-only overlay")
}

/// A sealed memfd copy of the binary.
fn sealed_memfd_copy() -> Result<OwnedFd, SysError> {
    let mut exe = File::open("/proc/self/exe").step(|| "opening /proc/self/exe")?;
    sealed_executable_memfd(c"husk", &mut exe)
}

/// memfd_create's MFD_EXEC (Linux 6.3): the memfd may be executed even where
/// vm.memfd_noexec makes memfds non-executable by default.
const MFD_EXEC: libc::c_uint = 0x0010;

/// A close-on-exec memfd named `name`, filled from `contents`, sealed against any change, and
/// executable (MFD_EXEC where the kernel knows it). Used for the copy of husk and for the exec
/// stub (exec_stub.rs).
pub(crate) fn sealed_executable_memfd(
    name: &std::ffi::CStr,
    contents: &mut impl std::io::Read,
) -> Result<OwnedFd, SysError> {
    let create = |flags: libc::c_uint| {
        memfd_create(name, MemFdCreateFlag::from_bits_retain(flags))
            .step(|| format!("memfd_create {name:?}"))
    };
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let memfd = match create(flags | MFD_EXEC) {
        // A kernel before 6.3 does not know MFD_EXEC; its memfds are executable.
        Err(e) if e.source.raw_os_error() == Some(libc::EINVAL) => create(flags)?,
        other => other?,
    };
    let mut file = File::from(memfd);
    std::io::copy(contents, &mut file).step(|| format!("filling memfd {name:?}"))?;
    seal(&file).step(|| format!("sealing memfd {name:?}"))?;
    Ok(OwnedFd::from(file))
}

/// Seal `memfd` against any change. F_SEAL_FUTURE_WRITE (Linux 5.5 for its mmap fix) refuses
/// every write(2), through any fd, and every writable mapping from now on; F_SEAL_WRITE also
/// waits for pages other code still holds a reference to, and gives up with EBUSY when that
/// takes too long (compaction or khugepaged holding a page of the copy just written: exec once
/// failed that way). No writable mapping of a memfd made a moment ago exists, so
/// F_SEAL_FUTURE_WRITE alone protects the copy fully; F_SEAL_WRITE is added where it can be,
/// and is needed only on kernels without the other.
fn seal(memfd: &File) -> nix::Result<()> {
    let fd = memfd.as_raw_fd();
    match fcntl(
        fd,
        FcntlArg::F_ADD_SEALS(SIZE_SEALS | SealFlag::F_SEAL_FUTURE_WRITE),
    ) {
        Ok(_) => {
            if let Err(e) = fcntl(fd, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_WRITE)) {
                tracing::debug!("F_SEAL_WRITE: {e}; F_SEAL_FUTURE_WRITE already refuses writes");
            }
        }
        Err(nix::Error::EINVAL) => {
            fcntl(
                fd,
                FcntlArg::F_ADD_SEALS(SIZE_SEALS | SealFlag::F_SEAL_WRITE),
            )?;
        }
        Err(e) => return Err(e),
    }
    fcntl(fd, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SEAL)).map(drop)
}

/// Re-execute husk from a binary it cannot write (read-only overlay, else sealed memfd), with
/// the same arguments and environment (fds without close-on-exec, such as --preserve-fds,
/// stay open). Returns only when already running from one.
pub fn reexec_from_sealed_copy() -> Result<(), SysError> {
    if running_from_sealed_copy() {
        return Ok(());
    }
    let copy = match through_readonly_overlay() {
        Ok(fd) => {
            tracing::debug!("CVE-2019-5736: re-executing husk from a read-only overlay");
            fd
        }
        Err(e) => {
            tracing::debug!("{e}; CVE-2019-5736: re-executing husk from a sealed memfd copy");
            sealed_memfd_copy()?
        }
    };
    // The kernel gave husk these: they hold no NUL byte.
    let to_c = |s: std::ffi::OsString| CString::new(s.into_encoded_bytes()).unwrap_or_default();
    let args: Vec<CString> = std::env::args_os().map(to_c).collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            to_c(kv)
        })
        .collect();
    let err = nix::unistd::fexecve(copy.as_raw_fd(), &args, &env).unwrap_err();
    Err(fail("re-executing husk from its sealed copy", err.desc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_memfd_cannot_be_written() {
        let memfd = memfd_create(c"t", MemFdCreateFlag::MFD_ALLOW_SEALING).unwrap();
        let mut f = File::from(memfd);
        std::io::Write::write_all(&mut f, b"binary").unwrap();
        seal(&f).unwrap();
        assert!(std::io::Write::write_all(&mut f, b"x").is_err());
        assert!(f.set_len(0).is_err());
        assert!(f.set_len(100).is_err());
        let seals =
            SealFlag::from_bits_truncate(fcntl(f.as_raw_fd(), FcntlArg::F_GET_SEALS).unwrap());
        assert!(seals.contains(SealFlag::F_SEAL_SEAL | SIZE_SEALS) && seals.intersects(NO_WRITE));
        // Nor through a new fd opened for writing.
        let mut again = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", f.as_raw_fd()))
            .unwrap();
        let refused = std::io::Write::write_all(&mut again, b"x").unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::EPERM));
    }
}
