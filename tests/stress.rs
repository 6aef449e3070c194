//! Long runs: 1,000 create/start/delete cycles leave the host as it was; 200 containers
//! created, started and deleted at once; commands racing on one id. Needs root.
//!
//! These are `#[ignore]`d in the plain test run and run by `make test-stress` (part of
//! `make test`): `cargo test -p husk-e2e --test stress -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use husk_e2e::*;

/// What a user would look at to see if husk leaked anything.
#[derive(Debug, PartialEq, Eq)]
struct HostSnapshot {
    mounts: String,
    /// Entries of husk's parent cgroup (`<own>/husk`) in every hierarchy.
    husk_cgroups: Vec<String>,
    /// Open fds of this test process (husk's parent).
    fds: usize,
    /// Zombie children of this test process.
    zombies: usize,
}

fn snapshot() -> HostSnapshot {
    let mut husk_cgroups = vec![];
    for dir in cgroup_dirs("x") {
        let parent = dir.parent().unwrap().to_path_buf();
        for e in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                husk_cgroups.push(e.path().display().to_string());
            }
        }
    }
    husk_cgroups.sort();
    let me = std::process::id().to_string();
    let zombies = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let rest: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            rest.first() == Some(&"Z") && rest.get(1) == Some(&me.as_str())
        })
        .count();
    HostSnapshot {
        mounts: mount_table(),
        husk_cgroups,
        fds: std::fs::read_dir("/proc/self/fd").unwrap().count(),
        zombies,
    }
}

/// Processes whose environment holds `marker` (husk's children carry it until exec).
fn marked_processes(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .unwrap_or_default()
                .split(|b| *b == 0)
                .any(|v| v == marker.as_bytes())
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?} {}",
        out.status,
        text(&out.stderr)
    );
}

#[test]
#[ignore = "long: make test-stress"]
fn a_thousand_cycles_leave_the_host_as_it_was() {
    skip_unless_root!();
    const CYCLES: usize = 1000;
    let b = TestBundle::busybox(&["true"]);
    let h = Husk::new();
    let marker = format!("HUSK_STRESS={}", std::process::id());
    let (k, v) = marker.split_once('=').unwrap();
    let before = snapshot();
    for i in 0..CYCLES {
        let id = format!("cycle-{i}");
        ok(
            &run_to_files(
                h.cmd()
                    .args(["create", "--bundle", b.path().to_str().unwrap(), &id])
                    .env(k, v),
            ),
            &id,
        );
        ok(&run_to_files(h.cmd().args(["start", &id]).env(k, v)), &id);
        wait_for(|| h.state(&id)["status"] == "stopped", "exit");
        ok(&run_to_files(h.cmd().args(["delete", &id]).env(k, v)), &id);
    }
    let after = snapshot();
    assert_eq!(after, before, "the host changed over {CYCLES} cycles");
    assert!(
        std::fs::read_dir(h.root.path()).unwrap().next().is_none(),
        "state left under --root"
    );
    assert!(marked_processes(&marker).is_empty(), "processes left");
    eprintln!("{CYCLES} create/start/delete cycles: host unchanged");
}

#[test]
#[ignore = "long: make test-stress"]
fn two_hundred_containers_at_once() {
    skip_unless_root!();
    const N: usize = 200;
    // One rootfs, one bundle per container: each carries its own id in an annotation and
    // prints it, so that mixed-up state or output shows.
    let shared = TestBundle::busybox(&["true"]);
    let bundles = TempDir::new("husk-stress-bundles");
    let h = Arc::new(Husk::new());
    let before = snapshot();
    let mut paths: Vec<(String, PathBuf)> = vec![];
    for i in 0..N {
        let id = format!("par-{i}");
        let dir = bundles.path().join(&id);
        std::fs::create_dir(&dir).unwrap();
        let mut c = shared.config.clone();
        c["root"]["path"] = json!(shared.rootfs());
        c["root"]["readonly"] = json!(true);
        c["annotations"] = json!({"test.id": id});
        c["process"]["args"] = json!(["sh", "-c", format!("echo {id}; sleep 1")]);
        std::fs::write(dir.join("config.json"), c.to_string()).unwrap();
        paths.push((id, dir));
    }
    let threads: Vec<_> = paths
        .into_iter()
        .map(|(id, dir)| {
            let h = Arc::clone(&h);
            std::thread::spawn(move || one_parallel(&h, &id, &dir))
        })
        .collect();
    let failures: Vec<String> = threads
        .into_iter()
        .filter_map(|t| t.join().unwrap().err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed: {failures:#?}",
        failures.len()
    );
    assert_eq!(snapshot(), before);
    assert!(std::fs::read_dir(h.root.path()).unwrap().next().is_none());
    eprintln!("{N} containers in parallel: all ran, none mixed, nothing left");
}

fn one_parallel(h: &Husk, id: &str, bundle: &Path) -> Result<(), String> {
    let check = |out: &Output, what: &str| -> Result<(), String> {
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{id} {what}: {}", text(&out.stderr)))
        }
    };
    // create's stdout is the container's.
    let created = run_to_files(
        h.cmd()
            .args(["create", "--bundle", bundle.to_str().unwrap(), id]),
    );
    check(&created, "create")?;
    check(&h.run(&["start", id]), "start")?;
    let state: Value = serde_json::from_slice(&h.run(&["state", id]).stdout)
        .map_err(|e| format!("{id} state: {e}"))?;
    if state["id"] != id || state["annotations"]["test.id"] != id {
        return Err(format!("{id}: state of another container: {state}"));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = h.run(&["state", id]);
        if text(&out.stdout).contains("\"stopped\"") {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("{id}: did not stop"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    check(&h.run(&["delete", id]), "delete")?;
    Ok(())
}

#[test]
#[ignore = "long: make test-stress"]
fn commands_racing_on_one_id_never_corrupt_it() {
    skip_unless_root!();
    let b = TestBundle::busybox(&["sleep", "600"]);
    let h = Arc::new(Husk::new());
    let before = snapshot();
    for round in 0..20 {
        let id = format!("race-{round}");
        h.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
        let ops: Vec<Vec<String>> = [
            vec!["start"],
            vec!["start"],
            vec!["state"],
            vec!["state"],
            vec!["kill", "KILL"],
            vec!["delete"],
            vec!["delete", "--force"],
            vec!["state"],
        ]
        .iter()
        .map(|op| {
            let mut v: Vec<String> = op.iter().map(|s| s.to_string()).collect();
            let pos = if v[0] == "kill" { 1 } else { v.len() };
            v.insert(pos, id.clone());
            v
        })
        .collect();
        let threads: Vec<_> = ops
            .into_iter()
            .map(|args| {
                let h = Arc::clone(&h);
                std::thread::spawn(move || {
                    let a: Vec<&str> = args.iter().map(String::as_str).collect();
                    (args.clone(), h.run(&a))
                })
            })
            .collect();
        for t in threads {
            let (args, out) = t.join().unwrap();
            // Either it worked, or husk said why and exited 1: never a crash or a panic.
            match out.status.code() {
                Some(0) => {
                    if args[0] == "state" {
                        let v: Value = serde_json::from_slice(&out.stdout)
                            .unwrap_or_else(|e| panic!("{args:?}: bad state JSON: {e}"));
                        assert_eq!(v["id"], id.as_str());
                    }
                }
                Some(1) => assert!(
                    text(&out.stderr).contains("husk: "),
                    "{args:?}: failed without a message: {}",
                    text(&out.stderr)
                ),
                other => panic!("{args:?}: exit {other:?}: {}", text(&out.stderr)),
            }
        }
        // Whatever won, the id is either gone or has a readable state, and a forced delete
        // finishes it.
        let state_file = h.root.path().join(&id).join("state.json");
        if state_file.exists() {
            let _: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap())
                .expect("state.json is whole");
        }
        let out = h.run(&["delete", "--force", &id]);
        ok(&out, "final delete --force");
        h.assert_no_trace(&id);
    }
    assert_eq!(snapshot(), before);
}
