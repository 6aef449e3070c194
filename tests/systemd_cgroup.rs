//! The systemd cgroup driver (`--systemd-cgroup`), checked where a user checks it: systemd's
//! own view of the container's scope (`systemctl show`), the scope's cgroup files, and
//! /proc/<pid>/cgroup. These machines run no systemd: `make test-systemd` boots a cgroup v2
//! guest with systemd as PID 1 (integration/cgroupv2/run.sh --systemd) and runs them there,
//! ignored ones included. The cases that need systemd are `#[ignore]`d elsewhere; run where
//! systemd is not PID 1, they skip (a failure unless skips are allowed). Needs root.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use husk_e2e::*;

/// Skip the case unless this is root on a machine where systemd runs.
macro_rules! skip_unless_systemd {
    () => {
        skip_unless_root!();
        if !Path::new("/run/systemd/system").is_dir() {
            skip!("systemd is not running here (make test-systemd boots a guest where it is)");
        }
    };
}

/// `systemctl show -p <property> --value <unit>`.
fn unit_property(unit: &str, property: &str) -> String {
    let out = Command::new("systemctl")
        .args(["show", "-p", property, "--value", unit])
        .output()
        .expect("systemctl");
    text(&out.stdout).trim().to_string()
}

fn systemctl(args: &[&str]) {
    let out = Command::new("systemctl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "systemctl {args:?}: {}",
        text(&out.stderr)
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

/// The process's cgroup v2 directory, from /proc.
fn cgroup_dir_of(pid: i64) -> PathBuf {
    let text = read(Path::new(&format!("/proc/{pid}/cgroup")));
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup v2 entry");
    Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'))
}

/// `husk --systemd-cgroup <command> --bundle <b> <id>` (create or run).
fn with_systemd(h: &Husk, command: &str, b: &TestBundle, id: &str) -> std::process::Output {
    h.run(&[
        "--systemd-cgroup",
        command,
        "--bundle",
        b.path().to_str().unwrap(),
        id,
    ])
}

fn create(h: &Husk, b: &TestBundle, id: &str) {
    let out = with_systemd(h, "create", b, id);
    assert!(out.status.success(), "create {id}: {}", text(&out.stderr));
}

/// The unit is gone from systemd and its cgroup from the hierarchy.
fn assert_unit_gone(unit: &str, dir: &Path) {
    wait_for(
        || unit_property(unit, "LoadState") == "not-found",
        &format!("{unit} to be unloaded"),
    );
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
#[ignore = "needs systemd as PID 1: make test-systemd runs it in a guest"]
fn the_container_runs_in_a_delegated_scope_that_holds_its_limits() {
    skip_unless_systemd!();
    let h = Husk::new();
    let id = unique("sd");
    let mut b = TestBundle::busybox(&["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("system.slice:husk:{id}"));
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_MKNOD"));
    }
    b.config["root"]["readonly"] = json!(false);
    b.config["linux"]["resources"] = json!({
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 50},
        "cpu": {"quota": 50000, "period": 100000},
    });
    b.write();
    create(&h, &b, &id);
    let unit = format!("husk-{id}.scope");
    let pid = h.state(&id)["pid"].as_i64().unwrap();

    // systemd's view: an active, delegated scope in system.slice with the limits as its own.
    assert_eq!(unit_property(&unit, "ActiveState"), "active");
    assert_eq!(unit_property(&unit, "Delegate"), "yes");
    assert_eq!(unit_property(&unit, "Slice"), "system.slice");
    assert_eq!(unit_property(&unit, "MemoryMax"), (64u64 << 20).to_string());
    assert_eq!(unit_property(&unit, "TasksMax"), "50");
    assert_eq!(unit_property(&unit, "CPUQuotaPerSecUSec"), "500ms");
    // The kernel's view: the init is in the scope's cgroup, which has the limits.
    let dir = cgroup_dir_of(pid);
    assert_eq!(dir, Path::new("/sys/fs/cgroup/system.slice").join(&unit));
    assert_eq!(read(&dir.join("memory.max")), (64u64 << 20).to_string());
    assert_eq!(read(&dir.join("pids.max")), "50");
    assert_eq!(read(&dir.join("cpu.max")), "50000 100000");

    // A daemon-reload makes systemd rewrite the cgroup from the unit: the limits stay.
    systemctl(&["daemon-reload"]);
    assert_eq!(read(&dir.join("memory.max")), (64u64 << 20).to_string());
    assert_eq!(read(&dir.join("pids.max")), "50");

    // update goes to systemd and to the file.
    h.ok(&["update", "--memory", "128M", "--pids-limit", "70", &id]);
    assert_eq!(
        unit_property(&unit, "MemoryMax"),
        (128u64 << 20).to_string()
    );
    assert_eq!(read(&dir.join("memory.max")), (128u64 << 20).to_string());
    assert_eq!(unit_property(&unit, "TasksMax"), "70");
    assert_eq!(read(&dir.join("pids.max")), "70");
    systemctl(&["daemon-reload"]);
    assert_eq!(read(&dir.join("memory.max")), (128u64 << 20).to_string());

    // start, exec (joins the same scope), ps, pause.
    h.ok(&["start", &id]);
    let out = h.ok(&["exec", &id, "cat", "/proc/self/cgroup"]);
    assert_eq!(
        out.trim(),
        "0::/",
        "the container sees its scope as its cgroup root"
    );
    // husk's device program is on the scope, and a daemon-reload leaves it there: the
    // guest's ram disk (block 1:0) can be made but not opened.
    let out = h.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "mknod /tmp/ram b 1 0 && { (: < /tmp/ram) 2>/dev/null && echo OPENED || echo DENIED; }; \
         echo x > /dev/null && echo NULL-OK",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["DENIED", "NULL-OK"]
    );
    let ps: Value = serde_json::from_str(&h.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(ps, json!([pid]));
    h.ok(&["pause", &id]);
    assert_eq!(h.state(&id)["status"], "paused");
    assert_eq!(read(&dir.join("cgroup.freeze")), "1");
    h.ok(&["resume", &id]);
    assert_eq!(h.state(&id)["status"], "running");

    // delete --force: the scope is stopped and its cgroup removed.
    h.ok(&["delete", "--force", &id]);
    assert_unit_gone(&unit, &dir);
    h.assert_no_trace(&id);
}

#[test]
#[ignore = "needs systemd as PID 1: make test-systemd runs it in a guest"]
fn a_nested_slice_and_a_container_that_exits() {
    skip_unless_systemd!();
    let h = Husk::new();
    let id = unique("sdx");
    let mut b = TestBundle::busybox(&["sh", "-c", "cat /proc/self/cgroup; exit 3"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("husk-test.slice:pfx:{id}"));
    // No cgroup namespace: the path systemd chose shows inside.
    let ns: Vec<Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "cgroup")
        .cloned()
        .collect();
    b.config["linux"]["namespaces"] = json!(ns);
    b.write();
    let out = with_systemd(&h, "run", &b, &id);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let unit = format!("pfx-{id}.scope");
    assert_eq!(
        text(&out.stdout).trim(),
        format!("0::/husk.slice/husk-test.slice/{unit}")
    );
    assert_unit_gone(
        &unit,
        &Path::new("/sys/fs/cgroup/husk.slice/husk-test.slice").join(&unit),
    );
    h.assert_no_trace(&id);
}

#[test]
#[ignore = "needs systemd as PID 1: make test-systemd runs it in a guest"]
fn the_default_path_is_a_husk_scope_in_system_slice() {
    skip_unless_systemd!();
    let h = Husk::new();
    let id = unique("sdd");
    let b = TestBundle::busybox(&["sleep", "1000"]);
    create(&h, &b, &id);
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    let unit = format!("husk-{id}.scope");
    assert_eq!(
        cgroup_dir_of(pid),
        Path::new("/sys/fs/cgroup/system.slice").join(&unit)
    );
    assert_eq!(unit_property(&unit, "ActiveState"), "active");
    // A second container may not join a scope that runs.
    let mut b2 = TestBundle::busybox(&["true"]);
    b2.config["linux"]["cgroupsPath"] = json!(format!("system.slice:husk:{id}"));
    b2.write();
    let out = with_systemd(&h, "create", &b2, "other");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("already runs processes"), "{err}");
    h.assert_no_trace("other");
    assert_eq!(unit_property(&unit, "ActiveState"), "active");
    h.ok(&["delete", "--force", &id]);
    assert_unit_gone(&unit, &Path::new("/sys/fs/cgroup/system.slice").join(&unit));
}

#[test]
#[ignore = "needs systemd as PID 1: make test-systemd runs it in a guest"]
fn kill_all_and_an_oom_kill_in_a_scope() {
    skip_unless_systemd!();
    let h = Husk::new();
    let id = unique("sdk");
    let mut b = TestBundle::busybox(&["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    b.config["linux"]["cgroupsPath"] = json!(format!(":husk:{id}"));
    b.write();
    create(&h, &b, &id);
    h.ok(&["start", &id]);
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    let dir = cgroup_dir_of(pid);
    wait_for(
        || read(&dir.join("cgroup.procs")).lines().count() == 3,
        "three processes in the scope",
    );
    h.ok(&["kill", "--all", &id, "KILL"]);
    wait_for(
        || h.state(&id)["status"] == "stopped",
        "the container to stop",
    );
    h.ok(&["delete", &id]);
    assert_unit_gone(&format!("husk-{id}.scope"), &dir);

    // A memory hog in a 32 MiB scope is OOM-killed: 137, and systemd saw the OOM kill.
    let id = unique("sdo");
    let mut b = TestBundle::busybox(&["sh", "-c", "x=a; while true; do x=$x$x; done"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("system.slice:husk:{id}"));
    b.config["linux"]["resources"] = json!({"memory": {"limit": 32 << 20, "swap": 32 << 20}});
    b.write();
    let out = with_systemd(&h, "run", &b, &id);
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
    let unit = format!("husk-{id}.scope");
    assert_unit_gone(&unit, &Path::new("/sys/fs/cgroup/system.slice").join(&unit));
    h.assert_no_trace(&id);
}

#[test]
#[ignore = "needs systemd as PID 1: make test-systemd runs it in a guest"]
fn a_create_killed_after_the_scope_started_is_cleaned_up_by_delete() {
    skip_unless_systemd!();
    let h = Husk::new();
    let id = unique("sdc");
    let mut b = TestBundle::busybox(&["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("system.slice:husk:{id}"));
    b.write();
    let unit = format!("husk-{id}.scope");
    let out = run_to_files(
        h.cmd()
            .env("HUSK_CRASH_AT", "ready")
            .args(["--systemd-cgroup", "create", "--bundle"])
            .arg(b.path())
            .arg(&id),
    );
    if out.status.success() {
        h.ok(&["delete", "--force", &id]);
        skip!("this husk is a release build, without crash points");
    }
    assert_eq!(out.status.signal(), Some(9), "{}", text(&out.stderr));
    // The init outlived its creator, waiting to be started: its scope stays.
    assert_eq!(unit_property(&unit, "ActiveState"), "active");
    assert_eq!(h.state(&id)["status"], "stopped");
    h.ok(&["delete", &id]);
    assert_unit_gone(&unit, &Path::new("/sys/fs/cgroup/system.slice").join(&unit));
    h.assert_no_trace(&id);
}

#[test]
fn a_cgroups_path_not_in_systemd_form_is_refused() {
    skip_unless_root!();
    // Checked before systemd is looked for: this runs on hosts without it too.
    let h = Husk::new();
    for (path, why) in [
        ("/husk/abs", "1 parts"),
        ("a:b", "2 parts"),
        ("notaslice:p:n", "does not end in .slice"),
        ("a--b.slice:p:n", "empty part"),
        ("system.slice:p/q:n", "contains \"/\""),
    ] {
        let mut b = TestBundle::busybox(&["true"]);
        b.config["linux"]["cgroupsPath"] = json!(path);
        b.write();
        let id = unique("sdp");
        let out = with_systemd(&h, "create", &b, &id);
        assert!(!out.status.success(), "{path}");
        let err = text(&out.stderr);
        assert!(
            err.contains("linux.cgroupsPath") && err.contains(why),
            "{path}: {err}"
        );
        h.assert_no_trace(&id);
    }
}
