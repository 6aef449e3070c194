//! `husk exec`'s flags turned into the process to run, as runc builds it: `--process FILE`
//! as it is, or the container's own `process` with the command line and flags over it.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;
use serde_json::{json, Value};

use crate::args::ExecArgs;

/// The process `husk exec` runs in a container whose config has `base` as its process.
pub fn process(a: &ExecArgs, base: Option<&Process>) -> Result<Process> {
    if let Some(path) = &a.process {
        return from_file(path);
    }
    if a.command.is_empty() {
        bail!("exec: no command given (a command after the container id, or --process FILE)");
    }
    let mut p = match base {
        Some(b) => serde_json::to_value(b)?,
        None => json!({"cwd": "/", "user": {"uid": 0, "gid": 0}}),
    };
    p["args"] = json!(a.command);
    p["terminal"] = json!(a.tty);
    if !a.tty {
        if let Some(obj) = p.as_object_mut() {
            obj.remove("consoleSize");
        }
    }
    if let Some(cwd) = &a.cwd {
        p["cwd"] = json!(cwd);
    }
    if !a.env.is_empty() {
        let mut env = p["env"].as_array().cloned().unwrap_or_default();
        env.extend(a.env.iter().map(|e| json!(e)));
        p["env"] = Value::Array(env);
    }
    if let Some(user) = &a.user {
        set_user(&mut p, user)?;
    }
    if !a.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(a.additional_gids);
    }
    if a.no_new_privs {
        p["noNewPrivileges"] = json!(true);
    }
    if let Some(profile) = &a.apparmor {
        p["apparmorProfile"] = json!(profile);
    }
    if let Some(label) = &a.process_label {
        p["selinuxLabel"] = json!(label);
    }
    for cap in &a.cap {
        add_capability(&mut p, cap);
    }
    serde_json::from_value(p).context("exec: building the process from the flags")
}

/// `--process FILE`: read as the config's process is (keys in any case, the spec's names),
/// and without `user`, uid and gid 0, as runc runs it.
fn from_file(path: &std::path::Path) -> Result<Process> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut de = serde_json::Deserializer::from_slice(&text);
    let mut v: Value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| anyhow::anyhow!("{}: {}: {}", path.display(), e.path(), e.inner()))?;
    for note in husk_spec::lenient::relax(&mut v, husk_spec::lenient::Root::Process) {
        tracing::warn!("{}: {note}", path.display());
    }
    husk_spec::lenient::spec_names(&mut v, husk_spec::lenient::Root::Process);
    let Some(o) = v.as_object_mut() else {
        bail!("{}: the process must be a JSON object", path.display());
    };
    o.entry("user")
        .or_insert_with(|| json!({"uid": 0, "gid": 0}));
    serde_path_to_error::deserialize(v)
        .map_err(|e| anyhow::anyhow!("{}: {}: {}", path.display(), e.path(), e.inner()))
}

/// `--user UID[:GID]`.
fn set_user(p: &mut Value, user: &str) -> Result<()> {
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid: u32 = uid
        .parse()
        .with_context(|| format!("--user {user:?}: the uid must be a number"))?;
    p["user"]["uid"] = json!(uid);
    if let Some(g) = gid {
        let gid: u32 = g
            .parse()
            .with_context(|| format!("--user {user:?}: the gid must be a number"))?;
        p["user"]["gid"] = json!(gid);
    }
    Ok(())
}

/// `--cap NAME` into the bounding, effective and permitted sets; ambient too only when the
/// config already grants inheritable capabilities (as runc).
fn add_capability(p: &mut Value, cap: &str) {
    let cap = cap.to_uppercase();
    let cap = if cap.starts_with("CAP_") {
        cap
    } else {
        format!("CAP_{cap}")
    };
    let has_inheritable = p["capabilities"]["inheritable"]
        .as_array()
        .is_some_and(|i| !i.is_empty());
    let mut sets = vec!["bounding", "effective", "permitted"];
    if has_inheritable {
        sets.push("ambient");
    }
    for set in sets {
        let mut list = p["capabilities"][set]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !list.contains(&json!(cap)) {
            list.push(json!(cap));
        }
        p["capabilities"][set] = Value::Array(list);
    }
}
