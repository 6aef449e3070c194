//! The container's cgroup, by who drives it: the moments of a container's life a driver acts
//! on (before the fork, once the intermediate says Hello, once the init exists, on update),
//! as runc's and youki's cgroup managers have them. Removal is the same for all:
//! `Cgroup::remove` (husk_cgroups) stops a systemd scope or removes what husk made.

use husk_cgroups::{container_device_rules, Cgroup, DeviceState};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources, Spec};

use crate::Error;

pub enum CgroupDriver {
    /// husk writes the cgroup files itself (as root).
    Cgroupfs(Cgroup),
    /// A cgroup the unprivileged user was delegated: as cgroupfs, without the device rules,
    /// which take CAP_SYS_ADMIN on the host (v1 lists, v2 eBPF); the container only has the
    /// host's nodes, bind-mounted.
    Delegated(Cgroup),
    /// A transient systemd scope: it exists only once it holds a process, so it is made
    /// around the intermediate and limited then, through systemd's unit properties.
    Systemd(Cgroup),
    /// No cgroup of its own (rootless, none delegated): resources were refused before
    /// (rootless::without_cgroup); a cgroup mount shows the cgroups husk itself is in, as
    /// runc's does.
    Without { shown: Option<Cgroup> },
}

impl CgroupDriver {
    pub fn of(cgroup: Option<Cgroup>, rootless: bool) -> CgroupDriver {
        match cgroup {
            Some(cg) if cg.systemd.is_some() => CgroupDriver::Systemd(cg),
            Some(cg) if rootless => CgroupDriver::Delegated(cg),
            Some(cg) => CgroupDriver::Cgroupfs(cg),
            None => CgroupDriver::Without {
                shown: Cgroup::of_this_process().ok(),
            },
        }
    }

    /// The container's own cgroup, if it has one.
    pub fn cgroup(&self) -> Option<&Cgroup> {
        match self {
            CgroupDriver::Cgroupfs(cg)
            | CgroupDriver::Delegated(cg)
            | CgroupDriver::Systemd(cg) => Some(cg),
            CgroupDriver::Without { .. } => None,
        }
    }

    /// What a cgroup mount in the container shows.
    pub fn shown(&self) -> Option<&Cgroup> {
        match self {
            CgroupDriver::Without { shown } => shown.as_ref(),
            _ => self.cgroup(),
        }
    }

    /// Before the fork: every limit but the pids one is in place before any process joins.
    pub fn before_fork(&self, spec: &Spec) -> Result<(), Error> {
        match self {
            CgroupDriver::Cgroupfs(cg) | CgroupDriver::Delegated(cg) => self.limit(cg, spec),
            CgroupDriver::Systemd(_) | CgroupDriver::Without { .. } => Ok(()),
        }
    }

    /// Where the intermediate may be born (cgroup v2's clone3 CLONE_INTO_CGROUP).
    pub fn birthplace(&self) -> Option<&Cgroup> {
        match self {
            CgroupDriver::Cgroupfs(cg) | CgroupDriver::Delegated(cg) => Some(cg),
            CgroupDriver::Systemd(_) | CgroupDriver::Without { .. } => None,
        }
    }

    /// The intermediate said Hello (and waits): into the cgroup, unless born there; a
    /// systemd scope is made around it and limited now. True when the cgroup changed (the
    /// scope's), so that the state records it.
    pub fn after_hello(&mut self, pid: i32, born_there: bool, spec: &Spec) -> Result<bool, Error> {
        match self {
            CgroupDriver::Systemd(cg) => {
                cg.start_unit(pid)?;
                let cg = cg.clone();
                self.limit(&cg, spec)?;
                Ok(true)
            }
            CgroupDriver::Cgroupfs(cg) | CgroupDriver::Delegated(cg) if !born_there => {
                cg.add_pid(pid)?;
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    /// The init exists: the pids limit. For a moment the cgroup held both the intermediate and
    /// the init, so a limit of 1 (runc's reading of 0) set earlier would have stopped the init
    /// from being forked; runc also sets its limits after its init is in the cgroup.
    pub fn after_init(&self, spec: &Spec) -> Result<(), Error> {
        let Some(cg) = self.cgroup() else {
            return Ok(());
        };
        let pids = spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| *r.pids());
        if let Some(pids) = pids {
            let mut only_pids = LinuxResources::default();
            only_pids.set_pids(Some(pids));
            husk_cgroups::apply_resources(cg, &only_pids, false)?;
        }
        Ok(())
    }

    /// `husk update`: the changed resources, and a changed device list (but by a delegated
    /// cgroup's driver), against `config`, the container's config as last updated.
    pub fn update(&self, changes: &LinuxResources, config: &Spec) -> Result<(), Error> {
        let Some(cg) = self.cgroup() else {
            return Ok(());
        };
        husk_cgroups::apply_resources(cg, changes, true)?;
        match (changes.devices(), self) {
            (_, CgroupDriver::Delegated(_)) | (None, _) => Ok(()),
            (Some(devices), _) => update_devices(cg, config, devices),
        }
    }

    /// The device list, then `linux.resources` but pids (see `after_init`).
    fn limit(&self, cg: &Cgroup, spec: &Spec) -> Result<(), Error> {
        let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
        if !matches!(self, CgroupDriver::Delegated(_)) {
            let config = resources
                .and_then(|r| r.devices().clone())
                .unwrap_or_default();
            cg.apply_devices(&container_device_rules(&config))?;
        }
        if let Some(resources) = resources {
            let mut without_pids = resources.clone();
            without_pids.set_pids(None);
            husk_cgroups::apply_resources(cg, &without_pids, false)?;
        }
        Ok(())
    }
}

/// containerd sends a container's whole resources, device rules included, on every update:
/// rules that come to the same device list are no change; others replace the list without a
/// moment when a device both lists allow is denied (Cgroup::update_devices).
fn update_devices(cg: &Cgroup, config: &Spec, devices: &[LinuxDeviceCgroup]) -> Result<(), Error> {
    let current = config
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone())
        .unwrap_or_default();
    let old = container_device_rules(&current);
    let new = container_device_rules(devices);
    if DeviceState::after(&old) != DeviceState::after(&new) {
        cg.update_devices(&old, &new)?;
    }
    Ok(())
}
