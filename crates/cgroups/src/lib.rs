//! husk-cgroups: a container's cgroup on a v1, v2 or hybrid host: where it lives, creating
//! it, placing processes in it, every `linux.resources` limit, the device list (v1 files or a
//! v2 eBPF program), freezing, statistics, OOM notices, signalling every process in it, and
//! removing it.
//!
//! Paths follow runc's `linux.cgroupsPath` rules: an absolute path is taken under each
//! hierarchy's root; a relative one under husk's own cgroup in that hierarchy; none gives
//! `<own cgroup>/husk/<container id>`. Only the levels husk created are removed. With the
//! systemd driver the cgroup is a transient scope systemd makes and removes (systemd.rs).

#![deny(unsafe_code)]

mod devices;
// The bpf(2) calls that load and attach the v2 device program: no maintained crate has
// them in the form husk needs (libbpf-rs wants libbpf and clang); the only unsafe code here.
#[allow(unsafe_code)]
mod devices_bpf;
mod freezer;
mod hierarchy;
mod mode;
mod oom;
mod resources;
mod stats;
mod systemd;

pub use devices::{container_device_rules, default_allowed_devices, DeviceRule, DeviceState};
pub use freezer::FreezerState;
pub use hierarchy::{Cgroup, CgroupError, Hierarchy};
pub use mode::{detect_mode, Mode};
pub use oom::OomWatcher;
pub use resources::apply as apply_resources;
pub use stats::Stats;
pub use systemd::SystemdUnit;
