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

/// A step that failed for a reason that is not an errno.
pub fn fail(step: impl Display, why: impl Display) -> SysError {
    SysError {
        step: step.to_string(),
        source: std::io::Error::other(why.to_string()),
    }
}
