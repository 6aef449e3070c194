//! The config.json `husk spec` writes: runc's default, and its rootless variant.

use serde_json::{json, Value};

/// runc's `spec` output (runc 1.2 and later: no ambient set), with husk's hostname. As runc's, it has a cgroup namespace only on a
/// pure cgroup v2 host (`cgroup_ns`): on v1 and hybrid hosts a container's cgroup paths are
/// the host's.
pub fn default_spec(cgroup_ns: bool) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut spec = json!({
        "ociVersion": crate::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "husk",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    if cgroup_ns {
        add_namespace(&mut spec, "cgroup");
    }
    spec
}

fn add_namespace(spec: &mut Value, kind: &str) {
    if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
        ns.push(json!({"type": kind}));
    }
}

/// runc's `spec --rootless`: a user namespace mapping the caller's ids, no network namespace,
/// /sys bound from the host, no gid=5 on devpts, no cgroup resources.
pub fn rootless_spec(uid: u32, gid: u32, cgroup_ns: bool) -> Value {
    let mut s = default_spec(false);
    let linux = &mut s["linux"];
    linux.as_object_mut().expect("object").remove("resources");
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    linux["namespaces"] = json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}]);
    if cgroup_ns {
        add_namespace(&mut s, "cgroup");
    }
    // The cgroup mount stays, read-only, as in runc's: it shows the container's cgroup, or
    // without one of its own the cgroups husk runs in.
    let mounts = s["mounts"].as_array_mut().expect("array");
    for m in mounts.iter_mut() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
        if m["destination"] == "/dev/pts" {
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| o != "gid=5");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_validate() {
        for v in [
            default_spec(false),
            default_spec(true),
            rootless_spec(1000, 1000, true),
        ] {
            let spec = crate::bundle::parse_config_reader(v.to_string().as_bytes()).unwrap();
            crate::validate(&spec).unwrap();
        }
    }
}
