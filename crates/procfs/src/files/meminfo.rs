//! /proc/meminfo from the memory cgroup: the limit is the total, the cgroup's own usage and
//! memory.stat the rest; lines the cgroup has nothing to say about are the host's.

use std::collections::HashMap;

use super::kb_lines;
use crate::view::View;

/// What the memory cgroup says, in bytes.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Memory {
    pub limit: Option<u64>,
    pub usage: u64,
    /// The swap the cgroup may use beyond its memory, and uses.
    pub swap_limit: Option<u64>,
    pub swap_usage: u64,
    pub stat: HashMap<String, u64>,
    pub v2: bool,
}

impl Memory {
    pub(crate) fn of(view: &View) -> Option<Memory> {
        view.dir("memory")?;
        if view.is_v2("memory") {
            Some(Memory {
                limit: view.lowest_limit("memory", "memory.max"),
                usage: view.read_u64("memory", "memory.current")?,
                swap_limit: view.lowest_limit("memory", "memory.swap.max"),
                swap_usage: view.read_u64("memory", "memory.swap.current").unwrap_or(0),
                stat: view.keyed("memory", "memory.stat"),
                v2: true,
            })
        } else {
            let limit = view.lowest_limit("memory", "memory.limit_in_bytes");
            let usage = view.read_u64("memory", "memory.usage_in_bytes")?;
            // memsw counts memory and swap together.
            let memsw = view.lowest_limit("memory", "memory.memsw.limit_in_bytes");
            let memsw_usage = view.read_u64("memory", "memory.memsw.usage_in_bytes");
            Some(Memory {
                limit,
                usage,
                swap_limit: memsw.zip(limit).map(|(sw, l)| sw.saturating_sub(l)),
                swap_usage: memsw_usage.map_or(0, |u| u.saturating_sub(usage)),
                stat: view.keyed("memory", "memory.stat"),
                v2: false,
            })
        }
    }

    /// A memory.stat value by its v2 name (v1 names it total_<v1 name>).
    fn stat(&self, v2: &str, v1: &str) -> u64 {
        let key = if self.v2 {
            v2.to_string()
        } else {
            format!("total_{v1}")
        };
        self.stat.get(&key).copied().unwrap_or(0)
    }
}

pub(crate) fn render(view: &View, host: &str) -> Option<String> {
    let mem = Memory::of(view)?;
    Some(compute(&mem, host))
}

/// The host's meminfo with the cgroup's values in place of the host's.
pub(crate) fn compute(mem: &Memory, host: &str) -> String {
    let h = kb_lines(host);
    let kb = |b: u64| b / 1024;
    let host_total = h.get("MemTotal").copied().unwrap_or(0);
    let total = mem.limit.map_or(host_total, |l| kb(l).min(host_total));
    let free = total.saturating_sub(kb(mem.usage));
    let (active_file, inactive_file) = (
        kb(mem.stat("active_file", "active_file")),
        kb(mem.stat("inactive_file", "inactive_file")),
    );
    let (active_anon, inactive_anon) = (
        kb(mem.stat("active_anon", "active_anon")),
        kb(mem.stat("inactive_anon", "inactive_anon")),
    );
    let host_swap = h.get("SwapTotal").copied().unwrap_or(0);
    let swap_total = mem.swap_limit.map_or(host_swap, |s| kb(s).min(host_swap));
    let swap_free = swap_total.saturating_sub(kb(mem.swap_usage));
    let slab = if mem.v2 { kb(mem.stat("slab", "")) } else { 0 };
    let ours: HashMap<&str, u64> = HashMap::from([
        ("MemTotal", total),
        ("MemFree", free),
        (
            "MemAvailable",
            (free + active_file + inactive_file).min(total),
        ),
        ("Buffers", 0),
        ("Cached", kb(mem.stat("file", "cache"))),
        ("SwapCached", 0),
        ("Active", active_anon + active_file),
        ("Inactive", inactive_anon + inactive_file),
        ("Active(anon)", active_anon),
        ("Inactive(anon)", inactive_anon),
        ("Active(file)", active_file),
        ("Inactive(file)", inactive_file),
        ("Unevictable", kb(mem.stat("unevictable", "unevictable"))),
        ("SwapTotal", swap_total),
        ("SwapFree", swap_free),
        ("AnonPages", kb(mem.stat("anon", "rss"))),
        ("Mapped", kb(mem.stat("file_mapped", "mapped_file"))),
        ("Shmem", kb(mem.stat("shmem", "shmem"))),
        ("Slab", slab),
        (
            "SReclaimable",
            kb(mem.stat("slab_reclaimable", "")).min(slab),
        ),
        (
            "SUnreclaim",
            kb(mem.stat("slab_unreclaimable", "")).min(slab),
        ),
    ]);
    let mut out = String::with_capacity(host.len());
    for line in host.lines() {
        let key = line.split(':').next().unwrap_or("");
        match ours.get(key) {
            Some(v) => out.push_str(&format!("{:<16}{:>8} kB\n", format!("{key}:"), v)),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "MemTotal:       24000000 kB
MemFree:        20000000 kB
MemAvailable:   22000000 kB
Buffers:          100000 kB
Cached:          1000000 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Shmem:             10000 kB
HugePages_Total:       0
";

    #[test]
    fn a_64_mib_limit_is_the_total_and_usage_is_taken_off() {
        let mem = Memory {
            limit: Some(64 << 20),
            usage: 10 << 20,
            stat: HashMap::from([
                ("total_cache".to_string(), 4 << 20),
                ("total_inactive_file".to_string(), 3 << 20),
                ("total_active_file".to_string(), 1 << 20),
                ("total_shmem".to_string(), 1 << 20),
            ]),
            ..Memory::default()
        };
        let out = compute(&mem, HOST);
        let v = kb_lines(&out);
        assert_eq!(v["MemTotal"], 65536);
        assert_eq!(v["MemFree"], 65536 - 10240);
        assert_eq!(v["MemAvailable"], 65536 - 10240 + 4096);
        assert_eq!(v["Cached"], 4096);
        assert_eq!(v["Shmem"], 1024);
        assert_eq!(v["Buffers"], 0);
        assert_eq!(v["SwapTotal"], 0);
        assert!(
            out.contains("HugePages_Total:       0\n"),
            "other lines are kept"
        );
        assert!(out.starts_with("MemTotal:          65536 kB\n"), "{out}");
    }

    #[test]
    fn no_limit_or_a_limit_above_the_host_is_the_hosts_total() {
        let mem = Memory {
            limit: Some(1 << 50),
            usage: 1 << 30,
            ..Memory::default()
        };
        let v = kb_lines(&compute(&mem, HOST));
        assert_eq!(v["MemTotal"], 24000000);
        assert_eq!(v["MemFree"], 24000000 - (1 << 20));
    }
}
