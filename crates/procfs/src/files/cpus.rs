//! The CPUs a container sees: those of its cpuset, no more than its CPU quota rounds up to
//! (as lxcfs with --enable-cfs), numbered from 0. cpuinfo keeps their blocks, stat gives their
//! lines the container's own CPU time, and /sys/devices/system/cpu/online names them.

use std::collections::BTreeMap;

use super::{ticks_per_second, uptime};
use crate::view::View;

/// A CPU list ("0-3,6") as numbers.
pub(crate) fn parse_list(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<u32>().ok()),
        }
    }
    out
}

/// The host CPUs the container may run on: the cpuset's, at most as many as the quota allows.
pub(crate) fn visible(view: &View) -> Vec<u32> {
    let host = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let cpuset_file = if view.is_v2("cpuset") {
        "cpuset.cpus.effective"
    } else {
        "cpuset.cpus"
    };
    let mut cpus = view
        .read("cpuset", cpuset_file)
        .map(|t| parse_list(&t))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| parse_list(&host));
    if let Some(n) = quota_cpus(view) {
        cpus.truncate(n.max(1));
    }
    cpus
}

/// The CPU quota as a number of CPUs, rounded up; None without a quota.
fn quota_cpus(view: &View) -> Option<usize> {
    let (quota, period) = if view.is_v2("cpu") {
        let max = view.read("cpu", "cpu.max")?;
        let mut f = max.split_whitespace();
        (
            f.next()?.parse::<u64>().ok()?,
            f.next()?.parse::<u64>().ok()?,
        )
    } else {
        let q: i64 = view.read("cpu", "cpu.cfs_quota_us")?.trim().parse().ok()?;
        let p = view.read_u64("cpu", "cpu.cfs_period_us")?;
        (u64::try_from(q).ok()?, p)
    };
    (period > 0).then(|| quota.div_ceil(period) as usize)
}

pub(crate) fn online(view: &View) -> Option<String> {
    let n = visible(view).len();
    Some(match n {
        0 | 1 => "0\n".to_string(),
        n => format!("0-{}\n", n - 1),
    })
}

/// The host's cpuinfo blocks of the visible CPUs, renumbered.
pub(crate) fn cpuinfo(view: &View, host: &str) -> Option<String> {
    let cpus = visible(view);
    let mut out = String::new();
    let mut next = 0;
    for block in host.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let id = block
            .lines()
            .find(|l| l.starts_with("processor"))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|n| n.trim().parse::<u32>().ok());
        if !id.is_some_and(|id| cpus.contains(&id)) {
            continue;
        }
        for line in block.lines() {
            if line.starts_with("processor") {
                out.push_str(&format!("processor\t: {next}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push('\n');
        next += 1;
    }
    Some(out)
}

/// The container's user and system CPU time per host CPU, in nanoseconds.
fn usage_per_cpu(view: &View, cpus: &[u32]) -> BTreeMap<u32, (u64, u64)> {
    let mut out = BTreeMap::new();
    if view.is_v2("cpu") {
        // cgroup2 keeps no per-CPU time: the totals, spread over the visible CPUs.
        let stat = view.keyed("cpu", "cpu.stat");
        let n = cpus.len().max(1) as u64;
        let (user, system) = (
            stat.get("user_usec").copied().unwrap_or(0) * 1000 / n,
            stat.get("system_usec").copied().unwrap_or(0) * 1000 / n,
        );
        for c in cpus {
            out.insert(*c, (user, system));
        }
        return out;
    }
    // cpuacct.usage_all: "cpu user system" then one line per CPU.
    let all = view
        .read("cpuacct", "cpuacct.usage_all")
        .unwrap_or_default();
    for line in all.lines().skip(1) {
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [cpu, user, system] = f[..] {
            out.insert(cpu as u32, (user, system));
        }
    }
    out
}

/// The host's /proc/stat with the cpu lines made the container's: its user and system time
/// on each visible CPU, idle the rest of its uptime.
pub(crate) fn stat(view: &View, host: &str) -> Option<String> {
    let cpus = visible(view);
    let usage = usage_per_cpu(view, &cpus);
    let hz = ticks_per_second();
    let up_ticks = (uptime::container_uptime(view).unwrap_or(0.0) * hz as f64) as u64;
    let to_ticks = |ns: u64| ns * hz / 1_000_000_000;
    let mut lines = Vec::new();
    let (mut all_user, mut all_system, mut all_idle) = (0, 0, 0);
    for (i, cpu) in cpus.iter().enumerate() {
        let (u, s) = usage.get(cpu).copied().unwrap_or((0, 0));
        let (u, s) = (to_ticks(u), to_ticks(s));
        let idle = up_ticks.saturating_sub(u + s);
        all_user += u;
        all_system += s;
        all_idle += idle;
        lines.push(format!("cpu{i} {u} 0 {s} {idle} 0 0 0 0 0 0"));
    }
    let mut out = format!("cpu  {all_user} 0 {all_system} {all_idle} 0 0 0 0 0 0\n");
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    for line in host.lines().filter(|l| !l.starts_with("cpu")) {
        out.push_str(line);
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_list("0-3,6\n"), vec![0, 1, 2, 3, 6]);
        assert_eq!(parse_list("1"), vec![1]);
        assert!(parse_list("").is_empty());
    }
}
