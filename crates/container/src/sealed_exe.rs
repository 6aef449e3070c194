//! CVE-2019-5736: a container process must never get a writable handle on the husk binary.
//!
//! The commands that enter a container (create, run, exec) first re-execute husk from a
//! sealed in-memory copy (a memfd with F_SEAL_WRITE, SHRINK, GROW and SEAL), as runc does.
//! From then on /proc/<pid>/exe of every husk process, and the `/proc/self/exe` that a
//! container entrypoint like `#!/proc/self/exe` would run, is that copy: opening it for
//! writing fails, and the binary on the host is out of reach. (The forked helpers are also
//! not dumpable while they are inside, so they cannot be ptraced either.)

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};

use crate::error::{fail, StepContext, SysError};

const SEALS: SealFlag = SealFlag::from_bits_truncate(
    SealFlag::F_SEAL_SEAL.bits()
        | SealFlag::F_SEAL_SHRINK.bits()
        | SealFlag::F_SEAL_GROW.bits()
        | SealFlag::F_SEAL_WRITE.bits(),
);

/// True if this process already runs from a sealed copy.
pub fn running_from_sealed_copy() -> bool {
    File::open("/proc/self/exe")
        .ok()
        .and_then(|f| fcntl(f.as_raw_fd(), FcntlArg::F_GET_SEALS).ok())
        .is_some_and(|s| SealFlag::from_bits_truncate(s).contains(SEALS))
}

/// Re-execute husk from a sealed memfd copy of itself, with the same arguments and
/// environment (fds without close-on-exec, such as --preserve-fds, stay open). Returns only
/// when already running from one.
pub fn reexec_from_sealed_copy() -> Result<(), SysError> {
    if running_from_sealed_copy() {
        return Ok(());
    }
    let mut exe = File::open("/proc/self/exe").step(|| "opening /proc/self/exe")?;
    let memfd = memfd_create(
        c"husk",
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )
    .step(|| "memfd_create for the sealed copy of husk")?;
    let mut copy = File::from(memfd);
    std::io::copy(&mut exe, &mut copy).step(|| "copying husk into the memfd")?;
    fcntl(copy.as_raw_fd(), FcntlArg::F_ADD_SEALS(SEALS)).step(|| "sealing the copy of husk")?;
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
        fcntl(f.as_raw_fd(), FcntlArg::F_ADD_SEALS(SEALS)).unwrap();
        assert!(std::io::Write::write_all(&mut f, b"x").is_err());
        assert!(f.set_len(0).is_err());
    }
}
