//! Behaviour runc's own integration suite checks (tests/integration/*.bats in runc's source),
//! each checked here where a user would see it: inside the container, in /proc, in the
//! rootfs, in what husk prints. The suite itself is fetched, never committed; these keep
//! husk to what it found. Needs root.

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use husk_e2e::*;

/// Run `b` to completion with `husk run` (extra global args first); expect exit 0 and return
/// stdout.
fn run_ok(b: &TestBundle, what: &str) -> String {
    let h = Husk::new();
    let id = unique("compat");
    let (code, out, err) = h.run_bundle(b, &id);
    assert_eq!(code, 0, "{what}: stdout {out:?} stderr {err:?}");
    h.assert_no_trace(&id);
    out
}

fn bundle(script: &str) -> TestBundle {
    TestBundle::busybox(&["sh", "-c", script])
}

fn add_mount(b: &mut TestBundle, mount: Value) {
    b.config["mounts"].as_array_mut().unwrap().push(mount);
}

fn add_namespace(b: &mut TestBundle, ns: Value) {
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(ns);
}

fn user_namespace(b: &mut TestBundle) {
    add_namespace(b, json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
}

/// A running container with a user namespace of its own: (id, pid).
fn running_with_a_user_namespace(h: &Husk) -> (String, i64) {
    let mut b = TestBundle::busybox(&["sleep", "100"]);
    user_namespace(&mut b);
    b.write();
    let id = unique("userns");
    h.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    (id, pid)
}

#[test]
fn env_keeps_the_last_of_duplicates_and_fills_an_empty_home() {
    skip_unless_root!();
    let mut b = bundle("env | grep -E '^(HOME|DUP)=' | sort");
    b.config["process"]["env"] = json!(["PATH=/bin", "DUP=first", "HOME=", "DUP=last"]);
    b.write();
    assert_eq!(run_ok(&b, "env"), "DUP=last\nHOME=/root\n");

    // A HOME the config sets is kept; with none, the user's from /etc/passwd.
    let mut b = bundle("echo $HOME");
    b.config["process"]["env"] = json!(["PATH=/bin", "HOME=/custom"]);
    b.write();
    assert_eq!(run_ok(&b, "HOME set"), "/custom\n");
}

#[test]
fn kill_0_probes_a_live_container_and_kill_all_of_a_stopped_one_succeeds() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let id = unique("kill0");
    h.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    h.ok(&["kill", &id, "0"]);
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "signal 0 kills nothing"
    );
    h.ok(&["kill", &id, "KILL"]);
    wait_for(
        || h.state(&id)["status"] == "stopped",
        "the container to stop",
    );
    let probe = h.run(&["kill", &id, "0"]);
    assert!(!probe.status.success(), "signal 0 to a stopped container");
    assert!(
        text(&probe.stderr).contains("container not running"),
        "{}",
        text(&probe.stderr)
    );
    h.ok(&["kill", "--all", &id, "KILL"]);
    h.ok(&["delete", &id]);
    h.assert_no_trace(&id);
}

/// Without a pid namespace of its own, the container's init dying does not take its
/// children along: KILL goes to every process of the container's cgroup, as runc sends it.
#[test]
fn kill_without_a_pid_namespace_reaches_every_process_of_the_container() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["sh", "-c", "sleep 1000 & sleep 1001 & exec sleep 1002"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    b.write();
    let id = unique("hostpid");
    h.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    let (dir, _) = cgroup_of(pid, "pids")
        .or_else(|| cgroup_of(pid, "memory"))
        .unwrap();
    let procs = || std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    wait_for(
        || procs().lines().count() == 3,
        "three processes in the cgroup",
    );
    let pids: Vec<String> = procs().lines().map(str::to_string).collect();
    h.ok(&["kill", &id, "KILL"]);
    wait_for(
        || {
            pids.iter()
                .all(|p| !Path::new(&format!("/proc/{p}")).exists())
        },
        "every process of the container to die",
    );
    h.ok(&["delete", &id]);
    h.assert_no_trace(&id);
}

/// A startContainer hook without `env` runs with the container process's environment.
#[test]
fn a_start_container_hook_without_env_gets_the_processes_environment() {
    skip_unless_root!();
    let mut b = TestBundle::busybox(&["true"]);
    b.config["root"]["readonly"] = json!(false);
    b.config["process"]["env"] = json!(["PATH=/bin", "FROM_PROCESS=yes"]);
    b.config["hooks"] = json!({"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "env > /hook-env"]}]});
    b.write();
    run_ok(&b, "hook env");
    let env = std::fs::read_to_string(b.rootfs().join("hook-env")).unwrap();
    assert!(env.lines().any(|l| l == "FROM_PROCESS=yes"), "{env}");
}

/// createContainer hooks run in the rootfs, so that they can name its files relatively
/// (runc's hooks_so.bats mounts a library at ./lib that way).
#[test]
fn a_create_container_hook_runs_in_the_rootfs() {
    skip_unless_root!();
    let mut b = bundle("cat /hook-was-here");
    b.config["root"]["readonly"] = json!(false);
    b.config["hooks"] = json!({"createContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "pwd > ./hook-was-here"]}]});
    b.write();
    let out = run_ok(&b, "createContainer hook cwd");
    let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
    assert_eq!(out.trim(), rootfs.to_str().unwrap());
}

/// Masked directories share one read-only tmpfs (one mount, not one per path), and a path
/// listed twice is no error.
#[test]
fn masked_directories_share_one_tmpfs_and_a_duplicate_is_fine() {
    skip_unless_root!();
    let mut b = bundle(
        "ls -A /m1 /m2; stat -c %d /m1 /m2 | uniq | wc -l; grep -c ' /m[12] ' /proc/self/mounts",
    );
    for d in ["m1", "m2"] {
        std::fs::create_dir(b.rootfs().join(d)).unwrap();
        std::fs::write(b.rootfs().join(d).join("secret"), "s").unwrap();
    }
    b.config["linux"]["maskedPaths"] = json!(["/m1", "/m2", "/m1"]);
    b.write();
    let out = run_ok(&b, "masks");
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines, ["/m1:", "/m2:", "1", "2"], "{out}");
}

/// CVE-2019-19921, CVE-2023-27561: procfs goes only on an ordinary directory; an image whose
/// /proc is a symlink could aim the mount, and later writes to /proc, anywhere.
#[test]
fn a_proc_that_is_a_symlink_is_refused() {
    skip_unless_root!();
    let b = TestBundle::busybox(&["true"]);
    std::fs::remove_dir_all(b.rootfs().join("proc")).unwrap();
    symlink("/sys", b.rootfs().join("proc")).unwrap();
    let h = Husk::new();
    let id = unique("procsym");
    let (code, _, err) = h.run_bundle(&b, &id);
    assert_ne!(code, 0);
    assert!(
        err.contains("must be mounted on ordinary directory"),
        "{err}"
    );
    h.assert_no_trace(&id);
}

/// With --no-pivot the host's procfs stays in the container's mount namespace under the new
/// root; husk covers it, so a process in a new user namespace finds no fully visible procfs
/// and the kernel refuses it a fresh one (through which it could write /proc/sysrq-trigger).
#[test]
fn no_pivot_leaves_no_bare_procfs_to_mount_again() {
    skip_unless_root!();
    let mut b = TestBundle::busybox(&[
        "unshare",
        "-mrpf",
        "sh",
        "-c",
        "mount -t proc none /proc && echo mounted",
    ]);
    // CAP_SETFCAP lets unshare -r map root (the kernel asks for it to map uid 0).
    for set in ["bounding", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SETFCAP"));
    }
    b.write();
    let h = Husk::new();
    let id = unique("nopivot");
    let out = h.run(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("mounted"));
    assert!(
        text(&out.stderr).contains("permission denied")
            || text(&out.stdout).contains("permission denied"),
        "{}",
        text(&out.stderr)
    );
    h.assert_no_trace(&id);
}

/// A cwd only root may enter is entered before the process drops to its user (runc chdirs
/// while it still can), for `run` and for `exec --user`.
#[test]
fn a_cwd_the_user_cannot_enter_is_entered_before_dropping_root() {
    skip_unless_root!();
    let mut b = bundle("pwd; id -u");
    let private = b.rootfs().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    b.config["process"]["cwd"] = json!("/private");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write();
    assert_eq!(run_ok(&b, "cwd 0700"), "/private\n1000\n");

    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    std::fs::create_dir(b.rootfs().join("private")).unwrap();
    std::fs::set_permissions(
        b.rootfs().join("private"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let id = unique("cwdexec");
    h.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    let out = h.ok(&[
        "exec",
        "--user",
        "1000:1000",
        "--cwd",
        "/private",
        &id,
        "pwd",
    ]);
    assert_eq!(out, "/private\n");
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn a_time_namespace_works_inside_a_new_user_namespace() {
    skip_unless_root!();
    let mut b = bundle("cut -d. -f1 /proc/uptime; cat /proc/self/uid_map");
    user_namespace(&mut b);
    add_namespace(&mut b, json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": 864000, "nanosecs": 0}});
    b.write();
    let out = run_ok(&b, "timens + userns");
    let mut lines = out.lines();
    let up: u64 = lines.next().unwrap().parse().unwrap();
    assert!(up >= 864000, "uptime {up} includes the offset");
    let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"]);
}

/// A container may join another's user namespace by path: it is root there, with the
/// other's mappings, and makes its other namespaces inside it.
#[test]
fn a_container_joins_another_containers_user_namespace() {
    skip_unless_root!();
    let h = Husk::new();
    let (first_id, pid) = running_with_a_user_namespace(&h);

    let mut b = bundle("cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user");
    add_namespace(
        &mut b,
        json!({"type": "user", "path": format!("/proc/{pid}/ns/user")}),
    );
    b.write();
    let out = run_ok(&b, "join userns");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(lines[1], "0");
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    assert_eq!(lines[2], theirs.to_str().unwrap());
    h.ok(&["delete", "--force", &first_id]);
}

/// runc's tmpfs modes: over an existing directory, that directory's mode (so a 0710 stays
/// 0710, not the tmpfs default 1777); an explicit mode= wins and leaves the directory
/// itself alone; directories husk makes are 0755 under a default (1777) tmpfs.
#[test]
fn a_tmpfs_takes_its_directorys_mode_unless_told_otherwise() {
    skip_unless_root!();
    let tmpfs = |dest: &str, extra: &[&str]| {
        let mut options = vec!["rw", "nodev", "nosuid"];
        options.extend_from_slice(extra);
        json!({"type": "tmpfs", "source": "tmpfs", "destination": dest, "options": options})
    };
    let mut b = bundle("stat -c %a /inherit /explicit /made/a/b; grep -o ' /inherit tmpfs [^ ]*' /proc/self/mounts");
    for d in ["inherit", "explicit"] {
        std::fs::create_dir(b.rootfs().join(d)).unwrap();
        std::fs::set_permissions(b.rootfs().join(d), std::fs::Permissions::from_mode(0o710))
            .unwrap();
    }
    add_mount(&mut b, tmpfs("/inherit", &[]));
    add_mount(&mut b, tmpfs("/explicit", &["mode=1500"]));
    add_mount(&mut b, tmpfs("/made/a/b", &[]));
    b.write();
    let out = run_ok(&b, "tmpfs modes");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..3], ["710", "1500", "1777"], "{out}");
    assert!(lines[3].contains("mode=710"), "{out}");
    let mode = |p: &str| std::fs::metadata(b.rootfs().join(p)).unwrap().mode() & 0o7777;
    assert_eq!(
        mode("explicit"),
        0o710,
        "the directory under the tmpfs is not chmod-ed"
    );
    for p in ["made", "made/a", "made/a/b"] {
        assert_eq!(mode(p), 0o755, "{p}");
    }
}

/// `tmpcopyup`: the tmpfs starts with what the directory held; writes stay in the tmpfs.
#[test]
fn tmpcopyup_fills_the_tmpfs_with_the_directorys_contents() {
    skip_unless_root!();
    let mut b = bundle(
        "cat /etc/marker; echo new > /etc/written; grep -c ' /etc tmpfs ' /proc/self/mounts; \
         stat -c '%a %u' /etc",
    );
    std::fs::write(b.rootfs().join("etc/marker"), "from the image\n").unwrap();
    // The tmpfs's own root takes the directory's mode and owner, not those of the fd path
    // husk reaches it by.
    std::fs::set_permissions(b.rootfs().join("etc"), PermissionsExt::from_mode(0o751)).unwrap();
    std::os::unix::fs::chown(b.rootfs().join("etc"), Some(123), None).unwrap();
    add_mount(
        &mut b,
        json!({"type": "tmpfs", "source": "tmpfs", "destination": "/etc", "options": ["tmpcopyup"]}),
    );
    b.write();
    assert_eq!(run_ok(&b, "tmpcopyup"), "from the image\n1\n751 123\n");
    assert!(
        !b.rootfs().join("etc/written").exists(),
        "the write reached the image"
    );
}

/// A /dev mounted "ro" is made read-only after its devices and symlinks are in it.
#[test]
fn a_read_only_dev_has_its_devices_and_refuses_writes() {
    skip_unless_root!();
    let mut b = bundle(
        "grep '^tmpfs /dev ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1; \
         test -c /dev/null && test -L /dev/ptmx && echo devices-ok; \
         touch /dev/new 2>/dev/null || echo write-refused",
    );
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/dev" {
            m["options"].as_array_mut().unwrap().push(json!("ro"));
        }
    }
    b.write();
    assert_eq!(run_ok(&b, "ro /dev"), "ro\ndevices-ok\nwrite-refused\n");
}

/// A bind mount whose destination goes through dangling symlinks lands where they point,
/// inside the rootfs, with the missing directories made there.
#[test]
fn bind_mounts_through_dangling_symlinks_land_inside_the_rootfs() {
    skip_unless_root!();
    let host = TempDir::new("husk-hosts");
    std::fs::write(
        host.path().join("hosts"),
        "127.0.0.1 through-the-symlinks\n",
    )
    .unwrap();
    for (links, lands) in [
        (
            vec![("jump", "/tmp/foo/bar"), ("etc/hosts", "/jump/baz/hosts")],
            "tmp/foo/bar/baz/hosts",
        ),
        (vec![("etc/hosts", "/tmp/hosts")], "tmp/hosts"),
    ] {
        let mut b = bundle("cat /etc/hosts");
        let _ = std::fs::remove_file(b.rootfs().join("etc/hosts"));
        for (link, target) in links {
            symlink(target, b.rootfs().join(link)).unwrap();
        }
        add_mount(
            &mut b,
            json!({"type": "bind", "source": host.path().join("hosts"),
                   "destination": "/etc/hosts", "options": ["bind"]}),
        );
        b.write();
        assert_eq!(run_ok(&b, lands), "127.0.0.1 through-the-symlinks\n");
        assert!(
            b.rootfs().join(lands).is_file(),
            "{lands} made in the rootfs"
        );
    }
}

/// `linux.memoryPolicy`, seen in /proc/self/numa_maps by the container's process and an
/// exec'd one; bad policies are refused by name before anything is made.
#[test]
fn the_memory_policy_applies_to_init_and_exec_and_bad_ones_are_refused() {
    skip_unless_root!();
    if !Path::new("/proc/self/numa_maps").exists() {
        skip("memory policy: this kernel has no NUMA (no /proc/self/numa_maps)");
        return;
    }
    let policy_of = "head -n 1 /proc/self/numa_maps | cut -d' ' -f2";
    let mut b = bundle(policy_of);
    b.config["linux"]["memoryPolicy"] =
        json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]});
    b.write();
    assert_eq!(run_ok(&b, "bind static"), "bind=static:0\n");

    let h = Husk::new();
    let mut b = TestBundle::busybox(&["sleep", "100"]);
    b.config["linux"]["memoryPolicy"] =
        json!({"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]});
    b.write();
    let id = unique("mempol");
    h.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    assert_eq!(
        h.ok(&["exec", &id, "sh", "-c", policy_of]),
        "prefer=relative:0\n"
    );
    h.ok(&["delete", "--force", &id]);

    for (policy, words) in [
        (
            json!({"mode": "MPOL_NOPE", "nodes": "0"}),
            "invalid memory policy mode",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NOPE"]}),
            "invalid memory policy flag",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0-9999999"}),
            "linux.memoryPolicy.nodes",
        ),
    ] {
        let mut b = TestBundle::busybox(&["true"]);
        b.config["linux"]["memoryPolicy"] = policy;
        b.write();
        let id = unique("badpol");
        let (code, _, err) = h.run_bundle(&b, &id);
        assert_ne!(code, 0);
        assert!(err.contains(words), "{words}: {err}");
        h.assert_no_trace(&id);
    }
}

fn cpus_allowed(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_string()
}

/// husk pinned to one CPU (by taskset, or a CPU manager) does not pin its containers: the
/// container's process and an exec'd one get every CPU of their cpuset, as runc resets them;
/// an exec's execCPUAffinity sets its final affinity.
#[test]
fn cpu_affinity_is_not_inherited_from_husk_and_exec_cpu_affinity_applies() {
    skip_unless_root!();
    let cpus = std::fs::read_to_string("/proc/self/status").unwrap();
    if cpus_allowed(&cpus) == "0" {
        skip("cpu affinity: this machine has one CPU");
        return;
    }
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let id = unique("affinity");
    let pinned = |args: &[&str]| {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"])
            .arg(husk_bin())
            .arg("--root")
            .arg(h.root.path());
        c.args(args);
        run_to_files(&mut c)
    };
    let out = pinned(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    let init = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let all = cpus_allowed(&cpus);
    assert_eq!(
        cpus_allowed(&init),
        all,
        "the init is not pinned to husk's CPU"
    );
    let out = pinned(&[
        "exec",
        &id,
        "grep",
        "Cpus_allowed_list",
        "/proc/self/status",
    ]);
    assert_eq!(
        cpus_allowed(&text(&out.stdout)),
        all,
        "{}",
        text(&out.stderr)
    );

    let dir = TempDir::new("husk-process");
    let process = dir.path().join("process.json");
    let spec = json!({"args": ["grep", "Cpus_allowed_list", "/proc/self/status"], "cwd": "/",
                      "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"],
                      "execCPUAffinity": {"initial": "0", "final": "1"}});
    std::fs::write(&process, spec.to_string()).unwrap();
    let out = h.ok(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert_eq!(cpus_allowed(&out), "1");
    h.ok(&["delete", "--force", &id]);
}

/// An ambient capability the process cannot hold (it is not inheritable) is a warning, not a
/// failure, as runc has it; the process runs without it.
#[test]
fn an_ambient_capability_that_cannot_be_raised_is_a_warning() {
    skip_unless_root!();
    let mut b = bundle("grep CapAmb /proc/self/status");
    b.config["process"]["capabilities"]["ambient"] = json!(["CAP_CHOWN"]);
    b.config["process"]["capabilities"]["inheritable"] = json!([]);
    b.write();
    let h = Husk::new();
    let id = unique("ambient");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "CapAmb:\t0000000000000000\n");
    assert!(
        err.contains("can't raise ambient capability CAP_CHOWN"),
        "{err}"
    );
}

/// Mounts whose sources lie inside the rootfs, under mounts made earlier in the list, see
/// those mounts (sources are opened in the container's mount namespace, in config order);
/// destinations may be written as host paths inside the rootfs, as runc reads them. With a
/// user namespace, sources its root cannot reach (a 0750 directory) are opened by husk; an
/// idmapped source is made by husk from the same place.
#[test]
fn mount_sources_inside_the_rootfs_see_the_mounts_made_before_them() {
    skip_unless_root!();
    for (userns, idmap) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut b = bundle("cat /final/x/y/z/z/x/y/z/x/file");
        let src = b.path().join("bind-src");
        for sub in ["a/x", "b/y", "c/z"] {
            std::fs::create_dir_all(src.join(sub)).unwrap();
            std::fs::write(src.join(sub).join("file"), format!("{sub}\n")).unwrap();
            let top = &sub[..1];
            symlink(top, src.join(format!("sym-{top}"))).unwrap();
        }
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o750)).unwrap();
        let rootfs = b.rootfs();
        std::fs::create_dir_all(rootfs.join("mnt")).unwrap();
        std::fs::create_dir_all(rootfs.join("final")).unwrap();
        if userns {
            user_namespace(&mut b);
        }
        let bind = |source: &Path, dest: &Path, inside: bool| {
            let mut m = json!({"source": source, "destination": dest, "type": "bind",
                               "options": ["rbind", "rprivate"]});
            if inside && idmap {
                m["options"].as_array_mut().unwrap().push(json!("idmap"));
                m["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
                m["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            }
            m
        };
        for (s, d) in [
            ("a", "/mnt"),
            ("sym-b", "/mnt/x"),
            ("c", "/mnt/x/y"),
            ("sym-a", "/mnt/x/y/z"),
        ] {
            add_mount(&mut b, bind(&src.join(s), Path::new(d), false));
        }
        for (s, d) in [
            ("mnt/x", "mnt/x/y/z/x"),
            ("mnt/x/y", "mnt/x/y/z"),
            ("mnt", "final"),
        ] {
            add_mount(&mut b, bind(&rootfs.join(s), &rootfs.join(d), true));
        }
        b.write();
        let what = format!("userns {userns}, idmap {idmap}");
        assert_eq!(run_ok(&b, &what), "a/x\n", "{what}");
    }
}

/// runc's order for joining namespaces: a namespace the host owns (here the host's network
/// namespace, by a path) is joined before the user namespace the container also joins,
/// after which it could not be.
#[test]
fn a_host_owned_namespace_is_joined_before_another_containers_user_namespace() {
    skip_unless_root!();
    let h = Husk::new();
    let (first_id, pid) = running_with_a_user_namespace(&h);

    let mut b = bundle("readlink /proc/self/ns/net; readlink /proc/self/ns/user");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    add_namespace(
        &mut b,
        json!({"type": "user", "path": format!("/proc/{pid}/ns/user")}),
    );
    let host_net = format!("/proc/{}/ns/net", std::process::id());
    add_namespace(&mut b, json!({"type": "network", "path": host_net}));
    // No sysfs of its own in a network namespace it does not own: the host's, bound.
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["type"] == "sysfs" {
            *m = json!({"source": "/sys", "destination": "/sys", "type": "bind", "options": ["rbind"]});
        }
    }
    b.write();
    let out = run_ok(&b, "join host netns and a container's userns");
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    let host_net = std::fs::read_link(host_net).unwrap();
    assert_eq!(
        out,
        format!("{}\n{}\n", host_net.display(), theirs.display())
    );
    h.ok(&["delete", "--force", &first_id]);
}

/// A created container's init is PID 1 of its pid namespace, which the kernel spares every
/// signal it has no handler for: husk's, as runc's, exits on SIGTERM (and SIGHUP, SIGINT)
/// while it waits for `start`, so a created container can be stopped without SIGKILL.
#[test]
fn a_created_container_stops_on_sigterm() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let id = unique("created-term");
    h.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    wait_for(
        || h.state(&id)["status"] == "stopped",
        "the created container to stop",
    );
    h.ok(&["delete", &id]);
    h.assert_no_trace(&id);
}

/// `--debug` covers exec too: its steps go to stderr, or with --log only to the log file.
#[test]
fn debug_logs_the_steps_of_exec() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let id = unique("debugexec");
    h.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    let out = h.run(&["--debug", "exec", &id, "true"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("level=debug"), "{err}");
    assert!(err.contains("exec'd"), "{err}");
    let log = h.root.path().join("exec.log");
    let out = h.run(&[
        "--debug",
        "--log",
        log.to_str().unwrap(),
        "exec",
        &id,
        "true",
    ]);
    assert!(out.status.success());
    assert!(
        !text(&out.stderr).contains("level=debug"),
        "{}",
        text(&out.stderr)
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("joined the container's namespaces"),
        "{logged}"
    );
    h.ok(&["delete", "--force", &id]);
}

/// Read as runc reads config.json: a capability name nobody knows is a warning and is left
/// out (runtime-spec 1.1 and later: logged, and runtimes SHOULD NOT fail), and keys match in
/// any case, as Go's decoder matches them ("pagesize" is pageSize).
#[test]
fn unknown_capabilities_warn_and_keys_match_in_any_case() {
    skip_unless_root!();
    let mut b = bundle("grep CapBnd /proc/self/status");
    b.config["process"]["capabilities"]["bounding"] = json!(["CAP_UNKNOWN", "CAP_KILL"]);
    b.config["process"]["OOMScoreAdj"] = json!(123);
    b.write();
    let h = Husk::new();
    let id = unique("lenient");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "CapBnd:\t0000000000000020\n", "CAP_KILL only");
    assert!(
        err.contains("unknown capability") && err.contains("CAP_UNKNOWN"),
        "{err}"
    );
    assert!(
        err.contains("process.OOMScoreAdj: read as process.oomScoreAdj"),
        "{err}"
    );

    let mut b = bundle("cat /proc/self/oom_score_adj");
    b.config["process"]["OOMScoreAdj"] = json!(123);
    b.write();
    assert_eq!(run_ok(&b, "oomScoreAdj in another case"), "123\n");
}

/// Without a mount namespace in the config the container inherits the host's, as the spec
/// says: its mounts are made there, under its rootfs, and it is chrooted into it. The host's
/// own mounts keep their propagation (runc makes the host's "/" rslave here; husk does not),
/// and delete takes every mount it added off the host.
#[test]
fn a_container_without_a_mount_namespace_uses_the_hosts_and_leaves_it_clean() {
    skip_unless_root!();
    let root_line = |info: &str| {
        info.lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .map(|l| {
                l.split(" - ")
                    .next()
                    .unwrap()
                    .split(' ')
                    .skip(6)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
    };
    let host_before = mount_table();
    let own_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut b = bundle("test -e /proc/self/status && echo proc-mounted; ls /marker");
    std::fs::write(b.rootfs().join("marker"), "").unwrap();
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "mount");
    b.write();
    let h = Husk::new();
    let id = unique("hostmnt");
    h.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
    assert!(
        mount_table().contains(&format!(" {}/proc ", rootfs.display())),
        "the container's /proc is mounted in the host's namespace"
    );
    h.ok(&["start", &id]);
    wait_for(
        || h.state(&id)["status"] == "stopped",
        "the container to finish",
    );
    h.ok(&["delete", &id]);
    let host_after = mount_table();
    assert!(
        !host_after.contains(&rootfs.display().to_string()),
        "mounts left on the host: {host_after}"
    );
    assert_eq!(host_before.lines().count(), host_after.lines().count());
    let own_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert_eq!(
        root_line(&own_before),
        root_line(&own_after),
        "the host's / propagation"
    );
    h.assert_no_trace(&id);
}

/// The spec's scheduler flag name (`SCHED_FLAG_RESET_ON_FORK`, which oci-spec spells
/// otherwise) is read, in config.json and in exec's process.json; SCHED_DEADLINE with a
/// cpuset is refused in runc's words, explaining the kernel's EPERM.
#[test]
fn scheduler_flags_by_the_specs_name_and_deadline_with_a_cpuset() {
    skip_unless_root!();
    // Reset on fork: the shell has nice -5 (prio 115), the child it forks is back to nice 0
    // (prio 120); without the flag the child would keep 115.
    let mut b = bundle(
        "grep -E '^prio ' /proc/$$/sched; sh -c \"grep -E '^prio ' /proc/self/sched\"; true",
    );
    b.config["process"]["scheduler"] =
        json!({"policy": "SCHED_OTHER", "nice": -5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]});
    b.write();
    let out = run_ok(&b, "reset-on-fork");
    let prios: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    assert_eq!(prios, ["115", "120"], "{out}");

    let cpus = std::fs::read_to_string("/proc/self/status").unwrap();
    if cpus_allowed(&cpus) == "0" {
        skip("SCHED_DEADLINE with a cpuset: this machine has one CPU");
        return;
    }
    let mut b = TestBundle::busybox(&["true"]);
    b.config["linux"]["resources"]["cpu"] = json!({"cpus": "0"});
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_DEADLINE", "nice": 19,
        "runtime": 42000, "deadline": 1000000, "period": 1000000});
    b.write();
    let h = Husk::new();
    let id = unique("deadline");
    let (code, _, err) = h.run_bundle(&b, &id);
    assert_ne!(code, 0);
    assert!(
        err.contains("process scheduler can't be used together with AllowedCPUs"),
        "{err}"
    );
    h.assert_no_trace(&id);
}

/// A tmpfs on the host with per-mount `flags` (set by a bind remount, so that a bind of it
/// can clear them), taken off again on drop.
struct HostMount(TempDir);

impl HostMount {
    fn new(flags: &str) -> HostMount {
        let dir = TempDir::new("husk-flags");
        let path = dir.0.to_str().unwrap().to_string();
        let sh =
            |args: &[&str]| assert!(Command::new("mount").args(args).status().unwrap().success());
        sh(&["-t", "tmpfs", "tmpfs", &path]);
        sh(&["--bind", "-o", "remount,diratime,atime,strictatime", &path]);
        sh(&["--bind", "-o", &format!("remount,{flags}"), &path]);
        HostMount(dir)
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0 .0).status();
    }
}

/// Bind `host` (with host flags) at /mnt with `options`, optionally in a user namespace, run
/// it: Ok(the flags of /mnt inside) or Err(stderr).
fn bind_flags(host: &str, options: &[&str], userns: bool) -> Result<Vec<String>, String> {
    let src = HostMount::new(host);
    let mut b = bundle("grep ' /mnt ' /proc/self/mounts | cut -d' ' -f4");
    std::fs::create_dir_all(b.rootfs().join("mnt")).unwrap();
    add_mount(
        &mut b,
        json!({"destination": "/mnt", "type": "bind", "source": src.0 .0, "options": options}),
    );
    if userns {
        user_namespace(&mut b);
    }
    b.write();
    let h = Husk::new();
    let id = unique("bindflags");
    let (code, out, err) = h.run_bundle(&b, &id);
    h.assert_no_trace(&id);
    match code {
        0 => Ok(out.trim().split(',').map(str::to_string).collect()),
        _ => Err(err),
    }
}

/// runc's bind flag semantics: naming any flag gives exactly the flags named (the rest
/// cleared), none keeps the source's; in a user namespace the flags the kernel locked are
/// kept, but clearing one by name, or asking for another atime, is an error, never a mount
/// other than the one asked for.
#[test]
fn bind_mounts_get_the_flags_named_and_locked_ones_are_never_cleared_silently() {
    skip_unless_root!();
    let has = |f: &Vec<String>, x: &str| f.iter().any(|g| g == x);
    let kept = bind_flags("ro,noexec,nodiratime", &["bind"], false).unwrap();
    assert!(
        has(&kept, "ro") && has(&kept, "noexec") && has(&kept, "nodiratime"),
        "{kept:?}"
    );

    let cleared = bind_flags("ro,noexec,nosymfollow,nodiratime", &["bind", "dev"], false).unwrap();
    assert!(
        has(&cleared, "rw") && !has(&cleared, "noexec"),
        "{cleared:?}"
    );
    assert!(!has(&cleared, "nosymfollow"), "{cleared:?}");

    let locked = bind_flags("ro,noexec,nosymfollow,nodiratime", &["bind", "dev"], true).unwrap();
    assert!(
        has(&locked, "ro") && has(&locked, "noexec") && has(&locked, "nodiratime"),
        "{locked:?}"
    );
    assert!(
        !has(&locked, "nosymfollow"),
        "nosymfollow is not lockable: {locked:?}"
    );

    let symfollow =
        bind_flags("rw,nodev,nosymfollow", &["bind", "ro", "symfollow"], false).unwrap();
    assert!(has(&symfollow, "ro") && !has(&symfollow, "nosymfollow") && !has(&symfollow, "nodev"));

    let nosymfollow = bind_flags("rw", &["bind", "nosymfollow"], false).unwrap();
    assert!(has(&nosymfollow, "nosymfollow"), "{nosymfollow:?}");

    let err = bind_flags("ro", &["bind", "rw", "nosuid", "nodev"], true).unwrap_err();
    assert!(
        err.contains("error mounting") && err.contains("operation not permitted"),
        "{err}"
    );
    assert!(err.contains("cannot clear locked flags ro"), "{err}");

    let err = bind_flags("relatime", &["bind", "noatime"], true).unwrap_err();
    assert!(
        err.contains("cannot change locked atime flags relatime"),
        "{err}"
    );
}

/// seccomp's flags as runc sets them: SPEC_ALLOW when the config has no `flags`, none for
/// `[]`, and TSYNC accepted but left out (the init is single-threaded when it loads the
/// filter); the filter applies either way. `--debug` logs the value, as runc's suite reads it.
#[test]
fn seccomp_filter_flags_are_runcs() {
    skip_unless_root!();
    for (flags, expected) in [
        (
            json!(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"]),
            2,
        ),
        (json!(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]), 4),
        (json!([]), 0),
        (Value::Null, 4),
    ] {
        let mut b = bundle("mkdir /tmp/d");
        b.config["root"]["readonly"] = json!(false);
        let mut seccomp = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]});
        if !flags.is_null() {
            seccomp["flags"] = flags.clone();
        }
        b.config["linux"]["seccomp"] = seccomp;
        b.write();
        let h = Husk::new();
        let id = unique("scflags");
        let out = h.run(&[
            "--debug",
            "run",
            "--bundle",
            b.path().to_str().unwrap(),
            &id,
        ]);
        let err = text(&out.stderr);
        assert!(
            !out.status.success(),
            "mkdir is refused under {flags}: {err}"
        );
        assert!(err.contains("Operation not permitted"), "{err}");
        let line = format!("msg=\"seccomp filter flags: {expected}\"");
        assert!(err.contains(&line), "{flags}: expected {line} in {err}");
        h.ok(&["delete", "--force", &id]);
    }
}

/// `rnosymfollow` (spec 1.3) reaches every mount of a recursive bind, and a symlink on it is
/// not followed; a later `rsymfollow` undoes it.
#[test]
fn recursive_nosymfollow_stops_symlinks_on_a_bind() {
    skip_unless_root!();
    let src = TempDir::new("husk-nosymfollow");
    std::fs::write(src.0.join("target"), "followed\n").unwrap();
    symlink("target", src.0.join("link")).unwrap();
    let script = "cat /mnt/link 2>&1; grep ' /mnt ' /proc/self/mountinfo | cut -d' ' -f6";
    for (options, followed) in [
        (json!(["rbind", "rnosymfollow"]), false),
        (json!(["rbind", "rnosymfollow", "rsymfollow"]), true),
    ] {
        let mut b = bundle(script);
        std::fs::create_dir_all(b.rootfs().join("mnt")).unwrap();
        add_mount(
            &mut b,
            json!({"destination": "/mnt", "type": "bind", "source": src.0, "options": options}),
        );
        b.write();
        let out = run_ok(&b, "rnosymfollow");
        assert_eq!(out.starts_with("followed"), followed, "{options}: {out}");
        assert_eq!(out.contains("nosymfollow"), !followed, "{options}: {out}");
    }
}

/// rootfsPropagation "slave" under a shared "/" (runc's mounts_propagation_unsafe.bats): the
/// container's "/" is a slave, which receives the host's mounts, not a private copy. husk
/// makes the rootfs's parent private only when it is shared, as runc does.
#[test]
fn a_slave_rootfs_stays_a_slave_under_a_shared_root() {
    skip_unless_root!();
    let mut b = bundle("awk '$5 == \"/\"' /proc/self/mountinfo");
    b.config["linux"]["rootfsPropagation"] = json!("slave");
    b.write();
    let id = unique("slaveroot");
    let h = Husk::new();
    let script = format!(
        "mount --make-rshared / && exec {} --root {} run --bundle {} {id}",
        husk_bin().display(),
        h.root.path().display(),
        b.path().display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "unchanged", "sh", "-c", &script])
        .output()
        .unwrap();
    let line = text(&out.stdout);
    assert!(out.status.success(), "{line} {}", text(&out.stderr));
    assert!(
        line.contains(" master:"),
        "the container's / is not a slave: {line}"
    );
}

#[test]
fn a_reader_that_goes_away_ends_a_printing_command_quietly() {
    // `husk --version | grep -q husk`, `husk list | head -1`: the reader is gone before husk
    // writes. husk ends as runc does (SIGPIPE), with nothing on stderr; it used to panic
    // ("failed printing to stdout: Broken pipe").
    let h = Husk::new();
    for args in [&["--version"][..], &["list"], &["features"]] {
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let out = h
            .cmd()
            .args(args)
            .stdout(std::process::Stdio::from(write))
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?}",
            out.status
        );
    }
}
