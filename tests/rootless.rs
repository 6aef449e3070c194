//! Rootless husk: an unprivileged user runs containers with nothing but a user namespace
//! (and, for subordinate ranges, newuidmap/newgidmap with /etc/subuid and /etc/subgid).
//!
//! Needs root to set up: the test creates the user `husk-rootless` (with subordinate
//! ranges) once, then drives husk as that user with setpriv.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use husk_e2e::*;

const USER: &str = "husk-rootless";

struct User {
    uid: u32,
    gid: u32,
    /// The first subordinate uid and gid granted (65536 of each).
    sub_uid: u32,
    sub_gid: u32,
    /// A copy of husk this user can execute, whatever the checkout's permissions.
    husk: PathBuf,
}

fn id_of(flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, USER]).output().ok()?;
    text(&out.stdout).trim().parse().ok()
}

fn sub_range(file: &str, uid: u32) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() == 3 && (f[0] == USER || f[0] == uid.to_string()) && f[2].parse() == Ok(65536u32))
            .then(|| f[1].parse().ok())
            .flatten()
    })
}

/// The unprivileged user, made on first use (idempotent across runs).
fn user() -> &'static User {
    static USER_ONCE: OnceLock<User> = OnceLock::new();
    USER_ONCE.get_or_init(|| {
        if id_of("-u").is_none() {
            let st = Command::new("useradd")
                .args(["--no-create-home", "--shell", "/bin/sh", USER])
                .status()
                .expect("useradd");
            assert!(st.success(), "useradd {USER}");
        }
        let uid = id_of("-u").unwrap();
        let gid = id_of("-g").unwrap();
        for file in ["/etc/subuid", "/etc/subgid"] {
            if sub_range(file, uid).is_none() {
                let mut text = std::fs::read_to_string(file).unwrap_or_default();
                text.push_str(&format!("{USER}:600000:65536\n"));
                std::fs::write(file, text).unwrap();
            }
        }
        // One copy, replaced atomically on each run (not one per test process).
        let dir = PathBuf::from("/tmp/husk-rootless-bin");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let husk = dir.join("husk");
        let tmp = dir.join(unique("husk"));
        std::fs::copy(husk_bin(), &tmp).unwrap();
        std::fs::rename(&tmp, &husk).unwrap();
        User {
            uid,
            gid,
            sub_uid: sub_range("/etc/subuid", uid).unwrap(),
            sub_gid: sub_range("/etc/subgid", uid).unwrap(),
            husk,
        }
    })
}

/// The rootless tests set up their user as root, and drive husk through newuidmap and setpriv.
fn needs_setup_tools() {
    if which("newuidmap").is_none() || which("setpriv").is_none() {
        panic!("newuidmap (Debian's uidmap) and setpriv are needed: make deps installs them");
    }
}

/// A scratch directory owned by the user.
fn user_dir(u: &User, prefix: &str, mode: u32) -> TempDir {
    let d = TempDir::new(prefix);
    chown_r(d.path(), u);
    std::fs::set_permissions(d.path(), std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    d
}

fn chown_r(p: &Path, u: &User) {
    let st = Command::new("chown")
        .args(["-R", "-h", &format!("{}:{}", u.uid, u.gid)])
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

/// husk run by the user, with `XDG_RUNTIME_DIR` = `runtime_dir` (or unset).
fn as_user(
    u: &User,
    runtime_dir: Option<&Path>,
    cwd: &Path,
    args: &[&str],
) -> (i32, String, String) {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid",
        &u.uid.to_string(),
        "--regid",
        &u.gid.to_string(),
        "--clear-groups",
        "--",
    ])
    .arg(&u.husk)
    .args(args)
    .current_dir(cwd)
    .env_remove("XDG_RUNTIME_DIR");
    if let Some(d) = runtime_dir {
        cmd.env("XDG_RUNTIME_DIR", d);
    }
    let out = run_to_files(&mut cmd);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// `husk run --bundle . <id>` in the bundle, as the user, with XDG_RUNTIME_DIR at `xdg`.
fn run_as(u: &User, xdg: &Path, b: &TestBundle, id: &str) -> (i32, String, String) {
    as_user(u, Some(xdg), b.path(), &["run", "--bundle", ".", id])
}

/// A busybox bundle owned by the user, with the config `husk spec --rootless` wrote as that
/// user, and `args`.
fn rootless_bundle(u: &User, args: &[&str]) -> TestBundle {
    let b = TestBundle::busybox(args);
    std::fs::remove_file(b.path().join("config.json")).unwrap();
    chown_r(b.path(), u);
    let (code, _, err) = as_user(u, None, b.path(), &["spec", "--rootless"]);
    assert_eq!(code, 0, "spec --rootless: {err}");
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(b.path().join("config.json")).unwrap()).unwrap();
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(args);
    TestBundle { dir: b.dir, config }
}

fn run_state(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn spec_rootless_runs_as_is_with_only_the_users_own_id() {
    skip_unless_root!();
    needs_setup_tools();
    let u = user();
    let xdg = user_dir(u, "husk-xdg", 0o700);
    let root_state_before = run_state(Path::new("/run/husk"));
    let b = rootless_bundle(
        u,
        &[
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map; ls /dev/null",
        ],
    );
    b.write();
    let id = unique("rl-own");
    let (code, out, err) = run_as(u, xdg.path(), &b, &id);
    assert_eq!(code, 0, "stderr {err}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0"]);
    assert_eq!(lines[1], ["0"]);
    assert_eq!(lines[2], ["0", &u.uid.to_string(), "1"]);
    assert_eq!(lines[3], ["/dev/null"]);
    // The state lived under $XDG_RUNTIME_DIR/husk and is gone; root's /run/husk is untouched;
    // no cgroup was made.
    assert!(xdg.path().join("husk").is_dir());
    assert!(run_state(&xdg.path().join("husk")).is_empty());
    assert_eq!(run_state(Path::new("/run/husk")), root_state_before);
    for d in cgroup_dirs(&id) {
        assert!(!d.exists(), "{} made", d.display());
    }
}

#[test]
fn subordinate_ranges_exec_kill_and_delete() {
    skip_unless_root!();
    needs_setup_tools();
    let u = user();
    let xdg = user_dir(u, "husk-xdg", 0o700);
    let mut b = rootless_bundle(
        u,
        &[
            "sh",
            "-c",
            "id; cat /proc/self/uid_map /proc/self/gid_map; exec sleep 600",
        ],
    );
    b.config["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": u.uid, "size": 1},
        {"containerID": 1, "hostID": u.sub_uid, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([
        {"containerID": 0, "hostID": u.gid, "size": 1},
        {"containerID": 1, "hostID": u.sub_gid, "size": 65536}]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
    b.write();
    let id = unique("rl-sub");
    let state_dir = xdg.path().join("husk").join(&id);
    let run = |args: &[&str]| as_user(u, Some(xdg.path()), b.path(), args);
    let (code, _, err) = run(&["create", "--bundle", ".", &id]);
    assert_eq!(code, 0, "create: {err}");
    let meta = std::fs::metadata(&state_dir).expect("state under XDG_RUNTIME_DIR/husk");
    assert_eq!(meta.uid(), u.uid);
    let (code, _, err) = run(&["start", &id]);
    assert_eq!(code, 0, "start: {err}");

    let state: Value = serde_json::from_str(&run(&["state", &id]).1).unwrap();
    assert_eq!(state["status"], "running");
    let pid = state["pid"].as_i64().unwrap();
    // From the host: the process runs as subordinate uid 1000 maps to.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().nth(1).unwrap(),
        (u.sub_uid + 999).to_string()
    );

    // exec sees the same namespace and maps, as the config's user (as runc's exec).
    let (code, out, err) = run(&["exec", &id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    assert_eq!(code, 0, "exec: {err}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["1000"]);
    assert_eq!(lines[1], ["0", &u.uid.to_string(), "1"]);
    assert_eq!(lines[2], ["1", &u.sub_uid.to_string(), "65536"]);
    let (code, _, err) = run(&["exec", "--detach", &id, "sleep", "600"]);
    assert_eq!(code, 0, "exec -d: {err}");
    let (_, out, _) = run(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_str(&out).unwrap();
    assert_eq!(pids.len(), 2, "{pids:?}");

    // Without a cgroup there is nothing to freeze or limit: a clear refusal.
    for args in [vec!["pause", &id], vec!["update", "--memory", "100M", &id]] {
        let (code, _, err) = run(&args);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains("has no cgroup (husk ran rootless"), "{err}");
    }
    let (code, _, err) = run(&["kill", "--all", &id, "KILL"]);
    assert_eq!(code, 0, "kill: {err}");
    wait_for(
        || {
            let (_, out, _) = run(&["state", &id]);
            out.contains("\"stopped\"")
        },
        "the container to stop",
    );
    for p in &pids {
        wait_for(
            || !Path::new(&format!("/proc/{p}")).exists(),
            "the processes to go",
        );
    }
    let (code, _, err) = run(&["delete", &id]);
    assert_eq!(code, 0, "delete: {err}");
    assert!(!state_dir.exists());
}

#[test]
fn what_an_unprivileged_user_cannot_have_is_refused_with_what_to_do() {
    skip_unless_root!();
    needs_setup_tools();
    let u = user();
    let xdg = user_dir(u, "husk-xdg", 0o700);
    type Tweak = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tweak, &str)> = vec![
        (
            "range not granted",
            Box::new(|c| {
                c["linux"]["uidMappings"] =
                    json!([{"containerID": 0, "hostID": 4000000, "size": 100}]);
            }),
            "linux.uidMappings maps 4000000-4000099, but /etc/subuid grants this user only",
        ),
        (
            "no user namespace",
            Box::new(|c| {
                let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
                ns.retain(|n| n["type"] != "user");
                c["linux"].as_object_mut().unwrap().remove("uidMappings");
                c["linux"].as_object_mut().unwrap().remove("gidMappings");
            }),
            "needs a \"user\" namespace",
        ),
        (
            "resources without a cgroup",
            Box::new(|c| {
                c["linux"]["resources"] = json!({"memory": {"limit": 100000000}});
            }),
            "linux.resources.memory: husk runs as uid",
        ),
        (
            "an idmapped mount",
            Box::new(|c| {
                c["mounts"].as_array_mut().unwrap().push(json!({
                    "destination": "/data", "type": "bind", "source": "/tmp",
                    "options": ["bind", "idmap"]}));
            }),
            "an idmapped mount needs CAP_SYS_ADMIN over the host filesystem",
        ),
        (
            "a host network device",
            Box::new(|c| {
                c["linux"]["netDevices"] = json!({"lo0": {}});
                let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
                ns.push(json!({"type": "network"}));
            }),
            "linux.netDevices: moving a host network device takes CAP_NET_ADMIN",
        ),
        (
            "served /proc files",
            Box::new(|c| {
                c["annotations"] = json!({"run.husk.procfs": "true"});
            }),
            "annotations[\"run.husk.procfs\"]: rootless husk cannot serve /proc files",
        ),
        (
            "supplementary groups with only the own gid",
            Box::new(|c| {
                c["process"]["user"]["additionalGids"] = json!([5]);
            }),
            "process.user.additionalGids",
        ),
    ];
    for (name, tweak, want) in cases {
        let mut b = rootless_bundle(u, &["true"]);
        tweak(&mut b.config);
        b.write();
        let id = unique("rl-bad");
        let (code, _, err) = run_as(u, xdg.path(), &b, &id);
        assert_ne!(code, 0, "{name}: ran");
        assert!(err.contains(want), "{name}: {err}");
        assert!(
            run_state(&xdg.path().join("husk")).is_empty(),
            "{name}: state left"
        );
        for d in cgroup_dirs(&id) {
            assert!(!d.exists(), "{name}: {} left", d.display());
        }
    }
    // Without XDG_RUNTIME_DIR there is no default state root for a user.
    let (code, _, err) = as_user(u, None, Path::new("/"), &["list"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("XDG_RUNTIME_DIR is not set") && err.contains("--root"),
        "{err}"
    );
}

/// Every cgroup hierarchy mounted under /sys/fs/cgroup (v1 ones, and cgroup2 whether pure or
/// the hybrid `unified`).
/// Make each of `dirs` a cgroup the user owns, as a delegation would (a v1 cpuset one with
/// its parent's cpus and mems, without which it takes no process).
fn delegate(dirs: &[PathBuf], u: &User) {
    for d in dirs {
        std::fs::create_dir(d).unwrap();
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if d.join(f).exists() {
                let v = std::fs::read_to_string(d.parent().unwrap().join(f)).unwrap();
                std::fs::write(d.join(f), v.trim()).unwrap();
            }
        }
        chown_r(d, u);
    }
}

fn hierarchies() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.procs").exists() {
        return vec![root.to_path_buf()];
    }
    std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").exists())
        .collect()
}

#[test]
fn a_delegated_cgroup_is_used_and_its_limits_hold() {
    skip_unless_root!();
    needs_setup_tools();
    let u = user();
    let xdg = user_dir(u, "husk-xdg", 0o700);
    // What systemd's Delegate=yes gives a user: a cgroup of its own in every hierarchy, and its
    // processes inside it.
    let name = unique("husk-delegated");
    let delegated: Vec<PathBuf> = hierarchies().iter().map(|h| h.join(&name)).collect();
    delegate(&delegated, u);
    let mut b = rootless_bundle(u, &["sleep", "600"]);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 40}});
    b.write();
    let id = unique("rl-deleg");
    let dirs = delegated
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let out = run_to_files(
        Command::new("sh")
            .args([
                "-c",
                r#"for d in $DIRS; do echo $$ > "$d/cgroup.procs" || exit 99; done
                   exec setpriv --reuid "$U" --regid "$G" --clear-groups -- "$HUSK" run -d --bundle "$BUNDLE" "$ID""#,
            ])
            .env("DIRS", &dirs)
            .env("U", u.uid.to_string())
            .env("G", u.gid.to_string())
            .env("HUSK", &u.husk)
            .env("BUNDLE", b.path())
            .env("ID", &id)
            .env("XDG_RUNTIME_DIR", xdg.path()),
    );
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    let run = |args: &[&str]| as_user(u, Some(xdg.path()), b.path(), args);
    let state: Value = serde_json::from_str(&run(&["state", &id]).1).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    // The container's cgroup is husk/<id> inside the delegated one, with the limits written.
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = format!("/{name}/husk/{id}");
    assert!(cgroup.lines().all(|l| l.ends_with(&want)), "{cgroup}");
    let file = |f: &str| -> Option<String> {
        delegated
            .iter()
            .map(|d| d.join("husk").join(&id).join(f))
            .find(|p| p.exists())
            .map(|p| std::fs::read_to_string(p).unwrap().trim().to_string())
    };
    let memory = file("memory.limit_in_bytes").or_else(|| file("memory.max"));
    assert_eq!(memory.as_deref(), Some("67108864"));
    assert_eq!(file("pids.max").as_deref(), Some("40"));
    // And with a cgroup, pause works rootless.
    let (code, _, err) = run(&["pause", &id]);
    assert_eq!(code, 0, "pause: {err}");
    assert_eq!(
        serde_json::from_str::<Value>(&run(&["state", &id]).1).unwrap()["status"],
        "paused"
    );
    let (code, _, err) = run(&["delete", "--force", &id]);
    assert_eq!(code, 0, "delete: {err}");
    for d in &delegated {
        assert!(
            !d.join("husk").exists(),
            "{} left",
            d.join("husk").display()
        );
        wait_for(
            || std::fs::remove_dir(d).is_ok(),
            "the delegated cgroup to empty",
        );
    }
}

/// The config's read-only cgroup mount is read-only rootless too: without a cgroup of its
/// own, the container sees the cgroups husk runs in, each mount read-only (the topmost one
/// at each path, over the host's /sys bound in), as runc shows them.
#[test]
fn the_cgroup_mount_is_read_only_rootless() {
    skip_unless_root!();
    needs_setup_tools();
    let u = user();
    let xdg = user_dir(u, "husk-xdg", 0o700);
    let script = "for f in $(grep /sys/fs/cgroup /proc/self/mounts | cut -d' ' -f2 | sort -u); do \
                  grep -w \"$f\" /proc/self/mounts | tail -n1 | cut -d' ' -f2,4 | cut -d, -f1; done; \
                  touch /sys/fs/cgroup/pids/x 2>/dev/null || echo write-refused";
    let b = rootless_bundle(u, &["sh", "-c", script]);
    assert!(
        b.config["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == "/sys/fs/cgroup"),
        "spec --rootless keeps runc's cgroup mount"
    );
    b.write();
    let id = unique("rl-cgro");
    let (code, out, err) = run_as(u, xdg.path(), &b, &id);
    assert_eq!(code, 0, "stderr {err}");
    let mounts: Vec<&str> = out.lines().filter(|l| l.starts_with('/')).collect();
    assert!(mounts.len() > 1, "{out}");
    for m in &mounts {
        assert!(m.ends_with(" ro"), "{m} is writable: {out}");
    }
    assert!(out.ends_with("write-refused\n"), "{out}");
}

/// A cgroupsPath rootless husk cannot create is an error, not silently dropped; resources
/// without a cgroup are refused in runc's words; a container in the host's pid namespace
/// without a cgroup gets runc's warning that its processes cannot be tracked.
#[test]
fn rootless_cgroup_placement_is_never_dropped_silently() {
    skip_unless_root!();
    needs_setup_tools();
    let u = user();
    let xdg = user_dir(u, "husk-xdg", 0o700);
    let mut b = rootless_bundle(u, &["true"]);
    b.config["linux"]["cgroupsPath"] = json!("/husk-rootless-denied");
    b.write();
    let id = unique("rl-path");
    let (code, _, err) = run_as(u, xdg.path(), &b, &id);
    assert_ne!(code, 0);
    assert!(
        err.contains("linux.cgroupsPath /husk-rootless-denied"),
        "{err}"
    );
    assert!(
        err.contains("unable to apply cgroup configuration") && err.contains("permission denied"),
        "runc's words: {err}"
    );
    assert!(run_state(&xdg.path().join("husk")).is_empty());

    let mut b = rootless_bundle(u, &["true"]);
    b.config["linux"]["resources"] = json!({"pids": {"limit": 10}});
    b.write();
    let (code, _, err) = run_as(u, xdg.path(), &b, &id);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot set pids limit: container could not join or create cgroup"),
        "{err}"
    );

    let mut b = rootless_bundle(u, &["true"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    // No procfs of its own without a pid namespace: the host's, bound (as runc's suite does).
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["type"] == "proc" {
            *m = json!({"destination": "/proc", "type": "none", "source": "/proc",
                        "options": ["rbind", "nosuid", "nodev", "noexec"]});
        }
    }
    b.write();
    let (code, _, err) = run_as(u, xdg.path(), &b, &id);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cannot be tracked"), "{err}");
    assert!(
        err.contains("Such configuration is strongly discouraged"),
        "{err}"
    );
}

/// A /dev/ptmx entry in linux.devices is left to the container's own devpts, as runc does:
/// bound from the host's (rootless) it would give the terminal the host's devpts.
#[test]
fn a_ptmx_device_entry_does_not_break_the_terminal_rootless() {
    skip_unless_root!();
    needs_setup_tools();
    let u = user();
    let xdg = user_dir(u, "husk-xdg", 0o700);
    let mut b = rootless_bundle(u, &["sh", "-c", "tty; readlink /dev/ptmx"]);
    b.config["process"]["terminal"] = json!(true);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2, "fileMode": 438}]);
    b.write();
    let id = unique("rl-ptmx");
    let (code, out, err) = run_as(u, xdg.path(), &b, &id);
    assert_eq!(code, 0, "stderr {err}");
    assert_eq!(out, "/dev/pts/0\npts/ptmx\n");
}

/// exec into a created, not yet started container works rootless (as with runc): the
/// waiting init is dumpable then, so its namespaces are the user's to open, and it holds no
/// fd into the host while it is (the host's /proc it held is closed first).
#[test]
fn exec_into_a_created_container_works_rootless() {
    skip_unless_root!();
    needs_setup_tools();
    let u = user();
    let xdg = user_dir(u, "husk-xdg", 0o700);
    let b = rootless_bundle(u, &["sleep", "100"]);
    b.write();
    let id = unique("rl-created");
    let user_cmd = |args: &[&str]| as_user(u, Some(xdg.path()), b.path(), args);
    let (code, _, err) = user_cmd(&["create", "--bundle", ".", &id]);
    assert_eq!(code, 0, "create: {err}");
    let (code, out, err) = user_cmd(&["exec", &id, "sh", "-c", "cat /proc/self/uid_map"]);
    assert_eq!(code, 0, "exec into the created container: {err}");
    assert_eq!(out.split_whitespace().next(), Some("0"), "{out}");
    // What the waiting init holds: nothing that leads out of the container.
    let state: Value = serde_json::from_str(&user_cmd(&["state", &id]).1).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let target = std::fs::read_link(fd.path()).unwrap();
        assert!(
            target != Path::new("/proc"),
            "the waiting init holds the host's /proc as fd {:?}",
            fd.file_name()
        );
    }
    // Dumpable, its /proc/<pid>/exe is open to the container: it must not be husk's binary
    // on the host, which the user may own (CVE-2019-5736).
    let exe = std::fs::metadata(format!("/proc/{pid}/exe")).unwrap();
    let host_binary = std::fs::metadata(&u.husk).unwrap();
    assert_ne!(
        (exe.dev(), exe.ino()),
        (host_binary.dev(), host_binary.ino()),
        "the waiting init runs from the host's husk binary"
    );
    let (code, _, err) = user_cmd(&["start", &id]);
    assert_eq!(code, 0, "start: {err}");
    let (code, out, _) = user_cmd(&["exec", &id, "sh", "-c", "cat /proc/1/cmdline"]);
    assert_eq!((code, out.as_str()), (0, "sleep\x00100\x00"));
    let (code, _, err) = user_cmd(&["delete", "--force", &id]);
    assert_eq!(code, 0, "delete: {err}");
}

/// Rootless as as root: a tmpcopyup tmpfs starts with the directory's contents and modes, and a
/// process that cannot be exec'd says so on the first line of stderr, as runc's does.
#[test]
fn tmpcopyup_and_exec_errors_rootless() {
    skip_unless_root!();
    needs_setup_tools();
    let u = user();
    let xdg = user_dir(u, "husk-xdg", 0o700);
    let mut b = rootless_bundle(u, &["ls", "-ld", "/dir1/dir2"]);
    let dir2 = b.rootfs().join("dir1/dir2");
    std::fs::create_dir_all(&dir2).unwrap();
    std::fs::set_permissions(&dir2, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    chown_r(&b.rootfs().join("dir1"), u);
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/dir1", "type": "tmpfs", "source": "tmpfs",
                     "options": ["tmpcopyup"]}),
    );
    b.write();
    let (code, out, err) = run_as(u, xdg.path(), &b, &unique("rl-copyup"));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("drwxrwxrwx"), "{out}");

    // An interpreter that does not exist: found at create, refused by execve.
    let b = rootless_bundle(u, &["/run.sh"]);
    let script = b.rootfs().join("run.sh");
    std::fs::write(&script, "#!/mmnnttbb foo bar\nsh\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    chown_r(&script, u);
    b.write();
    let (code, _, err) = run_as(u, xdg.path(), &b, &unique("rl-execve"));
    assert_ne!(code, 0);
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        ["exec /run.sh: no such file or directory"],
        "one line, the exec's own"
    );
}

/// A cgroup delegated in some hierarchies only (runc's rootless suite delegates the v1 ones,
/// not the hybrid host's cgroup2 mount): husk makes the container's cgroup in those, as runc
/// does, with the limits there; a limit whose controller is only in an undelegated hierarchy
/// is refused, naming it.
#[test]
fn a_cgroup_delegated_in_some_hierarchies_is_used_where_it_is() {
    skip_unless_root!();
    needs_setup_tools();
    let all = hierarchies();
    if all.len() < 2 {
        // A pure v2 host has one hierarchy: all or nothing, tested above.
        return;
    }
    let u = user();
    let xdg = user_dir(u, "husk-xdg", 0o700);
    let name = unique("husk-partial");
    // Every hierarchy but the cgroup2 one (or, on a v1-only host, but the last).
    let v2 = all
        .iter()
        .position(|h| h.join("cgroup.controllers").exists());
    let undelegated = v2.unwrap_or(all.len() - 1);
    let delegated: Vec<PathBuf> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != undelegated)
        .map(|(_, h)| h.join(&name))
        .collect();
    delegate(&delegated, u);
    let pids_dir = delegated
        .iter()
        .find(|d| d.join("pids.max").exists())
        .cloned();
    let mut b = rootless_bundle(u, &["true"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("/{name}/c1"));
    b.config["linux"]["resources"] = json!({"pids": {"limit": 40}});
    b.write();
    let (code, _, err) = run_as(u, xdg.path(), &b, &unique("rl-partial"));
    let cleanup = || {
        for d in &delegated {
            let _ = std::fs::remove_dir(d.join("c1"));
            let _ = std::fs::remove_dir(d);
        }
    };
    if code != 0 {
        cleanup();
    }
    assert_eq!(code, 0, "{err}");
    if let Some(p) = &pids_dir {
        assert!(
            !p.join("c1").exists(),
            "the container's cgroup is removed with it"
        );
    }
    // hugetlb lives in the undelegated hierarchy only on a hybrid host like these.
    let hugetlb_elsewhere = !delegated
        .iter()
        .any(|d| d.parent().unwrap().ends_with("hugetlb"));
    if hugetlb_elsewhere && v2.is_some() {
        let mut b = rootless_bundle(u, &["true"]);
        b.config["linux"]["cgroupsPath"] = json!(format!("/{name}/c2"));
        b.config["linux"]["resources"] =
            json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]});
        b.write();
        let (code, _, err) = run_as(u, xdg.path(), &b, &unique("rl-partial"));
        assert_ne!(code, 0);
        assert!(
            err.contains("cannot set hugepageLimits limit") && err.contains("hugetlb"),
            "{err}"
        );
    }
    cleanup();
}
