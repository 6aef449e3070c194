//! `linux.resources.hugepageLimits`: hugetlb.<size>.limit_in_bytes on v1, hugetlb.<size>.max
//! on v2 (and the reservation limit, .rsvd, where the kernel has it, as runc).

use oci_spec::runtime::LinuxHugepageLimit;

use super::locate;
use crate::hierarchy::{Cgroup, CgroupError};

pub(super) fn apply(cg: &Cgroup, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    if limits.is_empty() {
        return Ok(());
    }
    let dir = locate(cg, "hugetlb", "linux.resources.hugepageLimits")?;
    for (i, l) in limits.iter().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        let size = l.page_size();
        if size.is_empty() || size.contains('/') || size.contains('.') {
            return Err(CgroupError::Invalid(format!(
                "{field}.pageSize: {size:?} is not a page size like \"2MB\""
            )));
        }
        let (file, rsvd) = if dir.v2 {
            (
                format!("hugetlb.{size}.max"),
                format!("hugetlb.{size}.rsvd.max"),
            )
        } else {
            (
                format!("hugetlb.{size}.limit_in_bytes"),
                format!("hugetlb.{size}.rsvd.limit_in_bytes"),
            )
        };
        if !dir.has(&file) {
            return Err(CgroupError::Unsupported {
                field: format!("{field}.pageSize"),
                reason: format!("this host has no {size} huge pages ({file} is missing)"),
            });
        }
        let value = if dir.v2 {
            super::limit_v2(l.limit())
        } else {
            l.limit().to_string()
        };
        dir.set(&format!("{field}.limit"), &file, &value)?;
        if dir.has(&rsvd) {
            dir.set(&format!("{field}.limit"), &rsvd, &value)?;
        }
    }
    Ok(())
}
