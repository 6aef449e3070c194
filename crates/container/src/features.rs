//! `husk features`: the runtime spec's features.json, listing only what husk really does.

use oci_spec::runtime::Features;
use serde_json::json;

/// Every mount option husk understands (mounts::parse_options), not counting filesystem data.
const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "unbindable",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rrelatime",
    "rnorelatime",
    "rnoatime",
    "ratime",
    "rstrictatime",
    "rnostrictatime",
];

pub fn features() -> Features {
    let mut caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    caps.sort();
    let value = json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": husk_spec::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true},
            "seccomp": {"enabled": false},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {
            "org.opencontainers.runc.checkpoint.enabled": "false",
            "io.github.husk.version": env!("CARGO_PKG_VERSION")
        }
    });
    serde_json::from_value(value).expect("the features document matches oci-spec's type")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_list_what_husk_parses() {
        let f = serde_json::to_value(features()).unwrap();
        assert_eq!(f["ociVersionMax"], husk_spec::OCI_VERSION);
        assert!(f["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("CAP_SYS_ADMIN")));
        for opt in MOUNT_OPTIONS {
            let parsed = crate::mounts::parse_options(&[opt.to_string()]);
            assert!(
                parsed.data.is_empty(),
                "{opt} is listed but parsed as filesystem data"
            );
        }
    }
}
