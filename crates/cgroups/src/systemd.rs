//! The systemd cgroup driver (`--systemd-cgroup`). The container's cgroup is a transient
//! scope that systemd makes, named by a `slice:prefix:name` `linux.cgroupsPath` (runc's
//! syntax; `machine.slice:libpod:abc` is the scope `libpod-abc.scope` in `machine.slice`).
//!
//! systemd owns that directory: it makes it when the scope starts with the container's first
//! process (Delegate=yes, so what is below is the container's, as runc asks), it rewrites the
//! files of the limits it knows whenever it reloads (so those limits are handed to it as unit
//! properties too, or a `systemctl daemon-reload` would undo them), and it removes the
//! directory when the scope stops. Everything else (the files systemd has no property for,
//! the device program, freezing, statistics, killing) is done on the directory as with
//! cgroupfs.
//!
//! The D-Bus side is libcgroups' systemd manager. It needs the unified hierarchy, so the driver
//! is for cgroup v2 hosts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use libcgroups::common::{CgroupManager, ControllerOpt};
use libcgroups::systemd::manager::Manager;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::hierarchy::CgroupError;

/// How long systemd gets to move the first process into a new scope.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long systemd gets to remove a stopped scope's cgroup.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The container's transient unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemdUnit {
    /// The slice the unit is in (`system.slice`).
    pub slice: String,
    /// The unit (`husk-abc.scope`).
    pub unit: String,
    /// `linux.cgroupsPath` as given, or husk's default, for libcgroups' manager.
    pub cgroups_path: String,
    pub id: String,
}

impl SystemdUnit {
    /// The unit for container `id`: `linux.cgroupsPath` is `slice:prefix:name` (runc's form;
    /// an empty slice is `system.slice`); none is `system.slice:husk:<id>`.
    pub fn parse(cgroups_path: Option<&Path>, id: &str) -> Result<SystemdUnit, CgroupError> {
        let given = cgroups_path
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = if given.is_empty() {
            format!("system.slice:husk:{id}")
        } else {
            given
        };
        let bad = |why: &str| {
            CgroupError::Invalid(format!(
                "linux.cgroupsPath {text:?}: with --systemd-cgroup it must be \
                 \"slice:prefix:name\" ({why})"
            ))
        };
        let parts: Vec<&str> = text.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(bad(&format!("{} parts", parts.len())));
        };
        if [slice, prefix, name].iter().any(|p| p.contains('/')) {
            return Err(bad("a part contains \"/\""));
        }
        if name.is_empty() {
            return Err(bad("the name is empty"));
        }
        let slice = if slice.is_empty() {
            "system.slice"
        } else {
            slice
        };
        expand_slice(slice).map_err(|why| bad(&why))?;
        let unit = if name.ends_with(".slice") {
            name.to_string()
        } else if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        Ok(SystemdUnit {
            slice: slice.to_string(),
            cgroups_path: format!("{slice}:{prefix}:{name}"),
            unit,
            id: id.to_string(),
        })
    }

    /// Where systemd puts the unit under the root of the hierarchy (system instance).
    pub fn cgroup_rel(&self) -> PathBuf {
        expand_slice(&self.slice)
            .unwrap_or_default()
            .join(&self.unit)
    }

    /// A connection to systemd. libcgroups retries a connect that finds systemd's socket full
    /// (EAGAIN) for about 15 s; a systemd busy for longer (an OOM kill being handled on a
    /// loaded machine) is given up to three such rounds more before create fails.
    fn manager(&self, timeout: Duration) -> Result<Manager, CgroupError> {
        let connect = || {
            Manager::new(
                "/sys/fs/cgroup".into(),
                PathBuf::from(&self.cgroups_path),
                self.id.clone(),
                true,
                timeout,
            )
        };
        let mut result = connect();
        for _ in 0..3 {
            match &result {
                Err(e) if e.to_string().contains("EAGAIN") => {
                    tracing::warn!("systemd does not accept a connection yet: trying again");
                    result = connect();
                }
                _ => break,
            }
        }
        result.map_err(|e| self.error("connecting to systemd", e))
    }

    /// Start the scope with process `pid` in it; returns once the process is in its cgroup.
    pub fn start(&self, pid: i32) -> Result<(), CgroupError> {
        self.manager(START_TIMEOUT)?
            .add_task(nix::unistd::Pid::from_raw(pid))
            .map_err(|e| self.error(&format!("starting it with pid {pid}"), e))
    }

    /// Hand the limits systemd knows to it as unit properties (MemoryMax, TasksMax, CPUQuota,
    /// AllowedCPUs, IOWeight and the like, mapped by libcgroups).
    pub fn set_properties(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let opt = ControllerOpt {
            resources: r,
            disable_oom_killer: false,
            oom_score_adj: None,
            freezer_state: None,
        };
        self.manager(START_TIMEOUT)?
            .apply(&opt)
            .map_err(|e| self.error("setting its properties", e))
    }

    /// Stop the scope (if systemd still has it: an emptied scope stops by itself) and wait for
    /// systemd to remove its cgroup `dir`.
    pub fn stop(&self, dir: &Path) -> Result<(), CgroupError> {
        if dir.exists() {
            let stopped = self
                .manager(START_TIMEOUT)
                .and_then(|m| m.remove().map_err(|e| self.error("stopping it", e)));
            if let Err(e) = stopped {
                // Stopped by systemd between the check and the call: nothing to do.
                if dir.exists() {
                    return Err(e);
                }
            }
        }
        let gone = wait_until_gone(dir, STOP_TIMEOUT);
        if gone {
            Ok(())
        } else {
            Err(CgroupError::Invalid(format!(
                "systemd unit {}: stopped, but systemd has not removed {} after {}s",
                self.unit,
                dir.display(),
                STOP_TIMEOUT.as_secs()
            )))
        }
    }

    fn error(&self, action: &str, e: impl std::fmt::Display) -> CgroupError {
        CgroupError::Invalid(format!(
            "systemd unit {} in {}: {action}: {e}",
            self.unit, self.slice
        ))
    }
}

/// systemd removes a stopped unit's cgroup asynchronously (StopUnit queues a job).
fn wait_until_gone(dir: &Path, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while dir.exists() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// Is systemd the init of this host (the test libcgroups and runc use)?
pub fn booted() -> bool {
    libcgroups::systemd::booted()
}

/// A slice's cgroup: systemd nests slices by their dashes, `a-b.slice` is
/// `a.slice/a-b.slice`; `-.slice` is the root.
fn expand_slice(slice: &str) -> Result<PathBuf, String> {
    let Some(base) = slice.strip_suffix(".slice").filter(|b| !b.is_empty()) else {
        return Err(format!("the slice {slice:?} does not end in .slice"));
    };
    if base == "-" {
        return Ok(PathBuf::new());
    }
    let mut path = PathBuf::new();
    let mut prefix = String::new();
    for component in base.split('-') {
        if component.is_empty() {
            return Err(format!(
                "the slice {slice:?} has an empty part between dashes"
            ));
        }
        prefix.push_str(component);
        path.push(format!("{prefix}.slice"));
        prefix.push('-');
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_nest_by_their_dashes() {
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            PathBuf::from("a.slice/a-b.slice/a-b-c.slice")
        );
        assert_eq!(expand_slice("-.slice").unwrap(), PathBuf::new());
        assert!(expand_slice("a--b.slice").is_err());
        assert!(expand_slice("system").is_err());
    }

    #[test]
    fn cgroups_path_is_slice_prefix_name() {
        let u = SystemdUnit::parse(Some(Path::new("machine.slice:libpod:abc")), "x").unwrap();
        assert_eq!(u.unit, "libpod-abc.scope");
        assert_eq!(
            u.cgroup_rel(),
            PathBuf::from("machine.slice/libpod-abc.scope")
        );
        let u = SystemdUnit::parse(None, "c1").unwrap();
        assert_eq!(u.unit, "husk-c1.scope");
        assert_eq!(u.slice, "system.slice");
        let u = SystemdUnit::parse(Some(Path::new(":p:n")), "c1").unwrap();
        assert_eq!(u.cgroup_rel(), PathBuf::from("system.slice/p-n.scope"));
        for bad in ["/abs/path", "a:b", "x.slice:p:", "notaslice:p:n", "a:b:c:d"] {
            let e = SystemdUnit::parse(Some(Path::new(bad)), "c1").unwrap_err();
            assert!(e.to_string().contains("linux.cgroupsPath"), "{bad}: {e}");
        }
    }
}
