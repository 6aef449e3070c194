//! `linux.resources.pids`: pids.max on v1 and v2.

use oci_spec::runtime::LinuxPids;

use super::locate;
use crate::hierarchy::{Cgroup, CgroupError};

pub(super) fn apply(cg: &Cgroup, p: &LinuxPids) -> Result<(), CgroupError> {
    let field = "linux.resources.pids.limit";
    let dir = locate(cg, "pids", field)?;
    // As runc: negative is no limit; 0 is written as 1, since systemd has no TasksMax=0 and
    // runc keeps both drivers alike (pids.max 0 and 1 behave the same for a running init).
    let value = match p.limit() {
        l if l < 0 => "max".to_string(),
        0 => "1".to_string(),
        l => l.to_string(),
    };
    dir.set(field, "pids.max", value)
}
