//! husk-procfs: the files of /proc that a container reads to size itself (meminfo, cpuinfo,
//! stat, uptime, loadavg, swaps, diskstats, and /sys/devices/system/cpu/online), computed for
//! whichever process reads them from that process's cgroup, served by a FUSE filesystem.
//!
//! husk bind-mounts the served files over a container's own when the container asks
//! (docs/procfs.md). A reader the daemon cannot place (no cgroup it can read, the root
//! cgroup) gets the host's file as it is.

pub mod files;
mod fs;
mod mount;
pub mod view;

pub use files::ProcFile;
pub use fs::ProcFs;
pub use mount::{is_live_mount, mount_fuse, serve, ServeError};
