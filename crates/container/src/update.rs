//! `husk update`: change the cgroup resources of a created, running or paused container, and
//! remember them in its state (so that `events` and a later `update` see the new values).

use oci_spec::runtime::LinuxResources;
use serde_json::Value;

use crate::cgroup_driver::CgroupDriver;
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
    let Some(cg) = stored.cgroup.clone() else {
        return Err(Error::NoCgroup {
            id: id.to_string(),
            what: "updates",
        });
    };
    CgroupDriver::of(Some(cg), crate::rootless::is_rootless()).update(changes, &stored.config)?;

    if let Some(linux) = stored.config.linux_mut() {
        let current = linux.resources().clone().unwrap_or_default();
        linux.set_resources(Some(merge(&current, changes)?));
    }
    dir.save(&stored)?;
    Ok(())
}

/// `changes` laid over `current`: the fields it sets replace those of `current`.
fn merge(current: &LinuxResources, changes: &LinuxResources) -> Result<LinuxResources, Error> {
    let to_value = |r: &LinuxResources| serde_json::to_value(r).map_err(Error::BadResources);
    let mut base = to_value(current)?;
    overlay(&mut base, to_value(changes)?);
    serde_json::from_value(base).map_err(Error::BadResources)
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
