//! `linux.resources.cpu`: the cpu controller (shares, CFS quota and period, burst, realtime,
//! idle) and the cpuset controller (cpus, mems). On v2, shares become cpu.weight and quota
//! with period become cpu.max.

use oci_spec::runtime::LinuxCpu;

use super::{locate, Dir};
use crate::hierarchy::{Cgroup, CgroupError};

const F: &str = "linux.resources.cpu";

pub(super) fn apply(cg: &Cgroup, c: &LinuxCpu) -> Result<(), CgroupError> {
    let needs_cpu = c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.realtime_runtime().is_some()
        || c.realtime_period().is_some()
        || c.idle().is_some();
    if needs_cpu {
        let dir = locate(cg, "cpu", F)?;
        if dir.v2 {
            apply_cpu_v2(&dir, c)?;
        } else {
            apply_cpu_v1(&dir, c)?;
        }
    }
    if c.cpus().is_some() || c.mems().is_some() {
        let dir = locate(cg, "cpuset", F)?;
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            dir.set(&format!("{F}.cpus"), "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            dir.set(&format!("{F}.mems"), "cpuset.mems", mems)?;
        }
    }
    Ok(())
}

fn apply_cpu_v1(dir: &Dir, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        dir.set(&format!("{F}.shares"), "cpu.shares", s)?;
    }
    set_pair(
        dir,
        (
            "period",
            "cpu.cfs_period_us",
            c.period().filter(|p| *p != 0),
        ),
        ("quota", "cpu.cfs_quota_us", c.quota().filter(|q| *q != 0)),
    )?;
    if let Some(b) = c.burst() {
        dir.set(&format!("{F}.burst"), "cpu.cfs_burst_us", b)?;
    }
    set_pair(
        dir,
        (
            "realtimePeriod",
            "cpu.rt_period_us",
            c.realtime_period().filter(|p| *p != 0),
        ),
        (
            "realtimeRuntime",
            "cpu.rt_runtime_us",
            c.realtime_runtime().filter(|r| *r != 0),
        ),
    )?;
    if let Some(i) = c.idle() {
        dir.set(&format!("{F}.idle"), "cpu.idle", i)?;
    }
    Ok(())
}

/// A period and the quota (or realtime runtime) measured against it: the kernel checks each
/// write against the other's current value (and the parent's limit), so either order can be
/// refused on its own. As runc: the period first; if it is refused with EINVAL while a quota
/// is coming too, the quota, then the period again.
fn set_pair(
    dir: &Dir,
    period: (&str, &str, Option<u64>),
    quota: (&str, &str, Option<i64>),
) -> Result<(), CgroupError> {
    let mut period_pending = None;
    if let (field, file, Some(p)) = period {
        match dir.set(&format!("{F}.{field}"), file, p) {
            Err(e) if e.is_einval() && quota.2.is_some() => period_pending = Some((field, file, p)),
            other => other?,
        }
    }
    if let (field, file, Some(q)) = quota {
        dir.set(&format!("{F}.{field}"), file, q)?;
    }
    if let Some((field, file, p)) = period_pending {
        dir.set(&format!("{F}.{field}"), file, p)?;
    }
    Ok(())
}

/// cpu.shares (2..262144) to cpu.weight (1..10000), as runc and crun convert it.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

fn apply_cpu_v2(dir: &Dir, c: &LinuxCpu) -> Result<(), CgroupError> {
    if c.realtime_runtime().is_some_and(|r| r != 0) || c.realtime_period().is_some_and(|p| p != 0) {
        return Err(CgroupError::Unsupported {
            field: format!("{F}.realtimeRuntime/realtimePeriod"),
            reason: "cgroup v2 has no realtime scheduling limits".into(),
        });
    }
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        dir.set(&format!("{F}.shares"), "cpu.weight", shares_to_weight(s))?;
    }
    let quota = c.quota().filter(|q| *q != 0);
    let period = c.period().filter(|p| *p != 0);
    if quota.is_some() || period.is_some() {
        // cpu.max is "quota period": keep the half not given.
        let current = dir.read("cpu.max").unwrap_or_else(|| "max 100000".into());
        let mut it = current.split_whitespace();
        let (cur_quota, cur_period) = (
            it.next().unwrap_or("max").to_string(),
            it.next().unwrap_or("100000").to_string(),
        );
        let q = match quota {
            Some(q) if q > 0 => q.to_string(),
            Some(_) => "max".to_string(),
            None => cur_quota,
        };
        let p = period.map_or(cur_period, |p| p.to_string());
        dir.set(&format!("{F}.quota"), "cpu.max", format!("{q} {p}"))?;
    }
    if let Some(b) = c.burst() {
        dir.set(&format!("{F}.burst"), "cpu.max.burst", b)?;
    }
    if let Some(i) = c.idle() {
        dir.set(&format!("{F}.idle"), "cpu.idle", i)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::shares_to_weight;

    #[test]
    fn shares_map_onto_the_weight_range() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }
}
