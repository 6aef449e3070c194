//! `linux.resources.pids`: pids.max on v1 and v2.

use oci_spec::runtime::LinuxPids;

use super::locate;
use crate::hierarchy::{Cgroup, CgroupError};

pub(super) fn apply(cg: &Cgroup, p: &LinuxPids) -> Result<(), CgroupError> {
    let field = "linux.resources.pids.limit";
    let dir = locate(cg, "pids", field)?;
    // 0 or less: no limit, as runc.
    let value = if p.limit() <= 0 {
        "max".to_string()
    } else {
        p.limit().to_string()
    };
    dir.set(field, "pids.max", value)
}
