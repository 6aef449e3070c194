//! `husk update`: change the cgroup resources of a created, running or paused container, and
//! remember them in its state (so that `events` and a later `update` see the new values).

use husk_cgroups::{container_device_rules, DeviceState};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};
use serde_json::Value;

use crate::state::Store;
use crate::Error;

pub fn update(store: &Store, id: &str, changes: &LinuxResources) -> Result<(), Error> {
    crate::state::validate_id(id)?;
    let dir = store.open(id)?;
    let mut stored = dir.load()?;
    let status = dir.status(&stored);
    if status == husk_spec::Status::Stopped {
        return Err(Error::NotRunning {
            id: id.to_string(),
            status,
        });
    }
    let cg = stored.cgroup.clone().ok_or_else(|| Error::NoCgroup {
        id: id.to_string(),
        what: "updates",
    })?;
    husk_cgroups::apply_resources(&cg, changes, true)?;
    if let Some(devices) = changes.devices() {
        if !crate::rootless::is_rootless() {
            update_devices(&cg, &stored.config, devices)?;
        }
    }

    if let Some(linux) = stored.config.linux_mut() {
        let current = linux.resources().clone().unwrap_or_default();
        linux.set_resources(Some(merge(&current, changes)?));
    }
    dir.save(&stored)?;
    Ok(())
}

/// containerd sends a container's whole resources, device rules included, on every update:
/// rules that come to the same device list are no change; others replace the list without a
/// moment when a device both lists allow is denied (Cgroup::update_devices).
fn update_devices(
    cg: &husk_cgroups::Cgroup,
    config: &oci_spec::runtime::Spec,
    devices: &[LinuxDeviceCgroup],
) -> Result<(), Error> {
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

/// `changes` laid over `current`: the fields it sets replace those of `current`.
fn merge(current: &LinuxResources, changes: &LinuxResources) -> Result<LinuxResources, Error> {
    let to_value = |r: &LinuxResources| {
        serde_json::to_value(r).map_err(|e| Error::Unsupported(format!("resources: {e}")))
    };
    let mut base = to_value(current)?;
    overlay(&mut base, to_value(changes)?);
    serde_json::from_value(base).map_err(|e| Error::Unsupported(format!("resources: {e}")))
}

fn overlay(base: &mut Value, top: Value) {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in t {
                if v.is_null() {
                    continue;
                }
                overlay(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, t) => *b = t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_fields_replace_and_others_stay() {
        let current: LinuxResources =
            serde_json::from_str(r#"{"memory":{"limit":100,"swap":200},"pids":{"limit":5}}"#)
                .unwrap();
        let changes: LinuxResources = serde_json::from_str(r#"{"memory":{"limit":300}}"#).unwrap();
        let m = merge(&current, &changes).unwrap();
        let mem = m.memory().as_ref().unwrap();
        assert_eq!(mem.limit(), Some(300));
        assert_eq!(mem.swap(), Some(200));
        assert_eq!(m.pids().as_ref().unwrap().limit(), 5);
    }
}
