//! `husk exec`, `ps`, `features`, and the create flags clients pass (--preserve-fds,
//! LISTEN_FDS, --no-new-keyring, --pidfd-socket, --log-format json), checked from inside the container and
//! in /proc. Needs root.

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

use husk_e2e::*;

/// A running container (`sleep`), its id and its init's pid.
fn running(h: &Husk, b: &TestBundle, prefix: &str) -> (String, i64) {
    let id = unique(prefix);
    h.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    (id, pid)
}

fn ns_of(pid: i64, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn exec_runs_in_every_namespace_and_the_cgroup_of_the_container() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let (id, init) = running(&h, &b, "exec");
    // The exec'd shell reports its own namespaces and cgroup from inside, then waits, so that
    // the host can compare them with the init's.
    let out = h.run(&[
        "exec",
        &id,
        "sh",
        "-c",
        "for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done; \
         echo pid1=$(cat /proc/1/comm); hostname; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    for (i, ns) in ["pid", "mnt", "uts", "ipc", "net"].iter().enumerate() {
        assert_eq!(
            lines[i],
            ns_of(init, ns),
            "{ns} namespace of the exec'd process"
        );
    }
    assert_eq!(
        lines[5], "pid1=sleep",
        "the exec'd process sees the init as pid 1"
    );
    assert_eq!(lines[6], b.config["hostname"].as_str().unwrap());

    // A detached exec: its pid file names a process in the container's cgroup.
    let dir = TempDir::new("husk-exec");
    let pid_file = dir.path().join("exec.pid");
    h.ok(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "50",
    ]);
    let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap(),
        "sleep\n"
    );
    for controller in ["memory", "pids", "cpu"] {
        assert_eq!(
            cgroup_of(pid, controller),
            cgroup_of(init, controller),
            "{controller} cgroup of the exec'd process"
        );
    }
    assert_eq!(ns_of(pid, "pid"), ns_of(init, "pid"));

    // ps lists both, as JSON and as ps(1)'s table cut to the container.
    let pids: Vec<i64> = serde_json::from_str(&h.ok(&["ps", "--format", "json", &id])).unwrap();
    assert!(pids.contains(&init) && pids.contains(&pid), "{pids:?}");
    let table = h.ok(&["ps", &id, "-o", "pid,comm"]);
    let mut rows: Vec<&str> = table.lines().collect();
    assert_eq!(
        rows.remove(0).split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND"]
    );
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows.iter().all(|r| r.ends_with("sleep")), "{table}");
    h.ok(&["delete", "--force", &id]);
    h.assert_no_trace(&id);
}

#[test]
fn exec_flags_set_user_env_cwd_caps_and_no_new_privs() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let (id, _) = running(&h, &b, "execflags");
    let out = h.ok(&[
        "exec",
        "--user",
        "1000:1001",
        "--additional-gids",
        "2000",
        "--env",
        "FOO=bar baz",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        "id -u; id -g; id -G; echo \"$FOO\"; pwd; grep NoNewPrivs /proc/self/status",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..5],
        ["1000", "1001", "1001 2000", "bar baz", "/tmp"]
    );
    // The default spec sets noNewPrivileges; the container's process keeps it.
    assert!(lines[5].ends_with('1'), "{out}");

    // --cap adds to the bounding, effective and permitted sets.
    let caps = |extra: &[&str]| -> u64 {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&id, "grep", "CapEff", "/proc/self/status"]);
        let out = h.ok(&args);
        u64::from_str_radix(out.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    const CAP_NET_ADMIN: u64 = 1 << 12;
    assert_eq!(caps(&[]) & CAP_NET_ADMIN, 0);
    assert_ne!(caps(&["--cap", "CAP_NET_ADMIN"]) & CAP_NET_ADMIN, 0);
    h.ok(&["delete", "--force", &id]);

    // --no-new-privs turns it on for a container whose config leaves it off.
    let mut b = TestBundle::busybox(&["sleep", "100"]);
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.write();
    let (id, _) = running(&h, &b, "nnp");
    let nnp = |extra: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&id, "grep", "NoNewPrivs", "/proc/self/status"]);
        h.ok(&args)
    };
    assert!(nnp(&[]).trim().ends_with('0'));
    assert!(nnp(&["--no-new-privs"]).trim().ends_with('1'));
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn exec_cgroup_places_the_process_in_a_sub_cgroup() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let (id, init) = running(&h, &b, "execcg");
    let (dir, _) = cgroup_of(init, "memory").expect("a memory cgroup");
    std::fs::create_dir(dir.join("sub")).unwrap();
    let tmp = TempDir::new("husk-execcg");
    let pid_file = tmp.path().join("pid");
    h.ok(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--cgroup",
        "memory:sub",
        &id,
        "sleep",
        "50",
    ]);
    let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(cgroup_of(pid, "memory").unwrap().0, dir.join("sub"));
    // The other controllers keep the container's own cgroup.
    assert_eq!(cgroup_of(pid, "pids"), cgroup_of(init, "pids"));
    // runc's words for each refusal.
    for (arg, words) in [
        ("memory:nope", "adding pid to "),
        ("nope", "/nope/cgroup.procs: no such file"),
        ("..", "bad sub cgroup path: .. is not a sub cgroup path"),
        ("whaaat:/", "unknown controller"),
    ] {
        let out = h.run(&["exec", "--cgroup", arg, &id, "true"]);
        assert_eq!(out.status.code(), Some(255), "--cgroup {arg}");
        assert!(
            text(&out.stderr).contains(words),
            "{arg}: {}",
            text(&out.stderr)
        );
    }
    h.ok(&["kill", "--all", &id, "KILL"]);
    wait_for(|| h.state(&id)["status"] == "stopped", "stopped");
    let _ = std::fs::remove_dir(dir.join("sub"));
    h.ok(&["delete", &id]);
}

#[test]
fn exec_from_a_process_file_applies_its_rlimits_and_capabilities() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let (id, _) = running(&h, &b, "execproc");
    let dir = TempDir::new("husk-proc");
    let process = json!({
        "args": ["sh", "-c", "ulimit -n; grep -E '^Cap(Eff|Bnd)' /proc/self/status; echo $MARK"],
        "env": ["PATH=/bin", "MARK=from-process-json"],
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 321, "soft": 123}],
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}
    });
    let file = dir.path().join("process.json");
    std::fs::write(&file, process.to_string()).unwrap();
    let out = h.ok(&["exec", "--process", file.to_str().unwrap(), &id]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "123");
    assert_eq!(
        lines[1].split_whitespace().nth(1),
        Some("0000000000000020"),
        "{out}"
    );
    assert_eq!(
        lines[2].split_whitespace().nth(1),
        Some("0000000000000020"),
        "{out}"
    );
    assert_eq!(lines[3], "from-process-json");

    // A process that breaks the spec names the field; nothing runs.
    std::fs::write(
        &file,
        json!({"args": ["true"], "cwd": "relative", "user": {"uid": 0, "gid": 0}}).to_string(),
    )
    .unwrap();
    let out = h.run(&["exec", "--process", file.to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("process.cwd"),
        "{}",
        text(&out.stderr)
    );
    // A missing executable is the exec's error: exit 255, as runc.
    let out = h.run(&["exec", &id, "no-such-program"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("no-such-program"),
        "{}",
        text(&out.stderr)
    );
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn exec_is_refused_in_a_stopped_or_paused_container() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let (id, _) = running(&h, &b, "execstate");
    h.ok(&["pause", &id]);
    // runc's words and exit code: exec's own failures exit 255, apart from the process's codes.
    let out = h.run(&["exec", &id, "true"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("cannot exec in a paused container"),
        "{}",
        text(&out.stderr)
    );
    // --ignore-paused: the process starts frozen and runs once the container is resumed.
    let mut waiting = h
        .cmd()
        .args(["exec", "--ignore-paused", &id, "echo", "ran"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(waiting.try_wait().unwrap().is_none(), "ran while paused");
    h.ok(&["resume", &id]);
    let out = waiting.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(0), "ran\n".to_string())
    );
    h.ok(&["kill", &id, "KILL"]);
    wait_for(|| h.state(&id)["status"] == "stopped", "stopped");
    let out = h.run(&["exec", &id, "true"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("not running"),
        "{}",
        text(&out.stderr)
    );
    let out = h.run(&["exec", "no-such-container", "true"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(text(&out.stderr).contains("does not exist"));
    h.ok(&["delete", &id]);
}

#[test]
fn features_lists_what_husk_supports() {
    let h = Husk::new();
    let f: Value = serde_json::from_str(&h.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let ns = list(&f["linux"]["namespaces"]);
    for n in ["mount", "pid", "user", "network", "cgroup", "time"] {
        assert!(ns.contains(&n.to_string()), "{n}");
    }
    assert!(list(&f["hooks"]).contains(&"createContainer".to_string()));
    assert!(list(&f["mountOptions"]).contains(&"rro".to_string()));
    assert!(list(&f["mountOptions"]).contains(&"ridmap".to_string()));
    assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    assert_eq!(f["linux"]["cgroup"]["v2"], true);
    // The systemd driver is built in (runc reports it so too); the user instance is not
    // driven, and no LSM is claimed.
    assert_eq!(f["linux"]["cgroup"]["systemd"], true);
    assert_eq!(f["linux"]["cgroup"]["systemdUser"], false);
    assert_eq!(f["linux"]["apparmor"]["enabled"], false);
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    assert!(list(&f["linux"]["seccomp"]["actions"]).contains(&"SCMP_ACT_NOTIFY".to_string()));
}

#[test]
fn security_labels_are_refused_by_create_and_exec_alike() {
    skip_unless_root!();
    let h = Husk::new();
    // create (run is covered by broken_bundles.rs): refused, nothing made.
    let mut b = TestBundle::busybox(&["sleep", "100"]);
    b.config["process"]["apparmorProfile"] = json!("husk-test");
    b.write();
    let id = unique("lsm");
    let out = h.run(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr)
            .contains("process.apparmorProfile \"husk-test\": AppArmor is not enabled"),
        "{}",
        text(&out.stderr)
    );
    h.assert_no_trace(&id);
    // exec's flags, into a container without labels: refused, nothing run.
    let b = TestBundle::busybox(&["sleep", "100"]);
    let (id, _) = running(&h, &b, "lsmexec");
    for (flag, field) in [
        ("--apparmor", "process.apparmorProfile"),
        ("--process-label", "process.selinuxLabel"),
    ] {
        let out = h.run(&["exec", flag, "x", &id, "touch", "/tmp/ran"]);
        assert!(!out.status.success(), "{flag}");
        assert!(
            text(&out.stderr).contains(field),
            "{flag}: {}",
            text(&out.stderr)
        );
    }
    let out = h.run(&["exec", &id, "ls", "/tmp/ran"]);
    assert!(!out.status.success(), "a refused exec ran its process");
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn preserved_and_socket_activation_fds_reach_the_container() {
    skip_unless_root!();
    let h = Husk::new();
    let dir = TempDir::new("husk-fds");
    let b = TestBundle::busybox(&[
        "sh",
        "-c",
        "cat <&3; cat <&4; cat <&5 2>/dev/null || echo no-fd-5; echo \"$LISTEN_FDS $LISTEN_PID\"",
    ]);
    let files: Vec<std::fs::File> = ["listen", "kept", "leaked"]
        .iter()
        .map(|n| {
            let p = dir.path().join(n);
            std::fs::write(&p, format!("{n}\n")).unwrap();
            std::fs::File::open(p).unwrap()
        })
        .collect();
    let id = unique("fds");
    // LISTEN_PID must be husk's own pid: a shell in between sets it, as systemd does, and
    // execs husk with fds 3, 4, 5 open.
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$@\"", "sh"]);
    sh.arg(husk_bin()).arg("--root").arg(h.root.path()).args([
        "run",
        "--preserve-fds",
        "1",
        "-b",
        b.path().to_str().unwrap(),
        &id,
    ]);
    let raw: Vec<i32> = files.iter().map(|f| f.as_raw_fd()).collect();
    // SAFETY (test): only dup2, which is async-signal-safe, runs between fork and exec.
    unsafe {
        sh.pre_exec(move || {
            // Through high numbers first, so that no source is overwritten before it is copied.
            for (i, fd) in raw.iter().enumerate() {
                nix::unistd::dup2(*fd, 100 + i as i32)?;
            }
            for i in 0..raw.len() as i32 {
                nix::unistd::dup2(100 + i, 3 + i)?;
                nix::unistd::close(100 + i)?;
            }
            Ok(())
        });
    }
    let out = run_to_files(&mut sh);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "listen\nkept\nno-fd-5\n1 1\n");
}

#[test]
fn a_new_session_keyring_unless_no_new_keyring() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["cat", "/proc/keys"]);
    // The default spec masks /proc/keys; this test reads it.
    b.config["linux"]["maskedPaths"] = json!([]);
    b.write();
    let id = unique("keys");
    let out = h.ok(&["run", "-b", b.path().to_str().unwrap(), &id]);
    assert!(out.contains(&format!("_ses.{id}")), "{out}");
    let id2 = unique("nokeys");
    let out = h.ok(&[
        "run",
        "--no-new-keyring",
        "-b",
        b.path().to_str().unwrap(),
        &id2,
    ]);
    assert!(!out.contains("_ses.nokeys"), "{out}");
}

#[test]
fn failures_are_written_to_the_log_as_runcs_json_lines() {
    skip_unless_root!();
    let h = Husk::new();
    let dir = TempDir::new("husk-log");
    let log = dir.path().join("log.json");
    let b = TestBundle::busybox(&["sleep", "100"]);
    let (id, _) = running(&h, &b, "log");
    let out = h.run(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "exec",
        &id,
        "no-such-program",
    ]);
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"].as_str().unwrap().contains("no-such-program"),
        "{last}"
    );
    assert!(last["time"].as_str().is_some());
    h.ok(&["delete", "--force", &id]);
}

/// SigIgn from /proc/<pid>/status as a mask.
fn ignored(status: &str) -> u64 {
    let line = status.lines().find(|l| l.starts_with("SigIgn:")).unwrap();
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn sigpipe_is_not_ignored_in_the_container_process() {
    skip_unless_root!();
    // husk's runtime ignores SIGPIPE; an ignored signal survives exec, so a container's shell
    // could not even trap it. The init and exec'd processes get its default back (other
    // dispositions pass through from the caller, as with runc).
    const SIGPIPE: u64 = 1 << (13 - 1);
    let h = Husk::new();
    let b = TestBundle::busybox(&["sh", "-c", "grep SigIgn /proc/self/status; sleep 100"]);
    let id = unique("sigign");
    let out = h.run(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    assert!(out.status.success());
    let out = h.ok(&["exec", &id, "grep", "SigIgn", "/proc/self/status"]);
    assert_eq!(ignored(&out) & SIGPIPE, 0, "{out}");
    let init = h.state(&id)["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    assert_eq!(ignored(&status) & SIGPIPE, 0, "{status}");
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn a_broken_process_json_names_the_field_and_runs_nothing() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "600"]);
    let (id, _) = running(&h, &b, "exec-badproc");
    let dir = TempDir::new("husk-badproc");
    let file = dir.path().join("process.json");
    let ok_process = json!({"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}});
    let with = |f: &dyn Fn(&mut Value)| {
        let mut p = ok_process.clone();
        f(&mut p);
        p.to_string()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("invalid JSON", "{\"args\": [".into(), "EOF while parsing"),
        ("not an object", "[1, 2]".into(), "must be a JSON object"),
        (
            "no args",
            with(&|p| p["args"] = json!([])),
            "process.args: must not be empty",
        ),
        (
            "args of the wrong type",
            with(&|p| p["args"] = json!("true")),
            "args",
        ),
        (
            "relative cwd",
            with(&|p| p["cwd"] = json!("tmp")),
            "process.cwd: must be an absolute path",
        ),
        (
            "uid out of range",
            with(&|p| p["user"]["uid"] = json!(1u64 << 40)),
            "user.uid",
        ),
        (
            "negative gid",
            with(&|p| p["user"]["gid"] = json!(-5)),
            "user.gid",
        ),
        (
            "NUL in an argument",
            with(&|p| p["args"] = json!(["tr\u{0}ue"])),
            "process.args[0]: must not contain a NUL byte",
        ),
        (
            "env without =",
            with(&|p| p["env"] = json!(["NOEQUALS"])),
            "process.env[0]",
        ),
        (
            "a lone surrogate",
            r#"{"args": ["\udc80"]}"#.into(),
            "args[0]: lone leading surrogate",
        ),
        ("non-UTF-8 bytes", "NON_UTF8".into(), "args[0]"),
    ];
    let procs_before = h.ok(&["ps", "--format", "json", &id]);
    let mut failures = vec![];
    for (name, content, want) in &cases {
        if content == "NON_UTF8" {
            std::fs::write(&file, b"{\"args\": [\"a\xffb\"], \"cwd\": \"/\"}").unwrap();
        } else {
            std::fs::write(&file, content).unwrap();
        }
        let out = h.run(&["exec", "--process", file.to_str().unwrap(), &id]);
        let err = text(&out.stderr);
        // exec's own failures exit 255, as runc's.
        if out.status.code() != Some(255) {
            failures.push(format!("{name}: exit {:?}: {err}", out.status));
        } else if !err.contains(want) {
            failures.push(format!("{name}: {err:?} does not contain {want:?}"));
        }
    }
    eprintln!("{} broken process.json files checked", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Nothing ran, and the container is as it was.
    assert_eq!(h.ok(&["ps", "--format", "json", &id]), procs_before);
    assert_eq!(h.state(&id)["status"], "running");
    h.ok(&["delete", "--force", &id]);
}

/// The pid a pidfd refers to, from /proc/self/fdinfo.
fn pidfd_pid(fd: &std::os::fd::OwnedFd) -> i64 {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .expect("a pidfd")
        .trim()
        .parse()
        .unwrap()
}

fn pidfd_kill(fd: &std::os::fd::OwnedFd) {
    // SAFETY (test): pidfd_send_signal on a pidfd we own, with no siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    assert_eq!(
        r,
        0,
        "pidfd_send_signal: {}",
        std::io::Error::last_os_error()
    );
}

/// runc 1.2's --pidfd-socket: create and exec send a pidfd of the init ("standard") and of
/// the exec'd process ("setns"), which signals exactly that process.
#[test]
fn pidfd_socket_gets_a_pidfd_of_the_init_and_of_an_exec() {
    skip_unless_root!();
    let h = Husk::new();
    let dir = TempDir::new("husk-pidfd");
    let sock = dir.path().join("pidfd.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let b = TestBundle::busybox(&["sleep", "1000"]);
    let id = unique("pidfd");
    h.ok(&[
        "create",
        "--pidfd-socket",
        sock.to_str().unwrap(),
        "-b",
        b.path().to_str().unwrap(),
        &id,
    ]);
    let (stream, _) = listener.accept().unwrap();
    let (init_fd, payload) = receive_fd(&stream);
    assert_eq!(payload, b"standard");
    assert_eq!(pidfd_pid(&init_fd), h.state(&id)["pid"].as_i64().unwrap());
    h.ok(&["start", &id]);

    let pid_file = dir.path().join("exec.pid");
    h.ok(&[
        "exec",
        "--detach",
        "--pidfd-socket",
        sock.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "999",
    ]);
    let (stream, _) = listener.accept().unwrap();
    let (exec_fd, payload) = receive_fd(&stream);
    assert_eq!(payload, b"setns");
    let exec_pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pidfd_pid(&exec_fd), exec_pid);
    // Killing through the exec's pidfd ends that process alone; through the init's, the
    // container.
    pidfd_kill(&exec_fd);
    wait_for(|| pidfd_pid(&exec_fd) == -1, "the exec'd process to exit");
    assert_eq!(h.state(&id)["status"], "running");
    pidfd_kill(&init_fd);
    wait_for(
        || h.state(&id)["status"] == "stopped",
        "the container to stop",
    );
    h.ok(&["delete", &id]);

    // A socket nobody listens on fails create, naming the flag, and leaves nothing.
    let id = unique("pidfd");
    let out = h.run(&[
        "create",
        "--pidfd-socket",
        dir.path().join("nobody.sock").to_str().unwrap(),
        "-b",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--pidfd-socket"),
        "{}",
        text(&out.stderr)
    );
    h.assert_no_trace(&id);
}
