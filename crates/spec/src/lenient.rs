//! What runc reads in config.json (and exec's process.json) that serde, strict, does not:
//!
//! - Keys in another case. Go's JSON decoder matches field names case-insensitively, so
//!   `"pagesize"` is `pageSize` to runc, and configs written against runc (its own test suite
//!   among them) carry such keys. serde would drop them as unknown fields and read the field
//!   as absent.
//! - Capability names nobody knows. Since runtime-spec 1.1 a value that cannot be mapped to a
//!   kernel interface MUST be logged as a warning, and runtimes SHOULD NOT fail: runc warns
//!   and ignores it. oci-spec's enum refuses the whole config.
//!
//! `relax` rewrites the JSON before it is decoded, and says what it did.

use serde_json::{Map, Value};

/// Every field name of the runtime spec's config (runtime-spec 1.3, Linux; taken from
/// oci-spec's types), for matching keys whatever their case.
const FIELDS: &[&str] = &[
    "access",
    "action",
    "additionalGids",
    "allow",
    "ambient",
    "annotations",
    "apparmorProfile",
    "architectures",
    "args",
    "blockIO",
    "bounding",
    "bundle",
    "burst",
    "capabilities",
    "cgroupsPath",
    "checkBeforeUpdate",
    "class",
    "classID",
    "closID",
    "commandLine",
    "consoleSize",
    "containerID",
    "cpu",
    "cpus",
    "createContainer",
    "createRuntime",
    "cwd",
    "deadline",
    "defaultAction",
    "defaultErrnoRet",
    "destination",
    "devices",
    "disableOOMKiller",
    "domain",
    "domainname",
    "effective",
    "enableCmt",
    "enableMbm",
    "enableMonitoring",
    "env",
    "errnoRet",
    "execCPUAffinity",
    "fds",
    "fileMode",
    "final",
    "flags",
    "gid",
    "gidMappings",
    "hard",
    "hcaHandles",
    "hcaObjects",
    "height",
    "hooks",
    "hostID",
    "hostname",
    "hugepageLimits",
    "id",
    "idle",
    "index",
    "inheritable",
    "initial",
    "intelRdt",
    "ioPriority",
    "kernel",
    "kernelTCP",
    "l3CacheSchema",
    "leafWeight",
    "limit",
    "linux",
    "listenerMetadata",
    "listenerPath",
    "major",
    "maskedPaths",
    "memBwSchema",
    "memory",
    "memoryPolicy",
    "mems",
    "metadata",
    "minor",
    "mode",
    "mountLabel",
    "mounts",
    "name",
    "names",
    "namespaces",
    "nanosecs",
    "netDevices",
    "network",
    "nice",
    "noNewPrivileges",
    "nodes",
    "ociVersion",
    "oomScoreAdj",
    "op",
    "options",
    "pageSize",
    "path",
    "period",
    "permitted",
    "personality",
    "pid",
    "pids",
    "policy",
    "poststart",
    "poststop",
    "prestart",
    "priorities",
    "priority",
    "process",
    "quota",
    "rate",
    "rdma",
    "readonly",
    "readonlyPaths",
    "realtimePeriod",
    "realtimeRuntime",
    "reservation",
    "resources",
    "rlimits",
    "root",
    "rootfsPropagation",
    "runtime",
    "scheduler",
    "schemata",
    "seccomp",
    "secs",
    "selinuxLabel",
    "shares",
    "size",
    "soft",
    "source",
    "startContainer",
    "state",
    "status",
    "swap",
    "swappiness",
    "syscalls",
    "sysctl",
    "terminal",
    "throttleReadBpsDevice",
    "throttleReadIOPSDevice",
    "throttleWriteBpsDevice",
    "throttleWriteIOPSDevice",
    "timeOffsets",
    "timeout",
    "type",
    "uid",
    "uidMappings",
    "umask",
    "unified",
    "useHierarchy",
    "user",
    "username",
    "value",
    "valueTwo",
    "version",
    "weight",
    "weightDevice",
    "width",
];

/// Maps whose keys are data (annotation names, sysctl keys, cgroup files, device and
/// interface names), never renamed.
const FREE_FORM: &[&str] = &["annotations", "sysctl", "unified", "rdma", "netDevices"];

/// Where the JSON starts: a whole config.json, or exec's process.json.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Config,
    Process,
}

/// Names the runtime spec gives that oci-spec spells otherwise: the scheduler flag
/// `SCHED_FLAG_RESET_ON_FORK` is `SCHED_RESET_ON_FORK` to oci-spec. Rewritten so that the
/// spec's name is read; true when anything was.
pub fn spec_names(value: &mut Value, root: Root) -> bool {
    let flags = match root {
        Root::Config => value.pointer_mut("/process/scheduler/flags"),
        Root::Process => value.pointer_mut("/scheduler/flags"),
    };
    let Some(Value::Array(flags)) = flags else {
        return false;
    };
    let mut changed = false;
    for f in flags.iter_mut() {
        if f == "SCHED_FLAG_RESET_ON_FORK" {
            *f = Value::String("SCHED_RESET_ON_FORK".into());
            changed = true;
        }
    }
    changed
}

/// Rename keys to the spec's case and drop unknown capability names; one warning per change
/// (empty when nothing changed).
pub fn relax(value: &mut Value, root: Root) -> Vec<String> {
    let mut notes = Vec::new();
    canonical_keys(value, "", &mut notes);
    let caps = match root {
        Root::Config => value.pointer_mut("/process/capabilities"),
        Root::Process => value.pointer_mut("/capabilities"),
    };
    if let Some(Value::Object(sets)) = caps {
        drop_unknown_capabilities(sets, &mut notes);
    }
    notes
}

fn canonical_keys(value: &mut Value, path: &str, notes: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let free_form = FREE_FORM.iter().any(|f| path.rsplit('.').next() == Some(f));
            if !free_form {
                rename_keys(map, path, notes);
            }
            for (k, v) in map.iter_mut() {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                canonical_keys(v, &child, notes);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                canonical_keys(v, &format!("{path}[{i}]"), notes);
            }
        }
        _ => {}
    }
}

fn rename_keys(map: &mut Map<String, Value>, path: &str, notes: &mut Vec<String>) {
    let renames: Vec<(String, &str)> = map
        .keys()
        .filter(|k| !FIELDS.contains(&k.as_str()))
        .filter_map(|k| {
            let field = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(k))?;
            (!map.contains_key(*field)).then(|| (k.clone(), *field))
        })
        .collect();
    for (from, to) in renames {
        if let Some(v) = map.remove(&from) {
            let at = if path.is_empty() {
                String::new()
            } else {
                format!("{path}.")
            };
            notes.push(format!("{at}{from}: read as {at}{to}, as runc reads it"));
            map.insert(to.to_string(), v);
        }
    }
}

fn drop_unknown_capabilities(sets: &mut Map<String, Value>, notes: &mut Vec<String>) {
    for (set, names) in sets.iter_mut() {
        let Value::Array(names) = names else { continue };
        names.retain(|name| {
            let known =
                serde_json::from_value::<oci_spec::runtime::Capability>(name.clone()).is_ok();
            if !known {
                notes.push(format!(
                    "process.capabilities.{set}: unknown capability {name}, ignored"
                ));
            }
            known
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_take_the_specs_case_except_in_free_form_maps() {
        let mut v = json!({"linux": {"resources": {"hugepageLimits": [{"pagesize": "2MB", "LIMIT": 1}],
                           "unified": {"Memory.Max": "1"}},
                           "sysctl": {"net.ipv4.Ip_forward": "1"}},
                           "annotations": {"Pagesize": "x"}});
        let notes = relax(&mut v, Root::Config);
        assert_eq!(
            v["linux"]["resources"]["hugepageLimits"][0],
            json!({"pageSize": "2MB", "limit": 1})
        );
        assert_eq!(
            v["linux"]["resources"]["unified"],
            json!({"Memory.Max": "1"})
        );
        assert_eq!(v["linux"]["sysctl"], json!({"net.ipv4.Ip_forward": "1"}));
        assert_eq!(v["annotations"], json!({"Pagesize": "x"}));
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes
                .iter()
                .any(|n| n.contains("linux.resources.hugepageLimits[0].pagesize")),
            "{notes:?}"
        );
    }

    #[test]
    fn the_specs_scheduler_flag_name_is_read() {
        let mut v = json!({"process": {"scheduler": {"flags": ["SCHED_FLAG_RESET_ON_FORK"]}}});
        assert!(spec_names(&mut v, Root::Config));
        assert_eq!(
            v["process"]["scheduler"]["flags"],
            json!(["SCHED_RESET_ON_FORK"])
        );
        assert!(!spec_names(&mut v, Root::Config));
    }

    #[test]
    fn an_exact_key_wins_over_one_in_another_case() {
        let mut v = json!({"process": {"cwd": "/a", "CWD": "/b"}});
        relax(&mut v, Root::Config);
        assert_eq!(v["process"]["cwd"], "/a");
    }

    #[test]
    fn unknown_capabilities_are_dropped_with_a_warning() {
        let mut v = json!({"process": {"capabilities": {"bounding": ["CAP_UNKNOWN", "CAP_KILL"]}}});
        let notes = relax(&mut v, Root::Config);
        assert_eq!(
            v["process"]["capabilities"]["bounding"],
            json!(["CAP_KILL"])
        );
        assert!(
            notes[0].contains("unknown capability \"CAP_UNKNOWN\""),
            "{notes:?}"
        );
        let mut p = json!({"capabilities": {"effective": ["CAP_NOPE"]}});
        relax(&mut p, Root::Process);
        assert_eq!(p["capabilities"]["effective"], json!([]));
    }
}
