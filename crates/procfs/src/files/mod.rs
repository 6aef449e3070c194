//! The files served: each computed from the host's own file and the reader's cgroup.

mod cpus;
mod diskstats;
pub mod loadavg;
mod meminfo;
mod swaps;
mod uptime;

use std::fs;

use crate::view::{Hierarchies, View};

/// One served file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcFile {
    Meminfo,
    Cpuinfo,
    Stat,
    Uptime,
    Loadavg,
    Swaps,
    Diskstats,
    CpuOnline,
}

impl ProcFile {
    pub const ALL: [ProcFile; 8] = [
        ProcFile::Meminfo,
        ProcFile::Cpuinfo,
        ProcFile::Stat,
        ProcFile::Uptime,
        ProcFile::Loadavg,
        ProcFile::Swaps,
        ProcFile::Diskstats,
        ProcFile::CpuOnline,
    ];

    /// Its name in the annotation and in the daemon's directory.
    pub fn name(self) -> &'static str {
        match self {
            ProcFile::Meminfo => "meminfo",
            ProcFile::Cpuinfo => "cpuinfo",
            ProcFile::Stat => "stat",
            ProcFile::Uptime => "uptime",
            ProcFile::Loadavg => "loadavg",
            ProcFile::Swaps => "swaps",
            ProcFile::Diskstats => "diskstats",
            ProcFile::CpuOnline => "cpu-online",
        }
    }

    pub fn by_name(name: &str) -> Option<ProcFile> {
        ProcFile::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The file it stands for, in the container and on the host.
    pub fn host_path(self) -> &'static str {
        match self {
            ProcFile::Meminfo => "/proc/meminfo",
            ProcFile::Cpuinfo => "/proc/cpuinfo",
            ProcFile::Stat => "/proc/stat",
            ProcFile::Uptime => "/proc/uptime",
            ProcFile::Loadavg => "/proc/loadavg",
            ProcFile::Swaps => "/proc/swaps",
            ProcFile::Diskstats => "/proc/diskstats",
            ProcFile::CpuOnline => "/sys/devices/system/cpu/online",
        }
    }

    /// The file as process `pid` should see it: computed from its cgroup, or the host's when
    /// the process cannot be placed.
    pub fn render(self, hierarchies: &Hierarchies, loads: &loadavg::Loads, pid: u32) -> Vec<u8> {
        let host = fs::read_to_string(self.host_path()).unwrap_or_default();
        let Some(view) = View::of_pid(hierarchies, pid) else {
            return host.into_bytes();
        };
        let text = match self {
            ProcFile::Meminfo => meminfo::render(&view, &host),
            ProcFile::Cpuinfo => cpus::cpuinfo(&view, &host),
            ProcFile::Stat => cpus::stat(&view, &host),
            ProcFile::Uptime => uptime::render(&view),
            ProcFile::Loadavg => loads.render(&view, &host),
            ProcFile::Swaps => swaps::render(&view, &host),
            ProcFile::Diskstats => diskstats::render(&view, &host),
            ProcFile::CpuOnline => cpus::online(&view),
        };
        text.unwrap_or(host).into_bytes()
    }
}

/// The value of "Key:  N kB" lines, in kB.
pub(crate) fn kb_lines(text: &str) -> std::collections::HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let n = v.split_whitespace().next()?.parse().ok()?;
            Some((k.trim().to_string(), n))
        })
        .collect()
}

/// Clock ticks per second for /proc/stat and starttime (USER_HZ).
pub(crate) fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a constant of the C library.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}
