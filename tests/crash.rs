//! husk killed with SIGKILL at every stage of `create` and `delete` (the debug build's
//! HUSK_CRASH_AT, see crates/container/src/crash_point.rs), and a foreground `run` killed
//! under a running container: afterwards `delete` removes every trace and the id can be used
//! again. Needs root.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use husk_e2e::*;

const CREATE_STAGES: &[&str] = &[
    "state-dir",
    "cgroup",
    "forked",
    "mapped",
    "init-pid",
    "hook-createRuntime",
    "ready",
    "saved",
];

/// Processes that carry `marker` in their environment (husk's own children before exec) or
/// sit in a cgroup of container `id`.
fn leftovers(id: &str, marker: &str) -> Vec<String> {
    let cgroup_tail = format!("/husk/{id}");
    let mut found = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<i32>().is_err() {
            continue;
        }
        let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
        let in_env = env.split(|b| *b == 0).any(|v| v == marker.as_bytes());
        let cg = std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
        let in_cgroup = cg.lines().any(|l| l.ends_with(&cgroup_tail));
        let zombie = std::fs::read_to_string(e.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false);
        if (in_env || in_cgroup) && !zombie {
            found.push(name);
        }
    }
    found
}

fn bundle_with_hook(args: &[&str]) -> TestBundle {
    let mut b = TestBundle::busybox(args);
    // A createRuntime hook that takes a moment, so that "while hooks run" is a real window.
    b.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "sleep 0.2"]}]});
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    b.write();
    b
}

fn assert_clean(h: &Husk, id: &str, marker: &str, mounts_before: &str, when: &str) {
    h.assert_no_trace(id);
    wait_for(
        || leftovers(id, marker).is_empty(),
        &format!("{when}: processes of {id} to go"),
    );
    assert_eq!(
        mount_table(),
        mounts_before,
        "{when}: host mount table changed"
    );
}

#[test]
fn create_killed_at_every_stage_is_cleaned_up_by_delete() {
    skip_unless_root!();
    let b = bundle_with_hook(&["true"]);
    let mounts_before = mount_table();
    for stage in CREATE_STAGES {
        let h = Husk::new();
        let id = unique("crash");
        let marker = format!("HUSK_CRASH_TEST={id}");
        let out = run_to_files(
            h.cmd()
                .args(["create", "--bundle", b.path().to_str().unwrap(), &id])
                .env("HUSK_CRASH_AT", stage)
                .env("HUSK_CRASH_TEST", &id),
        );
        assert_eq!(
            out.status.signal(),
            Some(9),
            "{stage}: husk was not killed there: {:?} {}",
            out.status,
            text(&out.stderr)
        );
        // The container is listed, reported as a create that did not finish (stopped) or,
        // once the state was saved, as created.
        let list = h.ok(&["list", "--format", "json"]);
        let list: Value = serde_json::from_str(&list).unwrap();
        let entry = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{stage}: {id} not listed: {list}"));
        let want = if *stage == "saved" {
            "created"
        } else {
            "stopped"
        };
        assert_eq!(entry["status"], want, "{stage}");

        let out = h.run(&["delete", "--force", &id]);
        assert!(
            out.status.success(),
            "{stage}: delete --force: {}",
            text(&out.stderr)
        );
        assert_clean(&h, &id, &marker, &mounts_before, stage);

        // The id is free again: a whole lifecycle on it works.
        h.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
        h.ok(&["start", &id]);
        wait_for(
            || h.state(&id)["status"] == "stopped",
            "the container to exit",
        );
        h.ok(&["delete", &id]);
        assert_clean(&h, &id, &marker, &mounts_before, stage);
    }
}

/// Every cgroup directory on the host whose path names `id`.
fn cgroup_dirs_naming(id: &str) -> Vec<String> {
    fn walk(dir: &std::path::Path, id: &str, depth: usize, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let p = e.path();
            if e.file_name().to_string_lossy().contains(id) {
                out.push(p.display().to_string());
            }
            if depth < 6 {
                walk(&p, id, depth + 1, out);
            }
        }
    }
    let mut out = vec![];
    walk(std::path::Path::new("/sys/fs/cgroup"), id, 0, &mut out);
    out
}

#[test]
fn create_killed_at_any_moment_is_cleaned_up_by_delete() {
    skip_unless_root!();
    // Not only the named stages: SIGKILL lands anywhere in the first milliseconds, where the
    // cgroup is being made, at delays from 0 to 15 ms in steps of 0.25 ms.
    let mut b = TestBundle::busybox(&["true"]);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 50}});
    b.write();
    let mounts_before = mount_table();
    let h = Husk::new();
    for step in 0..60u64 {
        let id = unique("killed");
        let marker = format!("HUSK_CRASH_TEST={id}");
        let mut child = h
            .cmd()
            .args(["create", "--bundle", b.path().to_str().unwrap(), &id])
            .env("HUSK_CRASH_TEST", &id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(step * 250));
        let _ = child.kill();
        let _ = child.wait();
        let out = h.run(&["delete", "--force", &id]);
        assert!(
            out.status.success(),
            "killed after {} us: delete --force: {}",
            step * 250,
            text(&out.stderr)
        );
        let when = format!("killed after {} us", step * 250);
        assert_clean(&h, &id, &marker, &mounts_before, &when);
        assert_eq!(cgroup_dirs_naming(&id), Vec::<String>::new(), "{when}");
    }
}

#[test]
fn delete_killed_half_way_is_finished_by_the_next_delete() {
    skip_unless_root!();
    let b = bundle_with_hook(&["sleep", "600"]);
    let mounts_before = mount_table();
    for stage in ["delete-killed", "delete-cgroup"] {
        let h = Husk::new();
        let id = unique("crash-del");
        let marker = format!("HUSK_CRASH_TEST={id}");
        h.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
        h.ok(&["start", &id]);
        let out = run_to_files(
            h.cmd()
                .args(["delete", "--force", &id])
                .env("HUSK_CRASH_AT", stage),
        );
        assert_eq!(out.status.signal(), Some(9), "{stage}: {:?}", out.status);
        assert_eq!(h.state(&id)["status"], "stopped", "{stage}");
        // A plain delete (no --force) finishes it.
        let out = h.run(&["delete", &id]);
        assert!(out.status.success(), "{stage}: {}", text(&out.stderr));
        assert_clean(&h, &id, &marker, &mounts_before, stage);
    }
}

#[test]
fn a_killed_foreground_run_leaves_its_container_manageable() {
    skip_unless_root!();
    let b = TestBundle::busybox(&["sleep", "600"]);
    let h = Husk::new();
    let id = unique("crash-run");
    let mut run = h
        .cmd()
        .args(["run", "--bundle", b.path().to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        || {
            let out = h.run(&["state", &id]);
            out.status.success() && text(&out.stdout).contains("\"running\"")
        },
        "the container to run",
    );
    run.kill().unwrap();
    run.wait().unwrap();
    // From any other husk: state, exec, kill and delete all work.
    assert_eq!(h.state(&id)["status"], "running");
    assert_eq!(h.ok(&["exec", &id, "echo", "still here"]), "still here\n");
    h.ok(&["kill", &id, "KILL"]);
    wait_for(
        || h.state(&id)["status"] == "stopped",
        "the container to stop",
    );
    h.ok(&["delete", &id]);
    h.assert_no_trace(&id);
}
