//! The lifecycle as a user drives it: create, start, state, kill, delete, run, list, spec,
//! hooks. Needs root.

use std::process::Command;
use std::time::{Duration, Instant};

use husk_e2e::*;

#[test]
fn run_prints_the_containers_output_and_returns_its_exit_code() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sh", "-c", "echo hello from husk; exit 3"]);
    let (code, out, err) = h.run_bundle(&b, "run1");
    assert_eq!(code, 3, "stderr: {err}");
    assert_eq!(out, "hello from husk\n");
    h.assert_no_trace("run1");
}

#[test]
fn run_of_a_container_killed_by_a_signal_exits_128_plus_n() {
    skip_unless_root!();
    let h = Husk::new();
    let id = unique("sig");
    let b = TestBundle::busybox(&["sleep", "30"]);
    let mut run = h
        .cmd()
        .args(["run", "-b", b.path().to_str().unwrap(), &id])
        .spawn()
        .unwrap();
    wait_for(
        || h.run(&["state", &id]).status.success() && h.state(&id)["status"] == "running",
        "running",
    );
    h.ok(&["kill", &id, "KILL"]);
    let code = run.wait().unwrap().code();
    assert_eq!(code, Some(137));
    h.assert_no_trace(&id);
}

#[test]
fn create_holds_the_process_until_start_then_it_runs_and_stops() {
    skip_unless_root!();
    let h = Husk::new();
    let shared = TempDir::new("husk-shared");
    let mut b = TestBundle::busybox(&["sh", "-c", "echo ran > /shared/marker; sleep 30"]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/shared", "type": "bind", "source": shared.path(), "options": ["rbind", "rw"]}));
    add_cgroup_namespace(&mut b.config);
    b.write();
    let pidfile = b.path().join("init.pid");
    h.ok(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        "c1",
    ]);

    let st = h.state("c1");
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        pid.to_string(),
        "pid file holds the init's pid"
    );
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "init exists while created"
    );
    for ns in ["pid", "mnt", "net", "ipc", "uts", "cgroup"] {
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let cont = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_ne!(host, cont, "{ns} namespace must be new");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !shared.path().join("marker").exists(),
        "the program must not run before start"
    );

    h.ok(&["start", "c1"]);
    wait_for(
        || shared.path().join("marker").exists(),
        "the program to run after start",
    );
    assert_eq!(h.state("c1")["status"], "running");
    let again = h.run(&["start", "c1"]);
    assert!(
        !again.status.success(),
        "start of a running container fails"
    );

    h.ok(&["kill", "c1", "KILL"]);
    wait_for(|| h.state("c1")["status"] == "stopped", "stopped");
    assert_eq!(h.state("c1")["pid"], 0, "pid is 0 once stopped");
    let k = h.run(&["kill", "c1", "TERM"]);
    assert!(
        text(&k.stderr).contains("container not running"),
        "{}",
        text(&k.stderr)
    );
    h.ok(&["delete", "c1"]);
    h.assert_no_trace("c1");
    let s = h.run(&["state", "c1"]);
    assert!(!s.status.success());
    assert!(
        text(&s.stderr).contains("container does not exist"),
        "{}",
        text(&s.stderr)
    );
}

#[test]
fn create_on_an_existing_id_fails_and_leaves_the_first_untouched() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "30"]);
    let bp = b.path().to_str().unwrap();
    h.ok(&["create", "-b", bp, "dup"]);
    let before = h.state("dup");
    let out = h.run(&["create", "-b", bp, "dup"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("container with given ID already exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(h.state("dup"), before);
    h.ok(&["delete", "dup"]);
    h.assert_no_trace("dup");
}

#[test]
fn delete_of_a_created_container_kills_and_removes_it() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "30"]);
    h.ok(&["create", "-b", b.path().to_str().unwrap(), "dc"]);
    let pid = h.state("dc")["pid"].as_i64().unwrap();
    h.ok(&["delete", "dc"]);
    h.assert_no_trace("dc");
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false);
    assert!(!alive, "the init of a deleted container must be gone");
}

#[test]
fn delete_of_a_running_container_needs_force() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "30"]);
    h.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), "dr"]);
    assert_eq!(h.state("dr")["status"], "running");
    let out = h.run(&["delete", "dr"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("container still running"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(h.state("dr")["status"], "running");
    h.ok(&["delete", "--force", "dr"]);
    h.assert_no_trace("dr");
    // --force on a missing container is not an error (clients clean up with it).
    h.ok(&["delete", "--force", "dr"]);
}

#[test]
fn kill_takes_names_and_numbers_and_rejects_unknown_signals() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&[
        "sh",
        "-c",
        "trap 'exit 42' USR1; while true; do sleep 0.05; done",
    ]);
    h.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), "k1"]);
    let bad = h.run(&["kill", "k1", "NOPE"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("invalid signal"),
        "{}",
        text(&bad.stderr)
    );
    assert_eq!(h.state("k1")["status"], "running");
    h.ok(&["kill", "k1", "SIGUSR1"]);
    wait_for(|| h.state("k1")["status"] == "stopped", "exit on SIGUSR1");
    h.ok(&["delete", "k1"]);

    h.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), "k2"]);
    h.ok(&["kill", "--all", "k2", "9"]);
    wait_for(|| h.state("k2")["status"] == "stopped", "exit on 9");
    h.ok(&["delete", "k2"]);
    h.assert_no_trace("k2");
}

#[test]
fn state_and_list_print_runcs_shapes() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["sleep", "30"]);
    b.config["annotations"] = json!({"org.example.key": "v"});
    b.write();
    h.ok(&["create", "-b", b.path().to_str().unwrap(), "s1"]);
    let st = h.state("s1");
    let keys: Vec<&str> = st.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "annotations",
        "owner",
    ] {
        assert!(keys.contains(&k), "state lacks {k}: {st}");
    }
    assert_eq!(st["id"], "s1");
    assert_eq!(
        st["bundle"],
        json!(std::fs::canonicalize(b.path()).unwrap())
    );
    assert_eq!(st["annotations"]["org.example.key"], "v");
    assert_eq!(st["owner"], "root");
    assert!(st["created"].as_str().unwrap().ends_with('Z'));

    let list: Value = serde_json::from_str(&h.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["status"], "created");
    let table = h.ok(&["list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATUS") && lines[0].ends_with("OWNER"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("s1") && lines[1].contains("created"),
        "{table}"
    );
    assert_eq!(h.ok(&["list", "-q"]), "s1\n");
    h.ok(&["delete", "s1"]);
}

#[test]
fn a_reused_pid_is_not_taken_for_the_container() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "30"]);
    h.ok(&["create", "-b", b.path().to_str().unwrap(), "reuse"]);
    // Point the stored pid at a live process that is not the container (this test itself).
    let path = h.root.path().join("reuse/state.json");
    let mut st: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let real = st["pid"].clone();
    st["pid"] = json!(std::process::id());
    std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();
    assert_eq!(
        h.state("reuse")["status"],
        "stopped",
        "another process's pid must not look alive"
    );
    let k = h.run(&["kill", "reuse", "KILL"]);
    assert!(
        !k.status.success(),
        "kill must not signal the process that reused the pid"
    );
    st["pid"] = real;
    std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();
    h.ok(&["delete", "reuse"]);
}

fn hook(path: &str, args: &[&str]) -> Value {
    json!({"path": path, "args": args})
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    skip_unless_root!();
    let h = Husk::new();
    let log = TempDir::new("husk-hooklog");
    let l = log.path().to_str().unwrap().to_string();
    let mut b = TestBundle::busybox(&["true"]);
    let rec = |name: &str| {
        hook(
            "/bin/sh",
            &[
                "sh",
                "-c",
                &format!("cat > {l}/{name}.json; echo {name} >> {l}/order"),
            ],
        )
    };
    b.config["hooks"] = json!({
        "prestart": [rec("prestart")],
        "createRuntime": [rec("createRuntime")],
        "createContainer": [rec("createContainer")],
        "startContainer": [hook("/bin/sh", &["sh", "-c", "echo inside > /startContainer.txt"])],
        "poststart": [rec("poststart")],
        "poststop": [rec("poststop")],
    });
    b.config["root"]["readonly"] = json!(false);
    b.write();
    let (code, _, err) = h.run_bundle(&b, "hk");
    assert_eq!(code, 0, "{err}");
    let order = std::fs::read_to_string(log.path().join("order")).unwrap();
    assert_eq!(
        order,
        "prestart\ncreateRuntime\ncreateContainer\npoststart\npoststop\n"
    );
    let st: Value =
        serde_json::from_slice(&std::fs::read(log.path().join("createRuntime.json")).unwrap())
            .unwrap();
    assert_eq!(st["id"], "hk");
    assert_eq!(st["status"], "creating");
    assert!(st["pid"].as_i64().unwrap() > 0);
    let st: Value =
        serde_json::from_slice(&std::fs::read(log.path().join("poststop.json")).unwrap()).unwrap();
    assert_eq!(st["status"], "stopped");
    assert!(
        b.rootfs().join("startContainer.txt").exists(),
        "startContainer runs in the container's root"
    );
}

#[test]
fn a_failing_prestart_hook_fails_create_and_leaves_nothing() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["true"]);
    b.config["hooks"] =
        json!({"prestart": [hook("/bin/sh", &["sh", "-c", "echo hook says no >&2; exit 7"])]});
    b.write();
    let mounts = mount_table();
    let out = h.run(&["create", "-b", b.path().to_str().unwrap(), "hf"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("prestart hook #0")
            && err.contains("exit status 7")
            && err.contains("hook says no"),
        "{err}"
    );
    h.assert_no_trace("hf");
    assert_eq!(mounts, mount_table());
}

#[test]
fn a_failing_poststart_hook_fails_start_and_stops_the_container() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["sleep", "30"]);
    b.config["hooks"] = json!({"poststart": [hook("/bin/false", &["false"])]});
    b.write();
    h.ok(&["create", "-b", b.path().to_str().unwrap(), "pf"]);
    let out = h.run(&["start", "pf"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("poststart hook #0"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(h.state("pf")["status"], "stopped");
    h.ok(&["delete", "pf"]);
}

#[test]
fn a_failing_poststop_hook_is_a_warning_and_the_next_ones_still_run() {
    skip_unless_root!();
    let h = Husk::new();
    let log = TempDir::new("husk-poststop");
    let l = log.path().to_str().unwrap();
    let mut b = TestBundle::busybox(&["true"]);
    b.config["hooks"] = json!({"poststop": [
        hook("/bin/sh", &["sh", "-c", &format!("echo first >> {l}/ran")]),
        hook("/bin/sh", &["sh", "-c", "echo second fails >&2; exit 3"]),
        hook("/bin/sh", &["sh", "-c", &format!("echo third >> {l}/ran")]),
    ]});
    b.write();
    let id = unique("poststop");
    let out = h.run(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(log.path().join("ran")).unwrap(),
        "first\nthird\n",
        "every poststop hook runs"
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("poststop hook #1") && err.contains("second fails"),
        "the failure is a warning: {err}"
    );
    h.assert_no_trace(&id);
}

#[test]
fn a_capability_husk_cannot_grant_fails_create_not_start() {
    skip_unless_root!();
    // husk without CAP_NET_RAW in its bounding set (as these machines lack CAP_SYS_RESOURCE):
    // a config asking for it cannot be honoured, and create says so.
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["true"]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_NET_RAW"));
    }
    b.write();
    let id = unique("nocap");
    let out = run_to_files(
        Command::new("setpriv")
            .args(["--bounding-set", "-net_raw"])
            .arg(husk_bin())
            .arg("--root")
            .arg(h.root.path())
            .args(["create", "--bundle", b.path().to_str().unwrap(), &id]),
    );
    assert!(!out.status.success(), "create succeeded");
    assert!(
        text(&out.stderr).contains("CAP_NET_RAW cannot be granted"),
        "{}",
        text(&out.stderr)
    );
    h.assert_no_trace(&id);
}

#[test]
fn run_no_subreaper_waits_for_the_container_and_returns_its_code() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sh", "-c", "sleep 0.3; echo done; exit 7"]);
    let id = unique("nosub");
    let out = h.run(&[
        "run",
        "--no-subreaper",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "done\n");
    h.assert_no_trace(&id);
}

#[test]
fn a_hook_that_outlives_its_timeout_is_killed_and_fails() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["true"]);
    b.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    b.write();
    let t = Instant::now();
    let out = h.run(&["create", "-b", b.path().to_str().unwrap(), "to"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("timed out after 1s"),
        "{}",
        text(&out.stderr)
    );
    assert!(t.elapsed() < Duration::from_secs(20));
    h.assert_no_trace("to");
}

#[test]
fn spec_writes_runcs_default_config_and_refuses_to_overwrite() {
    let dir = TempDir::new("husk-spec");
    let h = Husk::new();
    h.ok(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    let c: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(c["process"]["args"], json!(["sh"]));
    assert_eq!(c["root"]["path"], "rootfs");
    // As runc: a cgroup namespace only on a pure cgroup v2 host.
    let types: Vec<&str> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    let mut want = vec!["pid", "network", "ipc", "uts", "mount"];
    if pure_v2() {
        want.push("cgroup");
    }
    assert_eq!(types, want);
    let again = h.run(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    assert!(!again.status.success());
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    h.ok(&[
        "spec",
        "--rootless",
        "--bundle",
        dir.path().to_str().unwrap(),
    ]);
    let c: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert!(c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "user"));
    assert_eq!(
        c["linux"]["uidMappings"][0]["hostID"],
        nix::unistd::getuid().as_raw()
    );
}

#[test]
fn version_prints_runcs_lines() {
    let out = Husk::new().ok(&["--version"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("husk version "), "{out}");
    assert!(lines[1].starts_with("commit: "), "{out}");
    assert_eq!(lines[2], "spec: 1.3.0");
}

#[test]
fn errors_go_to_the_log_as_runcs_json_lines_and_go_style_flags_parse() {
    let h = Husk::new();
    let log = TempDir::new("husk-log");
    let logf = log.path().join("log.json");
    let out = run_to_files(h.cmd().args([
        "-log",
        logf.to_str().unwrap(),
        "-log-format",
        "json",
        "delete",
        "-force=false",
        "nosuch",
    ]));
    assert_eq!(out.status.code(), Some(1));
    let line = std::fs::read_to_string(&logf).unwrap();
    let v: Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(v["level"], "error");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("container does not exist"),
        "{v}"
    );
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
    assert!(text(&out.stderr).contains("container does not exist"));
}

#[test]
fn a_failing_start_container_hook_fails_start_before_the_program_runs() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["sh", "-c", "echo ran > /ran; sleep 30"]);
    b.config["root"]["readonly"] = json!(false);
    b.config["hooks"] =
        json!({"startContainer": [hook("/bin/sh", &["sh", "-c", "echo not today >&2; exit 4"])]});
    b.write();
    let id = unique("sc");
    h.ok(&["create", "-b", b.path().to_str().unwrap(), &id]);
    let out = h.run(&["start", &id]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("startContainer hook #0")
            && err.contains("exit status 4")
            && err.contains("not today"),
        "{err}"
    );
    assert!(!b.rootfs().join("ran").exists(), "the program must not run");
    assert_eq!(h.state(&id)["status"], "stopped");
    h.ok(&["delete", &id]);
    h.assert_no_trace(&id);
}
