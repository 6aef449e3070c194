//! husk-cgroups: where a container's cgroup lives on a v1, v2 or hybrid host, creating it,
//! placing processes in it, its device list, signalling every process in it, and removing it.
//!
//! Paths follow runc's `linux.cgroupsPath` rules: an absolute path is taken under each
//! hierarchy's root; a relative one under husk's own cgroup in that hierarchy; none gives
//! `<own cgroup>/husk/<container id>`. Only the levels husk created are removed.

mod devices;
mod hierarchy;
mod mode;

pub use devices::{default_allowed_devices, DeviceRule};
pub use hierarchy::{Cgroup, CgroupError, Hierarchy};
pub use mode::{detect_mode, Mode};
