//! The error of one system step of building a container: what was being done (with the path)
//! and the kernel's answer.

use std::fmt::Display;

/// `mounting proc on /proc: Operation not permitted (os error 1)`.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}")]
pub struct SysError {
    pub step: String,
    #[source]
    pub source: std::io::Error,
}

/// Attach the step to an io/nix error.
pub trait StepContext<T> {
    fn step<D: Display>(self, f: impl FnOnce() -> D) -> Result<T, SysError>;
}

impl<T> StepContext<T> for Result<T, std::io::Error> {
    fn step<D: Display>(self, f: impl FnOnce() -> D) -> Result<T, SysError> {
        self.map_err(|source| SysError {
            step: f().to_string(),
            source,
        })
    }
}

impl<T> StepContext<T> for Result<T, nix::Error> {
    fn step<D: Display>(self, f: impl FnOnce() -> D) -> Result<T, SysError> {
        self.map_err(|e| SysError {
            step: f().to_string(),
            source: e.into(),
        })
    }
}

/// `bytes` as a C string for a syscall: an embedded NUL byte is an error naming `what`
/// (EINVAL), never a shorter, empty or other string.
pub fn c_string(
    what: impl Display,
    bytes: impl Into<Vec<u8>>,
) -> Result<std::ffi::CString, SysError> {
    std::ffi::CString::new(bytes).map_err(|e| SysError {
        step: format!("{what}: a NUL byte at {}", e.nul_position()),
        source: std::io::Error::from_raw_os_error(libc::EINVAL),
    })
}

/// A step that failed for a reason that is not an errno.
pub fn fail(step: impl Display, why: impl Display) -> SysError {
    SysError {
        step: step.to_string(),
        source: std::io::Error::other(why.to_string()),
    }
}

/// An errno as Go, and so runc, writes it ("no such file or directory", "permission denied"):
/// the words clients match on in messages they map to exit codes.
pub fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => lower_first(nix::errno::Errno::from_raw(n).desc()),
        None => e.to_string(),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn errnos_read_as_go_writes_them() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(super::errno_text(&e), "no such file or directory");
        let e = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(super::errno_text(&e), "permission denied");
    }
}
