//! `linux.resources.unified`: raw cgroup v2 files, written as given. On a hybrid host a key
//! is accepted when its controller is in the cgroup2 hierarchy; a v1-only host refuses them.

use std::collections::HashMap;

use crate::hierarchy::{Cgroup, CgroupError};

use super::dir_of;

pub(super) fn apply(cg: &Cgroup, unified: &HashMap<String, String>) -> Result<(), CgroupError> {
    let mut keys: Vec<_> = unified.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    for (key, value) in keys {
        let field = format!("linux.resources.unified.{key:?}");
        if key.is_empty() || key.contains('/') || key.starts_with('.') {
            return Err(CgroupError::Invalid(format!(
                "{field}: not a cgroup file name"
            )));
        }
        let Some(h) = cg.hierarchies.iter().find(|h| h.v2) else {
            return Err(CgroupError::Invalid(format!(
                "invalid configuration: {field} needs cgroup v2 and this host has only v1 \
                 hierarchies"
            )));
        };
        let dir = dir_of(&h.dir());
        // "memory.max" belongs to the memory controller; "cgroup.*" to the core.
        let controller = key.split('.').next().unwrap_or_default();
        if controller != "cgroup" && !h.has(controller) {
            // runc calls the v2 keys of a controller on v1 an invalid configuration.
            return Err(CgroupError::Invalid(format!(
                "invalid configuration: {field}: the {controller} controller is not enabled \
                 in the cgroup2 hierarchy here"
            )));
        }
        dir.set(&field, key, value)?;
    }
    Ok(())
}
