//! `linux.resources.network`: the v1 net_cls (classID) and net_prio (priorities)
//! controllers. cgroup v2 has neither; there they are an error.

use oci_spec::runtime::LinuxNetwork;

use super::locate;
use crate::hierarchy::{Cgroup, CgroupError};

const F: &str = "linux.resources.network";

pub(super) fn apply(cg: &Cgroup, n: &LinuxNetwork) -> Result<(), CgroupError> {
    if let Some(id) = n.class_id() {
        let dir = locate(cg, "net_cls", &format!("{F}.classID"))?;
        dir.set(&format!("{F}.classID"), "net_cls.classid", id)?;
    }
    let priorities = n.priorities().as_deref().unwrap_or_default();
    if !priorities.is_empty() {
        let dir = locate(cg, "net_prio", &format!("{F}.priorities"))?;
        for (i, p) in priorities.iter().enumerate() {
            dir.set(
                &format!("{F}.priorities[{i}]"),
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            )?;
        }
    }
    Ok(())
}
