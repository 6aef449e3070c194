//! Broken bundles: each gives a non-zero exit, a message that names the problem (the JSON path
//! where there is one), and leaves nothing behind: no state directory, no cgroup, no mount, no
//! process. Needs root.

use std::path::Path;

use husk_e2e::*;

type Mutate = fn(&mut Value, &Path);

/// (name, what to break, the text the error must contain, container id to use)
fn cases() -> Vec<(&'static str, Mutate, &'static str)> {
    fn ns(c: &mut Value) -> &mut Vec<Value> {
        c["linux"]["namespaces"].as_array_mut().unwrap()
    }
    vec![
        (
            "missing root",
            |c, _| {
                c.as_object_mut().unwrap().remove("root");
            },
            "root: is required",
        ),
        (
            "missing process",
            |c, _| {
                c.as_object_mut().unwrap().remove("process");
            },
            "process: is required",
        ),
        (
            "empty args",
            |c, _| c["process"]["args"] = json!([]),
            "process.args: must not be empty",
        ),
        (
            "relative cwd",
            |c, _| c["process"]["cwd"] = json!("tmp"),
            "process.cwd: must be an absolute path",
        ),
        (
            "unsupported ociVersion",
            |c, _| c["ociVersion"] = json!("2.0.0"),
            "ociVersion: \"2.0.0\" is not supported",
        ),
        (
            "non-semver ociVersion",
            |c, _| c["ociVersion"] = json!("latest"),
            "ociVersion: \"latest\" must be a SemVer",
        ),
        (
            "uid of the wrong type",
            |c, _| c["process"]["user"]["uid"] = json!("root"),
            "process.user.uid",
        ),
        (
            "negative uid",
            |c, _| c["process"]["user"]["uid"] = json!(-1),
            "process.user.uid",
        ),
        (
            "huge gid",
            |c, _| c["process"]["user"]["gid"] = json!(1u64 << 40),
            "process.user.gid",
        ),
        (
            "unknown namespace type",
            |c, _| ns(c)[0]["type"] = json!("bogus"),
            "linux.namespaces[0].type",
        ),
        (
            "duplicate namespace",
            |c, _| ns(c).push(json!({"type": "pid"})),
            "linux.namespaces: duplicate \"pid\"",
        ),
        (
            "relative namespace path",
            |c, _| ns(c)[1]["path"] = json!("proc/1/ns/net"),
            "linux.namespaces[1].path: must be an absolute path",
        ),
        (
            "missing namespace path",
            |c, _| ns(c)[1]["path"] = json!("/nonexistent/ns/net"),
            "opening namespace /nonexistent/ns/net",
        ),
        (
            "duplicate rlimit",
            |c, _| c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}, {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}]),
            "process.rlimits[1].type: duplicate \"RLIMIT_NOFILE\"",
        ),
        (
            "rlimit soft above hard",
            |c, _| {
                c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}])
            },
            "process.rlimits[0]: soft limit 10 exceeds hard limit 5",
        ),
        (
            "unknown rlimit",
            |c, _| {
                c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}])
            },
            "process.rlimits[0].type",
        ),
        (
            "rlimit above what root may raise here",
            |c, _| {
                c["process"]["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1048576}])
            },
            "setting RLIMIT_NOFILE to soft 1024 hard 1048576",
        ),
        (
            "hostname without uts namespace",
            |c, _| {
                ns(c).retain(|n| n["type"] != "uts");
            },
            "hostname: setting a hostname needs a uts namespace (new or joined)",
        ),
        (
            "mappings without user namespace",
            |c, _| {
                c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}])
            },
            "mappings need a user namespace",
        ),
        (
            "user namespace without mappings",
            |c, _| ns(c).push(json!({"type": "user"})),
            "linux.uidMappings: a new user namespace needs at least one uid mapping",
        ),
        (
            "mapping of size 0",
            |c, _| {
                ns(c).push(json!({"type": "user"}));
                c["linux"]["uidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 0}]);
                c["linux"]["gidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 1}]);
            },
            "linux.uidMappings[0].size: must be > 0",
        ),
        (
            "overlapping mappings",
            |c, _| {
                ns(c).push(json!({"type": "user"}));
                c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 10}, {"containerID": 0, "hostID": 200000, "size": 1}]);
                c["linux"]["gidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 1}]);
            },
            "linux.uidMappings[1]: overlaps an earlier range",
        ),
        (
            "mapping past 2^32",
            |c, _| {
                ns(c).push(json!({"type": "user"}));
                c["linux"]["uidMappings"] =
                    json!([{"containerID": 0, "hostID": 4294967295u64, "size": 2}]);
                c["linux"]["gidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 1}]);
            },
            "linux.uidMappings[0].hostID: range 4294967295+2 passes 2^32-1",
        ),
        (
            "env entry without =",
            |c, _| c["process"]["env"] = json!(["JUSTAWORD"]),
            "process.env[0]: \"JUSTAWORD\" must be KEY=value",
        ),
        (
            "relative hook path",
            |c, _| c["hooks"] = json!({"prestart": [{"path": "hook.sh"}]}),
            "hooks.prestart[0].path: must be an absolute path",
        ),
        (
            "hook timeout of 0",
            |c, _| c["hooks"] = json!({"poststart": [{"path": "/bin/true", "timeout": 0}]}),
            "hooks.poststart[0].timeout: 0 must be > 0",
        ),
        (
            "missing hook binary",
            |c, _| c["hooks"] = json!({"prestart": [{"path": "/nonexistent/hook"}]}),
            "error running prestart hook #0: /nonexistent/hook: cannot run",
        ),
        (
            "failing createRuntime hook",
            |c, _| c["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]}),
            "error running createRuntime hook #0: /bin/false: exit status 1",
        ),
        (
            "failing createContainer hook",
            |c, _| c["hooks"] = json!({"createContainer": [{"path": "/bin/false"}]}),
            "error running createContainer hook #0: /bin/false: exit status 1",
        ),
        (
            "missing program",
            |c, _| c["process"]["args"] = json!(["no-such-program"]),
            "exec: \"no-such-program\": executable file not found in $PATH",
        ),
        (
            // Docker maps "no such file or directory" in a create error to exit code 127.
            "missing program by path",
            |c, _| c["process"]["args"] = json!(["/no/such/program"]),
            "exec: \"/no/such/program\": stat /no/such/program: no such file or directory",
        ),
        (
            // ... and "permission denied" to 126.
            "a program that is not executable",
            |c, _| c["process"]["args"] = json!(["/etc/passwd"]),
            "exec: \"/etc/passwd\": permission denied",
        ),
        (
            "a program that is a directory",
            |c, _| c["process"]["args"] = json!(["/etc"]),
            "exec: \"/etc\": permission denied",
        ),
        (
            "bad rootfsPropagation",
            |c, _| c["linux"]["rootfsPropagation"] = json!("sideways"),
            "linux.rootfsPropagation: \"sideways\" must be one of",
        ),
        (
            "net sysctl without network namespace",
            |c, _| {
                ns(c).retain(|n| n["type"] != "network");
                c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            },
            "linux.sysctl.net.ipv4.ip_forward: needs a new network namespace",
        ),
        (
            "unknown sysctl",
            |c, _| c["linux"]["sysctl"] = json!({"kernel.no_such_knob": "1"}),
            "linux.sysctl.kernel.no_such_knob: opening /proc/sys/kernel/no_such_knob",
        ),
        (
            "relative device path",
            |c, _| {
                c["linux"]["devices"] =
                    json!([{"path": "dev/x", "type": "c", "major": 1, "minor": 3}])
            },
            "linux.devices[0].path: must be an absolute path",
        ),
        (
            "device of type a",
            |c, _| c["linux"]["devices"] = json!([{"path": "/dev/x", "type": "a"}]),
            "linux.devices[0].type: must be one of b, c, u, p",
        ),
        (
            "negative device numbers",
            |c, _| {
                c["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "c", "major": -1, "minor": 3}])
            },
            "linux.devices[0]: major and minor must be >= 0",
        ),
        (
            "relative masked path",
            |c, _| c["linux"]["maskedPaths"] = json!(["proc/kcore"]),
            "linux.maskedPaths[0]: must be an absolute path",
        ),
        (
            "relative readonly path",
            |c, _| c["linux"]["readonlyPaths"] = json!(["proc/sys"]),
            "linux.readonlyPaths[0]: must be an absolute path",
        ),
        (
            "oomScoreAdj out of range",
            |c, _| c["process"]["oomScoreAdj"] = json!(5000),
            "process.oomScoreAdj: 5000 must be between -1000 and 1000",
        ),
        (
            "time offsets without time namespace",
            |c, _| c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 1}}),
            "linux.timeOffsets: time offsets need a new time namespace",
        ),
        (
            "unknown clock",
            |c, _| {
                ns(c).push(json!({"type": "time"}));
                c["linux"]["timeOffsets"] = json!({"realtime": {"secs": 1}});
            },
            "linux.timeOffsets.realtime: clock must be",
        ),
        (
            "bind mount of a missing source",
            |c, _| {
                c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "bind", "source": "/nonexistent/src", "options": ["bind"]}))
            },
            "bind mount source /nonexistent/src",
        ),
        (
            "bind mount without source",
            |c, _| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"destination": "/x", "options": ["rbind"]}))
            },
            "mounts[7].source: is required for a bind mount",
        ),
        (
            "mount of an unknown filesystem",
            |c, _| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"destination": "/x", "type": "nosuchfs", "source": "none"}))
            },
            "mounting nosuchfs on /x",
        ),
        (
            "seccomp NOTIFY without a listener",
            |c, _| {
                c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})
            },
            "linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath",
        ),
        (
            "seccomp argument index out of range",
            |c, _| {
                c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                        "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]})
            },
            "linux.seccomp.syscalls[0].args[0]",
        ),
        (
            "seccomp unknown action",
            |c, _| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_SOMETIMES"}),
            "linux.seccomp.defaultAction",
        ),
        (
            "seccomp unknown architecture",
            |c, _| {
                c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_PDP11"]})
            },
            "linux.seccomp.architectures[1]",
        ),
        (
            "netDevices without a network namespace",
            |c, _| {
                ns(c).retain(|n| n["type"] != "network");
                c["linux"]["netDevices"] = json!({"eth9": {}});
            },
            "linux.netDevices: moving network devices needs a network namespace",
        ),
        (
            "netDevices: the loopback",
            |c, _| c["linux"]["netDevices"] = json!({"lo": {}}),
            "linux.netDevices.lo: the loopback device cannot be moved",
        ),
        (
            "netDevices: two devices under one name",
            |c, _| {
                c["linux"]["netDevices"] = json!({"eth8": {"name": "x0"}, "eth9": {"name": "x0"}})
            },
            "linux.netDevices.eth9.name: \"x0\" is the name of another device too",
        ),
        (
            "netDevices: a name the kernel refuses",
            |c, _| c["linux"]["netDevices"] = json!({"eth9": {"name": "a/b"}}),
            "linux.netDevices.eth9.name: \"a/b\" is not a network interface name",
        ),
        (
            "netDevices: no such device on the host",
            |c, _| c["linux"]["netDevices"] = json!({"husknodev0": {}}),
            "linux.netDevices.husknodev0: no network interface husknodev0 on the host",
        ),
        (
            "cgroupsPath with ..",
            |c, _| c["linux"]["cgroupsPath"] = json!("/a/../../b"),
            "linux.cgroupsPath: must not contain \"..\"",
        ),
        (
            "intelRdt, which husk does not implement",
            |c, _| c["linux"]["intelRdt"] = json!({"closID": "husk", "l3CacheSchema": "L3:0=ff"}),
            "linux.intelRdt: husk does not implement Intel RDT",
        ),
        (
            "empty annotation key",
            |c, _| c["annotations"] = json!({"": "v"}),
            "annotations: keys must not be empty",
        ),
        (
            "missing rootfs",
            |_, dir| std::fs::remove_dir_all(dir.join("rootfs")).unwrap(),
            "root.path: rootfs",
        ),
        (
            "invalid JSON",
            |_, dir| std::fs::write(dir.join("config.json"), "{\"ociVersion\": ").unwrap(),
            "EOF while parsing a value",
        ),
        (
            "trailing garbage after the JSON",
            |c, dir| std::fs::write(dir.join("config.json"), format!("{c} trailing")).unwrap(),
            "trailing characters",
        ),
        (
            "missing config.json",
            |_, dir| std::fs::remove_file(dir.join("config.json")).unwrap(),
            "cannot read config",
        ),
        (
            "oversized config.json",
            |c, dir| {
                // 17 MiB of annotation: past the 16 MiB husk reads.
                c["annotations"] = json!({"big": "x".repeat(17 << 20)});
                std::fs::write(dir.join("config.json"), c.to_string()).unwrap();
            },
            "larger than the 16777216 husk reads",
        ),
        (
            "deeply nested JSON",
            |c, dir| {
                let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
                // Where a string belongs (unknown properties, which the spec says to
                // ignore, are skipped without recursion by serde_json).
                let text = c.to_string();
                let text = format!("{{\"hostname\": {deep}, {}", &text[1..]);
                std::fs::write(dir.join("config.json"), text).unwrap();
            },
            "hostname: invalid type: sequence",
        ),
        (
            "non-UTF-8 string",
            |c, dir| {
                c["hostname"] = json!("HOSTNAME_PLACEHOLDER");
                let text = c.to_string().into_bytes();
                let at = text
                    .windows(20)
                    .position(|w| w == b"HOSTNAME_PLACEHOLDER")
                    .unwrap();
                let mut bytes = text[..at].to_vec();
                bytes.extend_from_slice(b"bad\xff\xfename");
                bytes.extend_from_slice(&text[at + 20..]);
                std::fs::write(dir.join("config.json"), bytes).unwrap();
            },
            "invalid unicode",
        ),
        (
            "huge number",
            |c, _| c["process"]["user"]["uid"] = json!(18446744073709551615u64),
            "process.user.uid",
        ),
        (
            "number too large for any integer",
            |c, dir| {
                let text = c
                    .to_string()
                    .replace("\"uid\":0", "\"uid\":1000000000000000000000000000000");
                std::fs::write(dir.join("config.json"), text).unwrap();
            },
            "process.user.uid",
        ),
        (
            "negative mapping size",
            |c, _| {
                ns(c).push(json!({"type": "user"}));
                c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": -1}]);
                c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
            },
            "linux.uidMappings[0].size",
        ),
        (
            "mount destination climbing above /",
            |c, _| {
                c["mounts"].as_array_mut().unwrap().push(
                    json!({"destination": "/tmp/../../etc", "type": "tmpfs", "source": "tmpfs"}),
                )
            },
            "climbs above / with \"..\"",
        ),
        (
            "device path climbing above /",
            |c, _| {
                c["linux"]["devices"] = json!([{"path": "/dev/../../../x", "type": "c",
                    "major": 1, "minor": 3}])
            },
            "linux.devices[0].path: \"/dev/../../../x\" climbs above /",
        ),
        (
            "NUL byte in an argument",
            |c, _| c["process"]["args"] = json!(["tr\u{0}ue"]),
            "process.args[0]: must not contain a NUL byte",
        ),
        (
            "NUL byte in the environment",
            |c, _| c["process"]["env"] = json!(["A=b\u{0}c"]),
            "process.env[0]: must not contain a NUL byte",
        ),
        (
            "NUL byte in a mount destination",
            |c, _| {
                c["mounts"].as_array_mut().unwrap().push(
                    json!({"destination": "/tmp/a\u{0}b", "type": "tmpfs", "source": "tmpfs"}),
                )
            },
            "must not contain a NUL byte",
        ),
        (
            "idmap on a non-bind mount",
            |c, _| {
                ns(c).push(json!({"type": "user"}));
                c["linux"]["uidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
                c["linux"]["gidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
                c["mounts"].as_array_mut().unwrap().push(
                    json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}),
                )
            },
            "idmapped mounts (idmap, ridmap, uidMappings) need a bind mount",
        ),
        (
            "mount uidMappings without gidMappings",
            |c, _| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"destination": "/data",
                    "type": "bind", "source": "/tmp", "options": ["bind", "idmap"],
                    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}))
            },
            "gidMappings: must be given along with uidMappings",
        ),
        (
            // The init fails while mounting: its own message must reach the caller, not a
            // bare "exited".
            "a mount of a filesystem type the kernel lacks",
            |c, _| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"destination": "/x", "type": "husknosuchfs", "source": "none"}))
            },
            "mounting husknosuchfs on /x",
        ),
        (
            "an AppArmor profile on a host without AppArmor",
            |c, _| c["process"]["apparmorProfile"] = json!("husk-test"),
            "process.apparmorProfile \"husk-test\": AppArmor is not enabled on this host",
        ),
        (
            "an SELinux process label on a host without SELinux",
            |c, _| c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0"),
            "process.selinuxLabel \"system_u:system_r:container_t:s0\": SELinux is not enabled",
        ),
        (
            "an SELinux mount label on a host without SELinux",
            |c, _| c["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0"),
            "linux.mountLabel \"system_u:object_r:container_file_t:s0\": SELinux is not enabled",
        ),
        (
            "config.json is a directory",
            |_, dir| {
                std::fs::remove_file(dir.join("config.json")).unwrap();
                std::fs::create_dir(dir.join("config.json")).unwrap();
            },
            "config.json",
        ),
    ]
}

/// Processes whose command line mentions `needle` (a forked husk init keeps husk's argv).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(format!("{name}: {cmd}"));
            }
        }
    }
    out
}

#[test]
fn every_broken_bundle_fails_with_a_named_error_and_leaves_nothing() {
    skip_unless_root!();
    let h = Husk::new();
    let cases = cases();
    assert!(cases.len() >= 60, "the table holds {} cases", cases.len());
    let mut failures = Vec::new();
    for (name, mutate, expect) in &cases {
        let mut b = TestBundle::busybox(&["true"]);
        let dir = b.path().to_path_buf();
        mutate(&mut b.config, &dir);
        if b.path().join("config.json").is_file()
            && !matches!(
                *name,
                "invalid JSON"
                    | "trailing garbage after the JSON"
                    | "oversized config.json"
                    | "deeply nested JSON"
                    | "non-UTF-8 string"
                    | "number too large for any integer"
            )
        {
            b.write();
        }
        let id = unique("broken");
        let mounts = mount_table();
        let out = h.run(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
        let err = text(&out.stderr);
        if out.status.success() {
            failures.push(format!("{name}: succeeded"));
        } else if !err.contains(expect) {
            failures.push(format!("{name}: error {err:?} does not contain {expect:?}"));
        }
        if h.root.path().join(&id).exists() || cgroup_dirs(&id).iter().any(|d| d.exists()) {
            failures.push(format!("{name}: state or cgroup left behind"));
        }
        if mounts != mount_table() {
            failures.push(format!("{name}: the host's mount table changed"));
        }
        let procs = processes_mentioning(b.path().to_str().unwrap());
        if !procs.is_empty() {
            failures.push(format!("{name}: processes left: {procs:?}"));
        }
    }
    eprintln!("{} broken bundles checked", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn bad_container_ids_are_refused_before_anything_is_made() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["true"]);
    for id in ["a/b", "..", ".", "a b", "ünï"] {
        let out = h.run(&["create", "--bundle", b.path().to_str().unwrap(), id]);
        assert!(!out.status.success(), "{id:?} accepted");
        assert!(
            text(&out.stderr).contains("invalid container ID format"),
            "{id:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        std::fs::read_dir(h.root.path())
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}
