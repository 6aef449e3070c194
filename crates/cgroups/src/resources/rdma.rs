//! `linux.resources.rdma`: rdma.max, one line per device (v1 and v2 share the format).

use std::collections::HashMap;

use oci_spec::runtime::LinuxRdma;

use super::locate;
use crate::hierarchy::{Cgroup, CgroupError};

pub(super) fn apply(cg: &Cgroup, rdma: &HashMap<String, LinuxRdma>) -> Result<(), CgroupError> {
    if rdma.is_empty() {
        return Ok(());
    }
    let dir = locate(cg, "rdma", "linux.resources.rdma")?;
    let mut devices: Vec<_> = rdma.iter().collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    for (device, limits) in devices {
        let field = format!("linux.resources.rdma.{device}");
        let mut line = device.clone();
        if let Some(h) = limits.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = limits.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        dir.set(&field, "rdma.max", line)?;
    }
    Ok(())
}
