//! `linux.resources.blockIO`: v1 blkio.* (or blkio.bfq.* where the scheduler is BFQ), v2
//! io.weight / io.bfq.weight and io.max.

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::{locate, Dir};
use crate::hierarchy::{Cgroup, CgroupError};

const F: &str = "linux.resources.blockIO";

pub(super) fn apply(cg: &Cgroup, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let dir = locate(cg, "blkio", F).or_else(|_| locate(cg, "io", F))?;
    if dir.v2 {
        apply_v2(&dir, b)
    } else {
        apply_v1(&dir, b)
    }
}

/// The first of `files` the kernel has (BFQ's files where CFQ's are gone).
fn pick<'a>(dir: &Dir, files: &[&'a str]) -> &'a str {
    files.iter().find(|f| dir.has(f)).unwrap_or(&files[0])
}

fn apply_v1(dir: &Dir, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    if let Some(w) = b.weight() {
        let file = pick(dir, &["blkio.weight", "blkio.bfq.weight"]);
        dir.set(&format!("{F}.weight"), file, w)?;
    }
    if let Some(w) = b.leaf_weight() {
        dir.set(&format!("{F}.leafWeight"), "blkio.leaf_weight", w)?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if let Some(w) = d.weight() {
            let file = pick(dir, &["blkio.weight_device", "blkio.bfq.weight_device"]);
            let field = format!("{F}.weightDevice[{i}].weight");
            dir.set(&field, file, format!("{}:{} {w}", d.major(), d.minor()))?;
        }
        if let Some(w) = d.leaf_weight() {
            let field = format!("{F}.weightDevice[{i}].leafWeight");
            dir.set(
                &field,
                "blkio.leaf_weight_device",
                format!("{}:{} {w}", d.major(), d.minor()),
            )?;
        }
    }
    for (name, file, list) in throttles(b) {
        for (i, d) in list.iter().enumerate() {
            let field = format!("{F}.{name}[{i}]");
            dir.set(
                &field,
                file,
                format!("{}:{} {}", d.major(), d.minor(), d.rate()),
            )?;
        }
    }
    Ok(())
}

fn throttles(b: &LinuxBlockIo) -> [(&'static str, &'static str, &[LinuxThrottleDevice]); 4] {
    [
        (
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device().as_deref().unwrap_or_default(),
        ),
        (
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device().as_deref().unwrap_or_default(),
        ),
        (
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device().as_deref().unwrap_or_default(),
        ),
        (
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device()
                .as_deref()
                .unwrap_or_default(),
        ),
    ]
}

/// blkio weight (10..1000) to io.weight (1..10000), as runc converts it.
pub(crate) fn blkio_weight_to_io(w: u16) -> u64 {
    1 + (u64::from(w).clamp(10, 1000) - 10) * 9999 / 990
}

fn apply_v2(dir: &Dir, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    if b.leaf_weight().is_some()
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some())
    {
        return Err(CgroupError::Unsupported {
            field: format!("{F}.leafWeight"),
            reason: "cgroup v2 has no leaf weights".into(),
        });
    }
    // BFQ takes the blkio scale directly; io.weight (iocost) its own.
    let bfq = dir.has("io.bfq.weight");
    if let Some(w) = b.weight() {
        if bfq {
            dir.set(&format!("{F}.weight"), "io.bfq.weight", w)?;
        } else {
            let v = format!("default {}", blkio_weight_to_io(w));
            dir.set(&format!("{F}.weight"), "io.weight", v)?;
        }
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if let Some(w) = d.weight() {
            let field = format!("{F}.weightDevice[{i}].weight");
            let (file, w) = if bfq {
                ("io.bfq.weight", u64::from(w))
            } else {
                ("io.weight", blkio_weight_to_io(w))
            };
            dir.set(&field, file, format!("{}:{} {w}", d.major(), d.minor()))?;
        }
    }
    for (name, key, list) in [
        (
            "throttleReadBpsDevice",
            "rbps",
            b.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "wbps",
            b.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "riops",
            b.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "wiops",
            b.throttle_write_iops_device(),
        ),
    ] {
        for (i, d) in list.iter().flatten().enumerate() {
            let field = format!("{F}.{name}[{i}]");
            let rate = if d.rate() == 0 {
                "max".to_string()
            } else {
                d.rate().to_string()
            };
            dir.set(
                &field,
                "io.max",
                format!("{}:{} {key}={rate}", d.major(), d.minor()),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn weights_convert_like_runc() {
        assert_eq!(super::blkio_weight_to_io(10), 1);
        assert_eq!(super::blkio_weight_to_io(1000), 10_000);
        assert_eq!(super::blkio_weight_to_io(500), 4950);
    }
}
