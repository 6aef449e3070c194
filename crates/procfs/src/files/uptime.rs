//! /proc/uptime from the container's start: the start of the oldest process in its cgroup
//! (its init), and as idle time what its CPUs did not spend on it.

use super::{cpus, ticks_per_second};
use crate::view::View;

/// Seconds since the host booted, from the host's /proc/uptime.
fn host_uptime() -> Option<f64> {
    let t = std::fs::read_to_string("/proc/uptime").ok()?;
    t.split_whitespace().next()?.parse().ok()
}

/// A process's start, in clock ticks since boot (/proc/PID/stat's 22nd field).
pub(crate) fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: fields are counted after the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Seconds since the container's oldest process started.
pub(crate) fn container_uptime(view: &View) -> Option<f64> {
    let procs = ["pids", "memory", "cpu"]
        .iter()
        .map(|c| view.procs(c))
        .find(|p| !p.is_empty())?;
    let oldest = procs.iter().filter_map(|p| start_ticks(*p)).min()?;
    let started = oldest as f64 / ticks_per_second() as f64;
    Some((host_uptime()? - started).max(0.0))
}

/// The container's CPU time in seconds.
fn cpu_seconds(view: &View) -> f64 {
    if view.is_v2("cpu") {
        let stat = view.keyed("cpu", "cpu.stat");
        stat.get("usage_usec").copied().unwrap_or(0) as f64 / 1e6
    } else {
        view.read_u64("cpuacct", "cpuacct.usage").unwrap_or(0) as f64 / 1e9
    }
}

pub(crate) fn render(view: &View) -> Option<String> {
    let up = container_uptime(view)?;
    let n = cpus::visible(view).len().max(1) as f64;
    let idle = (up * n - cpu_seconds(view)).max(0.0);
    Some(format!("{up:.2} {idle:.2}\n"))
}
