//! `linux.resources.memory`: v1 memory.* files, or their v2 counterparts (memory.max,
//! memory.low, memory.swap.max holding swap alone).

use oci_spec::runtime::LinuxMemory;

use super::{limit_v2, locate, Dir};
use crate::hierarchy::{Cgroup, CgroupError};

const F: &str = "linux.resources.memory";

pub(super) fn apply(cg: &Cgroup, m: &LinuxMemory, updating: bool) -> Result<(), CgroupError> {
    let dir = locate(cg, "memory", F)?;
    if updating && m.check_before_update() == Some(true) {
        check_before_update(&dir, m)?;
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(CgroupError::Invalid(format!(
                "{F}.swappiness: {s} is out of range 0-100"
            )));
        }
    }
    if dir.v2 {
        apply_v2(&dir, m)
    } else {
        apply_v1(&dir, m)
    }
}

fn apply_v1(dir: &Dir, m: &LinuxMemory) -> Result<(), CgroupError> {
    let (limit, mut swap) = (m.limit(), m.swap());
    if limit == Some(-1) && swap.is_none() && dir.has("memory.memsw.limit_in_bytes") {
        // No memory limit means no memory+swap limit either (as runc): an old memsw limit
        // below the new unlimited memory one would make the kernel refuse it.
        swap = Some(-1);
    }
    match (limit, swap) {
        (Some(l), Some(s)) => {
            // memsw.limit must stay >= limit at every moment: raise memsw first when it grows.
            let current_memsw = dir
                .read("memory.memsw.limit_in_bytes")
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(i64::MAX);
            if s < 0 || s > current_memsw {
                dir.set(&format!("{F}.swap"), "memory.memsw.limit_in_bytes", s)?;
                dir.set(&format!("{F}.limit"), "memory.limit_in_bytes", l)?;
            } else {
                dir.set(&format!("{F}.limit"), "memory.limit_in_bytes", l)?;
                dir.set(&format!("{F}.swap"), "memory.memsw.limit_in_bytes", s)?;
            }
        }
        (Some(l), None) => {
            dir.set(&format!("{F}.limit"), "memory.limit_in_bytes", l)?;
        }
        (None, Some(s)) => {
            dir.set(&format!("{F}.swap"), "memory.memsw.limit_in_bytes", s)?;
        }
        (None, None) => {}
    }
    if let Some(r) = m.reservation() {
        dir.set(&format!("{F}.reservation"), "memory.soft_limit_in_bytes", r)?;
    }
    if let Some(k) = m.kernel() {
        // Deprecated in the runtime spec and gone from the kernel since 5.16 (which accepts the
        // write and ignores it). As runc: applied where the kernel still enforces it,
        // otherwise ignored with a warning that names it.
        match set_checked(dir, "kernel", "memory.kmem.limit_in_bytes", k) {
            Err(CgroupError::Unsupported { field, reason }) => {
                tracing::warn!("{field}: ignored (deprecated in the runtime spec): {reason}")
            }
            other => other?,
        }
    }
    if let Some(k) = m.kernel_tcp() {
        set_checked(dir, "kernelTCP", "memory.kmem.tcp.limit_in_bytes", k)?;
    }
    if let Some(s) = m.swappiness() {
        dir.set(&format!("{F}.swappiness"), "memory.swappiness", s)?;
    }
    if m.disable_oom_killer() == Some(true) {
        dir.set(&format!("{F}.disableOOMKiller"), "memory.oom_control", 1)?;
    }
    if let Some(h) = m.use_hierarchy() {
        dir.set(
            &format!("{F}.useHierarchy"),
            "memory.use_hierarchy",
            u8::from(h),
        )?;
    }
    Ok(())
}

/// Write a limit and read it back: since Linux 5.16 the kernel takes writes to
/// memory.kmem.limit_in_bytes and ignores them, which must not pass for applied. The kernel
/// rounds to pages, so compare page-aligned (and -1 reads back as its largest value).
fn set_checked(dir: &Dir, name: &str, file: &str, value: i64) -> Result<(), CgroupError> {
    let field = format!("{F}.{name}");
    dir.set(&field, file, value)?;
    let page = 4096;
    let got: i64 = dir.read(file).and_then(|v| v.parse().ok()).unwrap_or(-1);
    let applied = if value < 0 {
        got >= i64::MAX - page
    } else {
        got == value / page * page
    };
    if applied {
        Ok(())
    } else {
        Err(CgroupError::Unsupported {
            field,
            reason: format!(
                "this kernel accepts {file} but ignores it (kernel memory limits are gone since Linux 5.16): read back {got} after writing {value}"
            ),
        })
    }
}

/// v2's memory.swap.max is swap alone, where the spec's `swap` is memory plus swap: convert
/// as runc does.
pub(crate) fn swap_v2(swap: i64, limit: Option<i64>) -> Result<i64, String> {
    let limit = limit.unwrap_or(0);
    if limit == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if limit <= 0 {
        return Err("a swap limit needs a memory limit on cgroup v2".into());
    }
    if swap < limit {
        return Err(format!(
            "must be >= limit ({limit}): it counts memory plus swap"
        ));
    }
    Ok(swap - limit)
}

fn apply_v2(dir: &Dir, m: &LinuxMemory) -> Result<(), CgroupError> {
    let v1_only = |name: &str| CgroupError::Unsupported {
        field: format!("{F}.{name}"),
        reason: "cgroup v1 only: cgroup v2 has no such limit".into(),
    };
    if m.kernel().is_some() {
        tracing::warn!(
            "{F}.kernel: ignored (deprecated in the runtime spec; cgroup v2 has no kernel memory limit)"
        );
    }
    if m.kernel_tcp().is_some() {
        return Err(v1_only("kernelTCP"));
    }
    if m.swappiness().is_some() {
        return Err(v1_only("swappiness"));
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(v1_only("disableOOMKiller"));
    }
    if let Some(s) = m.swap() {
        let v = swap_v2(s, m.limit()).map_err(|reason| CgroupError::Unsupported {
            field: format!("{F}.swap"),
            reason,
        })?;
        // Written before the limit, as runc: both values are independent on v2.
        dir.set(&format!("{F}.swap"), "memory.swap.max", limit_v2(v))?;
    }
    if let Some(l) = m.limit() {
        dir.set(&format!("{F}.limit"), "memory.max", limit_v2(l))?;
    }
    if let Some(r) = m.reservation() {
        dir.set(&format!("{F}.reservation"), "memory.low", limit_v2(r))?;
    }
    Ok(())
}

/// checkBeforeUpdate: refuse a limit below what the cgroup already uses.
fn check_before_update(dir: &Dir, m: &LinuxMemory) -> Result<(), CgroupError> {
    let Some(limit) = m.limit().filter(|l| *l >= 0) else {
        return Ok(());
    };
    let usage_file = if dir.v2 {
        "memory.current"
    } else {
        "memory.usage_in_bytes"
    };
    let usage: i64 = dir
        .read(usage_file)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if limit < usage {
        return Err(CgroupError::Invalid(format!(
            "{F}.limit: {limit} is below the current usage {usage} (checkBeforeUpdate)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::swap_v2;

    #[test]
    fn swap_converts_like_runc() {
        assert_eq!(swap_v2(-1, Some(100)), Ok(-1));
        assert_eq!(swap_v2(0, Some(-1)), Ok(-1));
        assert_eq!(swap_v2(300, Some(100)), Ok(200));
        assert!(swap_v2(50, Some(100)).is_err());
        assert!(swap_v2(50, None).is_err());
    }
}
