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
    "idmap",
    "ridmap",
    "nosymfollow",
    "symfollow",
    "rnosymfollow",
    "rsymfollow",
    "iversion",
    "noiversion",
    "tmpcopyup",
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
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": true},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
                            "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                              "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                // The filter is built for the host's own architecture only.
                "archs": crate::seccomp::supported_architectures(),
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                               "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                   "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            // No resctrl on these machines: linux.intelRdt is refused at create, by name.
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}},
            "netDevices": {"enabled": true},
            "memoryPolicy": {
                "modes": ["MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
                          "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"],
                "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
            }
        },
        // Annotations through which a config changes what husk does on the host (runc lists
        // bundle, org.systemd.property. and org.criu.config, which it reads): husk reads
        // org.criu.config (a CRIU config file for checkpoint and restore) and run.husk.procfs
        // (it starts husk's procfs daemon on the host: procfs.rs).
        "potentiallyUnsafeConfigAnnotations": ["org.criu.config", crate::procfs::ANNOTATION],
        "annotations": {
            "org.opencontainers.runc.checkpoint.enabled": "true",
            // What the run.husk.procfs annotation may name ("true" for all of them).
            (crate::procfs::ANNOTATION): "meminfo,cpuinfo,stat,uptime,loadavg,swaps,diskstats,cpu-online",
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
        // Every memory policy mode and flag listed is one the config may name (oci-spec
        // parses it), so that linux.memoryPolicy takes it.
        for mode in f["linux"]["memoryPolicy"]["modes"].as_array().unwrap() {
            serde_json::from_value::<oci_spec::runtime::MemoryPolicyModeType>(mode.clone())
                .unwrap_or_else(|e| panic!("{mode}: {e}"));
        }
        for flag in f["linux"]["memoryPolicy"]["flags"].as_array().unwrap() {
            serde_json::from_value::<oci_spec::runtime::MemoryPolicyFlagType>(flag.clone())
                .unwrap_or_else(|e| panic!("{flag}: {e}"));
        }
    }
}
