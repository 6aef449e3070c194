//! What the container gets from config.json, checked from inside it (and from the host where
//! that is where a user would look). Needs root.

use std::process::Command;

use husk_e2e::*;

/// Run `script` with `sh -c` in a container made from `b` (after `tweak`), expect exit 0, and
/// return its stdout.
fn inside(tweak: impl FnOnce(&mut Value), script: &str) -> String {
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["sh", "-c", script]);
    tweak(&mut b.config);
    b.write();
    let id = unique("env");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_eq!(
        code, 0,
        "script {script:?} failed: stdout {out:?} stderr {err:?}"
    );
    h.assert_no_trace(&id);
    out
}

fn ns_inode(link: &str) -> String {
    std::fs::read_link(link).unwrap().display().to_string()
}

#[test]
fn hostname_and_domainname_are_set_in_the_new_uts_namespace() {
    skip_unless_root!();
    let out = inside(
        |c| {
            c["hostname"] = json!("boxhost");
            c["domainname"] = json!("example.org");
        },
        "hostname; cat /proc/sys/kernel/domainname",
    );
    assert_eq!(out, "boxhost\nexample.org\n");
}

#[test]
fn new_namespaces_differ_from_the_hosts_and_joined_ones_match_the_path() {
    skip_unless_root!();
    let out = inside(
        add_cgroup_namespace,
        "for n in pid mnt net ipc uts cgroup; do readlink /proc/self/ns/$n; done",
    );
    for (line, ns) in out
        .lines()
        .zip(["pid", "mnt", "net", "ipc", "uts", "cgroup"])
    {
        assert_ne!(
            line,
            ns_inode(&format!("/proc/self/ns/{ns}")),
            "{ns} must be new"
        );
    }
    // Join the host's network namespace by path.
    let out = inside(
        |c| {
            let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
            for n in nss.iter_mut() {
                if n["type"] == "network" {
                    n["path"] = json!(format!("/proc/{}/ns/net", std::process::id()));
                }
            }
        },
        "readlink /proc/self/ns/net",
    );
    assert_eq!(out.trim(), ns_inode("/proc/self/ns/net"));
}

#[test]
fn a_user_namespace_gets_the_configured_mappings() {
    skip_unless_root!();
    let out = inside(
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1000},
                                               {"containerID": 1000, "hostID": 200000, "size": 10}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        },
        "cat /proc/self/uid_map /proc/self/gid_map; id -u",
    );
    let words: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(words[0], ["0", "100000", "1000"]);
    assert_eq!(words[1], ["1000", "200000", "10"]);
    assert_eq!(words[2], ["0", "100000", "65536"]);
    assert_eq!(words[3], ["0"]);
}

#[test]
fn a_time_namespace_applies_the_boottime_offset() {
    skip_unless_root!();
    let out = inside(
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "time"}));
            c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 864000, "nanosecs": 0}});
        },
        "cut -d. -f1 /proc/uptime",
    );
    let up: u64 = out.trim().parse().unwrap();
    assert!(up >= 864000, "uptime {up} must include the 10-day offset");
}

#[test]
fn mounts_are_made_in_order_with_their_options() {
    skip_unless_root!();
    let host = TempDir::new("husk-bind");
    std::fs::write(host.path().join("f"), "from host").unwrap();
    let out = inside(
        |c| {
            let m = c["mounts"].as_array_mut().unwrap();
            m.push(json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=700"]}));
            m.push(json!({"destination": "/data/ro", "type": "bind", "source": host.path(), "options": ["rbind", "ro"]}));
            m.push(json!({"destination": "/rro", "type": "bind", "source": host.path(), "options": ["rbind", "rro"]}));
        },
        "grep -E ' /data | /data/ro | /rro ' /proc/self/mountinfo; cat /data/ro/f; echo; \
         touch /data/ro/x 2>/dev/null && echo writable || echo readonly; stat -c %a /data",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains(" /data ")
            && lines[0].contains("nosuid,nodev,noexec")
            && lines[0].contains("tmpfs"),
        "{out}"
    );
    assert!(
        lines[1].contains(" /data/ro ") && lines[1].contains(" ro,"),
        "{out}"
    );
    assert!(
        lines[2].contains(" /rro ") && lines[2].contains(" ro,"),
        "{out}"
    );
    assert_eq!(lines[3], "from host");
    assert_eq!(lines[4], "readonly");
    assert_eq!(lines[5], "700");
}

#[test]
fn a_symlink_at_a_mount_destination_cannot_send_the_mount_outside_the_rootfs() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&[
        "sh",
        "-c",
        "ls /escape/ | head -1; grep ' /etc/target ' /proc/self/mountinfo | wc -l",
    ]);
    // Planted links: absolute to the host's /, and relative out of the rootfs.
    std::os::unix::fs::symlink("/", b.rootfs().join("escape")).unwrap();
    std::os::unix::fs::symlink("../../../../../../etc", b.rootfs().join("up")).unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/escape/husk-escape-test", "type": "tmpfs", "source": "tmpfs"}),
    );
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/up/target", "type": "tmpfs", "source": "tmpfs"}));
    b.write();
    let mounts = mount_table();
    let (code, _, err) = h.run_bundle(&b, &unique("esc"));
    assert_eq!(code, 0, "{err}");
    assert!(
        !std::path::Path::new("/husk-escape-test").exists(),
        "mount point created on the host"
    );
    assert!(
        !std::path::Path::new("/etc/target").exists(),
        "mount point created in the host's /etc"
    );
    assert!(
        b.rootfs().join("husk-escape-test").is_dir(),
        "the mount landed inside the rootfs"
    );
    assert!(
        b.rootfs().join("etc/target").is_dir(),
        "the relative link was clamped to the rootfs"
    );
    assert_eq!(mounts, mount_table());
}

#[test]
fn dev_has_the_default_devices_symlinks_and_configured_nodes() {
    skip_unless_root!();
    let out = inside(
        |c| {
            c["linux"]["devices"] = json!([{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o660, "uid": 0, "gid": 8}]);
        },
        "for d in null zero full random urandom tty mynull; do stat -c '%n %F %t:%T %a %u %g' /dev/$d; done; \
         for l in fd stdin ptmx; do readlink /dev/$l; done; echo x > /dev/mynull && echo ok",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "/dev/null character special file 1:3 666 0 0");
    assert_eq!(lines[1], "/dev/zero character special file 1:5 666 0 0");
    assert_eq!(lines[5], "/dev/tty character special file 5:0 666 0 0");
    assert_eq!(lines[6], "/dev/mynull character special file 1:3 660 0 8");
    assert_eq!(
        &lines[7..10],
        ["/proc/self/fd", "/proc/self/fd/0", "pts/ptmx"]
    );
    assert_eq!(
        lines[10], "ok",
        "a configured device is allowed by the device cgroup"
    );
}

#[test]
fn the_device_cgroup_denies_devices_not_in_the_config() {
    skip_unless_root!();
    // mknod is allowed (runc's default) but opening a disk that the config does not allow is not.
    let out = inside(
        |c| {
            c["process"]["capabilities"]["bounding"]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
            c["process"]["capabilities"]["effective"]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
            c["process"]["capabilities"]["permitted"]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
        },
        "mknod /dev/sda b 8 0 && (head -c1 /dev/sda >/dev/null 2>&1 && echo opened || echo denied)",
    );
    assert_eq!(out.trim(), "denied");
}

#[test]
fn masked_paths_are_hidden_and_readonly_paths_cannot_be_written() {
    skip_unless_root!();
    // The first file of runc's masked list that this kernel has, and a masked directory.
    let file = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("a maskable /proc file");
    let out = inside(
        |_| {},
        &format!(
            "wc -c < {file}; grep ' /proc/acpi ' /proc/self/mountinfo | grep -c ' - tmpfs .* ro'; \
             echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo wrote || echo refused; \
             grep ' /proc/sys ' /proc/self/mountinfo | grep -c ' ro,'"
        ),
    );
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, ["0", "1", "refused", "1"], "masking {file}");
}

#[test]
fn a_readonly_root_refuses_writes() {
    skip_unless_root!();
    let out = inside(
        |c| c["root"]["readonly"] = json!(true),
        "touch /x 2>/dev/null && echo wrote || echo refused",
    );
    assert_eq!(out.trim(), "refused");
    let out = inside(
        |c| c["root"]["readonly"] = json!(false),
        "touch /x && echo wrote",
    );
    assert_eq!(out.trim(), "wrote");
}

#[test]
fn the_process_gets_its_user_groups_umask_cwd_env_and_rlimits() {
    skip_unless_root!();
    let out = inside(
        |c| {
            let p = &mut c["process"];
            p["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 6], "umask": 0o027});
            p["cwd"] = json!("/work/dir");
            p["env"].as_array_mut().unwrap().push(json!("GREETING=hi there"));
            p["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000}, {"type": "RLIMIT_NPROC", "soft": 300, "hard": 300}]);
            p["oomScoreAdj"] = json!(500);
        },
        "id -u; id -g; id -G; umask; pwd; echo \"$GREETING\"; ulimit -n; ulimit -Hn; ulimit -u; cat /proc/self/oom_score_adj; echo $HOME",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "1000",
            "1001",
            "1001 5 6",
            "0027",
            "/work/dir",
            "hi there",
            "512",
            "1000",
            "300",
            "500",
            "/"
        ]
    );
}

#[test]
fn capabilities_and_no_new_privileges_are_exactly_the_configs() {
    skip_unless_root!();
    let out = inside(
        |c| {
            let caps = json!(["CAP_CHOWN", "CAP_KILL"]);
            c["process"]["capabilities"] = json!({"bounding": caps, "effective": ["CAP_KILL"], "permitted": caps, "inheritable": ["CAP_KILL"], "ambient": []});
            c["process"]["noNewPrivileges"] = json!(true);
        },
        "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status",
    );
    // CHOWN is bit 0, KILL bit 5. As uid 0, exec sets P and E to the bounding set.
    assert!(out.contains("CapBnd:\t0000000000000021"), "{out}");
    assert!(out.contains("CapInh:\t0000000000000020"), "{out}");
    assert!(out.contains("CapAmb:\t0000000000000000"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    // A non-root user keeps only what the config grants: ambient KILL survives exec.
    let out = inside(
        |c| {
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
            let k = json!(["CAP_KILL"]);
            c["process"]["capabilities"] = json!({"bounding": k, "effective": k, "permitted": k, "inheritable": k, "ambient": k});
        },
        "grep -E '^(CapPrm|CapEff|CapAmb)' /proc/self/status",
    );
    assert_eq!(
        out,
        "CapPrm:\t0000000000000020\nCapEff:\t0000000000000020\nCapAmb:\t0000000000000020\n"
    );
}

#[test]
fn sysctls_are_written_in_the_containers_namespaces() {
    skip_unless_root!();
    let before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    let out = inside(
        |c| {
            c["linux"]["sysctl"] =
                json!({"net.ipv4.ip_unprivileged_port_start": "99", "kernel.shmmni": "1234"})
        },
        "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni",
    );
    assert_eq!(out, "99\n1234\n");
    assert_eq!(
        before,
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap(),
        "host unchanged"
    );
}

#[test]
fn the_container_is_placed_in_its_cgroup_and_sees_it_as_its_root() {
    skip_unless_root!();
    let h = Husk::new();
    let id = unique("cg");
    let b = TestBundle::busybox(&[
        "sh",
        "-c",
        "cat /proc/self/cgroup; ls /sys/fs/cgroup; sleep 30",
    ]);
    h.ok(&["create", "-b", b.path().to_str().unwrap(), &id]);
    let pid = h.state(&id)["pid"].as_i64().unwrap().to_string();
    let dirs = cgroup_dirs(&id);
    let pids_dir = dirs
        .iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/pids"))
        .expect("pids hierarchy");
    let procs = std::fs::read_to_string(pids_dir.join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|l| l == pid),
        "init {pid} in {}: {procs}",
        pids_dir.display()
    );
    h.ok(&["delete", &id]);
    h.assert_no_trace(&id);
    // From inside, a cgroup namespace makes the container's cgroup "/".
    let out = inside(
        add_cgroup_namespace,
        "grep -E ':(pids|memory):' /proc/self/cgroup; ls /sys/fs/cgroup | grep -c memory",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.iter().take(2).all(|l| l.ends_with(":/")), "{out}");
    assert_eq!(lines[2], "1");
}

#[test]
fn no_pivot_moves_the_rootfs_and_rprivate_propagation_applies() {
    skip_unless_root!();
    let h = Husk::new();
    let id = unique("np");
    let b = TestBundle::busybox(&["sh", "-c", "ls /bin/busybox && hostname"]);
    let out = h.run(&["run", "--no-pivot", "-b", b.path().to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "/bin/busybox\nhusk\n");
    let out = inside(
        |c| c["linux"]["rootfsPropagation"] = json!("rprivate"),
        "awk '$5 == \"/\"' /proc/self/mountinfo",
    );
    assert!(
        !out.contains("master:") && !out.contains("shared:"),
        "rprivate root: {out}"
    );
}

#[test]
fn root_propagation_shared_and_unbindable_reach_the_containers_root() {
    skip_unless_root!();
    // mountinfo's optional fields for "/": shared:N for a shared mount, "unbindable" for an
    // unbindable one; the default (rslave) shows master:N only where the host's / is shared.
    let root_line = "awk '$5 == \"/\"' /proc/self/mountinfo";
    let out = inside(
        |c| c["linux"]["rootfsPropagation"] = json!("shared"),
        root_line,
    );
    assert!(out.contains(" shared:"), "shared root: {out}");
    let out = inside(
        |c| c["linux"]["rootfsPropagation"] = json!("unbindable"),
        root_line,
    );
    assert!(out.contains(" unbindable "), "unbindable root: {out}");
    let out = inside(
        |c| c["linux"]["rootfsPropagation"] = json!("rslave"),
        root_line,
    );
    assert!(!out.contains(" shared:"), "rslave root: {out}");
}

/// An ignored signal stays ignored across execve: husk started with SIGHUP ignored (under
/// nohup, or by a daemon that ignores it) must not pass that on. The container's process
/// and an exec'd one start with every signal at its default (SigIgn all zero), as runc's.
#[test]
fn signals_husk_ignores_are_not_ignored_in_the_container() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let id = unique("sig");
    let out = run_to_files(
        Command::new("sh")
            .arg("-c")
            .arg(r#"trap '' HUP USR1 INT; exec "$@""#)
            .arg("sh")
            .arg(husk_bin())
            .arg("--root")
            .arg(h.root.path())
            .args(["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    wait_for(
        || {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .is_ok_and(|s| s.contains("SigIgn:\t0000000000000000"))
        },
        "the container's process with no ignored signal",
    );
    let exec = run_to_files(
        Command::new("sh")
            .arg("-c")
            .arg(r#"trap '' HUP USR1 INT; exec "$@""#)
            .arg("sh")
            .arg(husk_bin())
            .arg("--root")
            .arg(h.root.path())
            .args(["exec", &id, "grep", "SigIgn", "/proc/self/status"]),
    );
    assert_eq!(text(&exec.stdout), "SigIgn:\t0000000000000000\n");
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn personality_scheduler_and_io_priority_apply_to_the_init_and_exec() {
    skip_unless_root!();
    let out = inside(
        |c| {
            c["linux"]["personality"] = json!({"domain": "LINUX32"});
            c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
            c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
        },
        "uname -m; ionice -p $$; grep -E '^(policy|prio) ' /proc/self/sched",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "i686", "LINUX32 personality: {out}");
    assert_eq!(lines[1], "idle", "{out}");
    assert!(
        lines[2].ends_with(": 3") || lines[2].split_whitespace().last() == Some("3"),
        "SCHED_BATCH: {out}"
    );
    assert_eq!(
        lines[3].split_whitespace().last(),
        Some("125"),
        "nice 5: {out}"
    );
    // SCHED_IDLE. (Real-time policies also work where the container's cpu cgroup has a
    // realtime budget; under cgroup v1 a new cgroup has none, so the kernel refuses them.)
    let out = inside(
        |c| c["process"]["scheduler"] = json!({"policy": "SCHED_IDLE"}),
        "grep -E '^policy ' /proc/self/sched",
    );
    assert_eq!(out.split_whitespace().last(), Some("5"), "{out}");
}

/// `linux.netDevices` (spec 1.3): a host interface moves into the container's network
/// namespace under its new name with its permanent global address; while the container runs
/// the host has it no more; `delete` hands it back under its own name, address included.
#[test]
fn net_devices_move_in_renamed_and_go_back_on_delete() {
    skip_unless_root!();
    let host = format!("hk{}", std::process::id() % 100_000);
    let peer = format!("{host}p");
    let ip = |args: &[&str]| {
        let out = Command::new("ip")
            .args(args)
            .output()
            .expect("ip (iproute2)");
        (out.status.success(), text(&out.stdout) + &text(&out.stderr))
    };
    assert!(ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer]).0);
    // Whatever happens below, the pair goes (deleting either end deletes both).
    struct Pair(String);
    impl Drop for Pair {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).output();
        }
    }
    let _pair = Pair(peer.clone());
    assert!(ip(&["addr", "add", "10.99.77.1/24", "dev", &host]).0);
    let mut b = TestBundle::busybox(&["sleep", "100"]);
    b.config["linux"]["netDevices"] = json!({&host: {"name": "ctr0"}});
    b.write();
    let h = Husk::new();
    let id = unique("netdev");
    h.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    let inside = text(&h.run(&["exec", &id, "ip", "addr", "show", "ctr0"]).stdout);
    assert!(
        inside.contains("ctr0") && inside.contains("inet 10.99.77.1/24"),
        "{inside}"
    );
    assert!(
        !ip(&["link", "show", &host]).0,
        "{host} is still on the host"
    );
    h.ok(&["delete", "--force", &id]);
    let (back, shown) = ip(&["addr", "show", &host]);
    assert!(back, "{host} is back on the host: {shown}");
    assert!(shown.contains("inet 10.99.77.1/24"), "{shown}");
    h.assert_no_trace(&id);
}

/// A new network namespace has lo up, as runc's "loopback" network brings it: the container
/// reaches its own services on 127.0.0.1.
#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&[
        "sh",
        "-c",
        "ip link show lo; nc -l -p 7777 & listener=$!; sleep 0.5; \
         echo reached | nc -w 1 127.0.0.1 7777; sleep 0.5; kill $listener 2>/dev/null; true",
    ]);
    let (code, out, err) = h.run_bundle(&b, &unique("lo"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("LOOPBACK,UP"), "{out}");
    assert!(out.contains("reached"), "{out}");
}
