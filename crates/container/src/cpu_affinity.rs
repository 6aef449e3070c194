//! CPU affinity: `process.execCPUAffinity` (runtime spec 1.3) for `exec`, and the reset every
//! process husk forks for a container gets first, as runc's: the affinity of whoever started
//! husk (`taskset -c 0 husk run ...`) must not become the container's. Set to every CPU, the
//! kernel narrows it to the cpuset of the cgroup the process joins.

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

use crate::error::{fail, SysError};

/// The CPUs of a list like "0-3,7".
pub fn parse(list: &str) -> Result<CpuSet, String> {
    let mut set = CpuSet::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let cpu = |s: &str| s.trim().parse::<usize>().map_err(|_| part.to_string());
        let (a, b) = (cpu(a)?, cpu(b)?);
        if a > b || b >= CpuSet::count() {
            return Err(part.to_string());
        }
        for c in a..=b {
            set.set(c).map_err(|_| part.to_string())?;
        }
    }
    Ok(set)
}

/// Every CPU: the kernel keeps those the cgroup's cpuset allows.
pub fn reset() {
    let mut all = CpuSet::new();
    for c in 0..CpuSet::count() {
        let _ = all.set(c);
    }
    // Best effort, as runc: a kernel that refuses (no CPU of the mask online) leaves the
    // inherited affinity.
    let _ = sched_setaffinity(Pid::from_raw(0), &all);
}

/// The affinity `list` (`field` names it in the error).
pub fn set(list: &str, field: &str) -> Result<(), SysError> {
    let cpus =
        parse(list).map_err(|bad| fail(field, format!("{bad:?} is not a CPU or a range")))?;
    sched_setaffinity(Pid::from_raw(0), &cpus)
        .map_err(|e| fail(format!("{field}: sched_setaffinity({list})"), e))
}

/// The affinity mask of a list, as a number (for the debug log).
pub fn mask_of(list: &str) -> u64 {
    let Ok(set) = parse(list) else { return 0 };
    (0..64)
        .filter(|c| set.is_set(*c).unwrap_or(false))
        .fold(0, |m, c| m | 1 << c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_and_masks() {
        assert_eq!(super::mask_of("1"), 0b10);
        assert_eq!(super::mask_of("0-1"), 0b11);
        assert_eq!(super::mask_of("0,2-3"), 0b1101);
        assert!(super::parse("3-1").is_err());
        assert!(super::parse("x").is_err());
    }
}
