//! Resource usage of a container's cgroup, in the shape `runc events` prints
//! (runc's types/events.go), read from the v1 or v2 files of each controller.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::hierarchy::Cgroup;
use crate::resources::{locate, Dir};

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Blkio {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn num(s: Option<String>) -> u64 {
    // "max" (v2) and the v1 "unlimited" value both read as the largest number.
    match s.as_deref() {
        Some("max") => u64::MAX,
        Some(v) => v.parse().unwrap_or(0),
        None => 0,
    }
}

/// `key value` lines (memory.stat, cpu.stat, memory.events).
pub(crate) fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

impl Cgroup {
    /// What every controller this host has reports; a missing controller leaves its part at
    /// zero, as runc.
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        if let Ok(d) = locate(self, "cpu", "stats") {
            cpu_stats(&d, &mut s.cpu);
        }
        if let Ok(d) = locate(self, "cpuacct", "stats") {
            cpuacct_stats(&d, &mut s.cpu.usage);
        }
        if let Ok(d) = locate(self, "memory", "stats") {
            s.memory = memory_stats(&d);
        }
        if let Ok(d) = locate(self, "pids", "stats") {
            s.pids = Pids {
                current: num(d.read("pids.current")),
                limit: match d.read("pids.max").as_deref() {
                    Some("max") | None => 0,
                    Some(v) => v.parse().unwrap_or(0),
                },
            };
        }
        if let Ok(d) = locate(self, "blkio", "stats").or_else(|_| locate(self, "io", "stats")) {
            s.blkio = blkio_stats(&d);
        }
        if let Ok(d) = locate(self, "hugetlb", "stats") {
            s.hugetlb = hugetlb_stats(&d);
        }
        s
    }
}

fn cpu_stats(d: &Dir, cpu: &mut Cpu) {
    let stat = flat_keyed(&d.read("cpu.stat").unwrap_or_default());
    let get = |k: &str| stat.get(k).copied().unwrap_or(0);
    cpu.throttling.periods = get("nr_periods");
    cpu.throttling.throttled_periods = get("nr_throttled");
    if d.v2 {
        cpu.throttling.throttled_time = get("throttled_usec") * 1000;
        cpu.usage.total = get("usage_usec") * 1000;
        cpu.usage.user = get("user_usec") * 1000;
        cpu.usage.kernel = get("system_usec") * 1000;
    } else {
        cpu.throttling.throttled_time = get("throttled_time");
    }
}

fn cpuacct_stats(d: &Dir, usage: &mut CpuUsage) {
    usage.total = num(d.read("cpuacct.usage"));
    usage.percpu = d
        .read("cpuacct.usage_percpu")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // cpuacct.stat is in clock ticks.
    let stat = flat_keyed(&d.read("cpuacct.stat").unwrap_or_default());
    let tick_ns = 1_000_000_000 / clock_ticks();
    usage.user = stat.get("user").copied().unwrap_or(0) * tick_ns;
    usage.kernel = stat.get("system").copied().unwrap_or(0) * tick_ns;
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .map_or(100, |t| t as u64)
}

fn memory_stats(d: &Dir) -> Memory {
    let raw = flat_keyed(&d.read("memory.stat").unwrap_or_default());
    if d.v2 {
        let events = flat_keyed(&d.read("memory.events").unwrap_or_default());
        Memory {
            cache: raw.get("file").copied().unwrap_or(0),
            usage: MemoryEntry {
                limit: num(d.read("memory.max")),
                usage: num(d.read("memory.current")),
                max: num(d.read("memory.peak")),
                failcnt: events.get("max").copied().unwrap_or(0),
            },
            swap: MemoryEntry {
                limit: num(d.read("memory.swap.max")),
                usage: num(d.read("memory.swap.current")),
                max: num(d.read("memory.swap.peak")),
                failcnt: 0,
            },
            raw,
            ..Memory::default()
        }
    } else {
        let entry = |prefix: &str| MemoryEntry {
            limit: num(d.read(&format!("{prefix}.limit_in_bytes"))),
            usage: num(d.read(&format!("{prefix}.usage_in_bytes"))),
            max: num(d.read(&format!("{prefix}.max_usage_in_bytes"))),
            failcnt: num(d.read(&format!("{prefix}.failcnt"))),
        };
        Memory {
            cache: raw
                .get("total_cache")
                .or(raw.get("cache"))
                .copied()
                .unwrap_or(0),
            usage: entry("memory"),
            swap: entry("memory.memsw"),
            kernel: entry("memory.kmem"),
            kernel_tcp: entry("memory.kmem.tcp"),
            raw,
        }
    }
}

fn blkio_stats(d: &Dir) -> Blkio {
    let mut b = Blkio::default();
    if d.v2 {
        // io.stat: "254:0 rbytes=1 wbytes=2 rios=3 wios=4 ..."
        for line in d.read("io.stat").unwrap_or_default().lines() {
            let mut it = line.split_whitespace();
            let Some((major, minor)) = it.next().and_then(parse_dev) else {
                continue;
            };
            for kv in it {
                let Some((k, v)) = kv.split_once('=') else {
                    continue;
                };
                let value = v.parse().unwrap_or(0);
                let (list, op) = match k {
                    "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                    "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                    "rios" => (&mut b.io_serviced_recursive, "Read"),
                    "wios" => (&mut b.io_serviced_recursive, "Write"),
                    _ => continue,
                };
                list.push(BlkioEntry {
                    major,
                    minor,
                    op: op.into(),
                    value,
                });
            }
        }
    } else {
        let read_list = |file: &str| -> Vec<BlkioEntry> {
            d.read(file)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let (major, minor) = parse_dev(f.first()?)?;
                    Some(BlkioEntry {
                        major,
                        minor,
                        op: (*f.get(1)?).to_string(),
                        value: f.get(2)?.parse().ok()?,
                    })
                })
                .collect()
        };
        b.io_service_bytes_recursive = read_list("blkio.throttle.io_service_bytes_recursive");
        b.io_serviced_recursive = read_list("blkio.throttle.io_serviced_recursive");
    }
    b
}

fn parse_dev(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn hugetlb_stats(d: &Dir) -> BTreeMap<String, Hugetlb> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(&d.path) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // v1 hugetlb.2MB.usage_in_bytes / v2 hugetlb.2MB.current: one per page size.
        let size = match (d.v2, name.strip_prefix("hugetlb.")) {
            (true, Some(rest)) => rest.strip_suffix(".current"),
            (false, Some(rest)) => rest.strip_suffix(".usage_in_bytes"),
            _ => None,
        };
        let Some(size) = size.filter(|s| !s.contains('.')) else {
            continue;
        };
        let h = if d.v2 {
            let events = flat_keyed(
                &d.read(&format!("hugetlb.{size}.events"))
                    .unwrap_or_default(),
            );
            Hugetlb {
                usage: num(d.read(&format!("hugetlb.{size}.current"))),
                max: 0,
                failcnt: events.get("max").copied().unwrap_or(0),
            }
        } else {
            Hugetlb {
                usage: num(d.read(&format!("hugetlb.{size}.usage_in_bytes"))),
                max: num(d.read(&format!("hugetlb.{size}.max_usage_in_bytes"))),
                failcnt: num(d.read(&format!("hugetlb.{size}.failcnt"))),
            }
        };
        out.insert(size.to_string(), h);
    }
    out
}
