//! Which kind of cgroup host this is.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The three host shapes husk supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// cgroup v1 controllers only.
    Legacy,
    /// v1 controllers plus a cgroup2 mount (at `/sys/fs/cgroup/unified`).
    Hybrid,
    /// Pure cgroup v2.
    Unified,
}

/// Detect the host's cgroup mode from `/sys/fs/cgroup` (through libcgroups' probe).
pub fn detect_mode() -> Option<Mode> {
    use libcgroups::common::{get_cgroup_setup_with_root, CgroupSetup};
    match get_cgroup_setup_with_root(Path::new("/sys/fs/cgroup")).ok()? {
        CgroupSetup::Legacy => Some(Mode::Legacy),
        CgroupSetup::Hybrid => Some(Mode::Hybrid),
        CgroupSetup::Unified => Some(Mode::Unified),
    }
}
