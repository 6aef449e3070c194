//! `husk checkpoint` and `husk restore`, checked where a user checks them: the restored
//! process's own output (it goes on counting where it stopped), `husk state`, the cgroup
//! files, `exec`, `kill` and `delete` on the restored container.
//!
//! Debian's criu 3.17 cannot dump on these machines' kernel (6.18): the cases that run CRIU
//! are `#[ignore]`d here and run by `make test-checkpoint` in a cgroup v2 guest on Debian's
//! 6.1 kernel (integration/cgroupv2/run.sh --checkpoint), ignored ones included. The error
//! cases husk decides before CRIU runs are not ignored. Needs root.

use std::io::{BufRead, BufReader};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use husk_e2e::*;

/// A container whose stdio are pipes the test holds (CRIU cannot save a file outside the
/// container, such as the test's own log): lines of its stdout arrive on `lines`.
struct Piped {
    /// Held so that the container's stdin stays open, as a shell's would.
    _stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Piped {
    /// The next line, within 30 s (qemu without kvm is slow).
    fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no output from the container; husk said: {}", self.err()))
    }

    /// Every line until the writers are gone.
    fn rest(&self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(30)) {
            out.push(l);
        }
        out
    }

    /// What husk (and after it the container) wrote to stderr so far.
    fn err(&self) -> String {
        std::thread::sleep(Duration::from_millis(100));
        self.stderr.lock().unwrap().clone()
    }
}

/// Run husk with `args`, its stdin and stdout pipes held by the test (passed on to the
/// container it starts), its stderr in a file; wait for husk alone.
fn husk_with_pipes(h: &Husk, args: &[&str]) -> (std::process::ExitStatus, Piped) {
    let mut child: Child = h
        .cmd()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let (mut from, into) = (child.stderr.take().unwrap(), stderr.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = std::io::Read::read(&mut from, &mut buf) {
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let stdin = child.stdin.take();
    let status = child.wait().unwrap();
    (
        status,
        Piped {
            _stdin: stdin,
            lines,
            stderr,
        },
    )
}

const COUNTER: &str = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done";

/// A busybox bundle that counts on stdout, with a pids limit to find in its cgroup.
fn counting_bundle() -> TestBundle {
    let mut b = TestBundle::busybox(&["sh", "-c", COUNTER]);
    b.config["linux"]["resources"]["pids"] = json!({"limit": 57});
    b.write();
    b
}

/// `run -d` with the container's stdio on pipes the test holds.
fn start_with_pipes(h: &Husk, b: &TestBundle, id: &str) -> Piped {
    let bundle = b.path().to_str().unwrap();
    let (status, piped) = husk_with_pipes(h, &["run", "-d", "-b", bundle, id]);
    assert!(status.success(), "run -d: {}", piped.err());
    piped
}

fn start_counting(h: &Husk, b: &TestBundle, id: &str) -> Piped {
    let piped = start_with_pipes(h, b, id);
    let first: i64 = piped.line().trim().parse().unwrap();
    assert_eq!(first, 0);
    piped
}

fn checkpoint(h: &Husk, id: &str, images: &Path, extra: &[&str]) {
    let mut args = vec!["checkpoint", "--image-path", images.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(id);
    let out = h.run(&args);
    assert!(out.status.success(), "checkpoint: {}", text(&out.stderr));
    if extra.contains(&"--debug") {
        let err = text(&out.stderr);
        assert!(err.contains("level=debug") && err.contains("CRIU"), "{err}");
    }
}

fn restore_with_pipes(h: &Husk, b: &TestBundle, id: &str, images: &Path, extra: &[&str]) -> Piped {
    let bundle = b.path().to_str().unwrap();
    let mut args = vec![
        "restore",
        "-d",
        "-b",
        bundle,
        "--image-path",
        images.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push(id);
    let (status, piped) = husk_with_pipes(h, &args);
    let log = std::fs::read_to_string(images.join("restore.log")).unwrap_or_default();
    let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
    assert!(
        status.success(),
        "restore: {}\nrestore.log (last lines, reversed):\n{tail}",
        piped.err()
    );
    piped
}

/// A running container that sleeps, for the cases husk decides before CRIU runs.
fn sleeping(h: &Husk, prefix: &str) -> (TestBundle, String) {
    let b = TestBundle::busybox(&["sleep", "100"]);
    let id = unique(prefix);
    h.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    (b, id)
}

/// A husk with its own state root, a scratch directory, the image directory in it, an id.
fn scene(prefix: &str) -> (Husk, TempDir, PathBuf, String) {
    let work = TempDir::new("husk-cr");
    let images = work.path().join("images");
    (Husk::new(), work, images, unique(prefix))
}

/// A restored container is husk's as any other: running with its new pid, in its cgroup with
/// its limits, `exec` and `kill` work, `delete` leaves nothing.
fn assert_restored_is_a_container(h: &Husk, id: &str) {
    let state = h.state(id);
    assert_eq!(state["status"], "running", "{state}");
    let pid = state["pid"].as_i64().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let rel = cg.trim().trim_start_matches("0::");
    let dir = Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    assert!(
        rel.contains(id),
        "the restored init is in {rel}, not the container's cgroup"
    );
    let max = std::fs::read_to_string(dir.join("pids.max")).unwrap();
    assert_eq!(max.trim(), "57", "pids limit in {}", dir.display());
    assert_eq!(h.ok(&["exec", id, "echo", "exec-ok"]).trim(), "exec-ok");
    h.ok(&["kill", id, "KILL"]);
    wait_for(
        || h.state(id)["status"] == "stopped",
        "the restored container to stop",
    );
    h.ok(&["delete", id]);
    h.assert_no_trace(id);
}

fn numbers(lines: &[String]) -> Vec<i64> {
    lines.iter().filter_map(|l| l.trim().parse().ok()).collect()
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn a_counting_busybox_goes_on_where_it_stopped() {
    skip_unless_root!();
    let h = Husk::new();
    let b = counting_bundle();
    let work = TempDir::new("husk-cr");
    let images = work.path().join("images");
    let id = unique("cr");
    let before = start_counting(&h, &b, &id);
    let _ = before.line();
    checkpoint(&h, &id, &images, &[]);
    // The container is gone, as runc's: its state with it.
    assert!(!h.run(&["state", &id]).status.success());
    let last = *numbers(&before.rest()).last().unwrap_or(&1);
    let after = restore_with_pipes(&h, &b, &id, &images, &[]);
    let next: i64 = after.line().trim().parse().unwrap();
    assert_eq!(next, last + 1, "the restored process counts on from {last}");
    assert_restored_is_a_container(&h, &id);
}

#[test]
fn checkpoint_without_criu_says_so_and_the_container_runs_on() {
    skip_unless_root!();
    let h = Husk::new();
    let (_b, id) = sleeping(&h, "nocriu");
    let work = TempDir::new("husk-cr");
    let images = work.path().join("images");
    let out = h.run(&[
        "--criu",
        "/nonexistent/criu",
        "checkpoint",
        "--image-path",
        images.to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("/nonexistent/criu") && err.contains("CRIU"),
        "{err}"
    );
    assert_eq!(h.state(&id)["status"], "running");
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn a_created_container_cannot_be_checkpointed() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let id = unique("created");
    h.ok(&["create", "-b", b.path().to_str().unwrap(), &id]);
    let out = h.run(&["checkpoint", "--image-path", "/nonexistent-images", &id]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("created") && err.contains("not running"),
        "{err}"
    );
    assert!(!Path::new("/nonexistent-images").exists());
    h.ok(&["delete", "--force", &id]);
}

/// Checkpoint a counting container and restore it (with the extra flags given to each);
/// the restored process counts on from where it stopped, and is a container as any other.
fn counts_on_after(b: &TestBundle, dump: &[&str], restore: &[&str]) -> Husk {
    let (h, _work, images, id) = scene("cr");
    let before = start_counting(&h, b, &id);
    let _ = before.line();
    checkpoint(&h, &id, &images, dump);
    assert!(
        !h.run(&["state", &id]).status.success(),
        "checkpointed: the container is gone"
    );
    let last = *numbers(&before.rest()).last().unwrap_or(&1);
    let after = restore_with_pipes(&h, b, &id, &images, restore);
    let next: i64 = after.line().trim().parse().unwrap();
    assert_eq!(next, last + 1, "the restored process counts on from {last}");
    assert_restored_is_a_container(&h, &id);
    h
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn with_debug() {
    skip_unless_root!();
    counts_on_after(&counting_bundle(), &["--debug"], &["--debug"]);
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn a_bind_mount_whose_destination_is_a_symlink() {
    skip_unless_root!();
    let mut b = counting_bundle();
    std::fs::create_dir_all(b.rootfs().join("real/conf")).unwrap();
    std::os::unix::fs::symlink("/real/conf", b.rootfs().join("conf")).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"source": ".", "destination": "/conf", "options": ["bind"]}));
    b.write();
    counts_on_after(&b, &[], &[]);
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn with_a_cgroup_namespace() {
    skip_unless_root!();
    let mut b = counting_bundle();
    add_cgroup_namespace(&mut b.config);
    b.write();
    counts_on_after(&b, &[], &[]);
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn nested_bind_mounts_whose_mount_points_were_removed() {
    skip_unless_root!();
    let mut b = counting_bundle();
    let outer = TempDir::new("husk-outer");
    let inner = TempDir::new("husk-inner");
    std::fs::write(inner.path().join("marker"), "inner").unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"type": "bind", "source": outer.path(), "destination": "/test", "options": ["rw", "bind"]}));
    mounts.push(json!({"type": "bind", "source": inner.path(), "destination": "/test/for/nested", "options": ["rw", "bind"]}));
    b.write();
    let (h, _work, images, id) = scene("nested");
    let before = start_counting(&h, &b, &id);
    checkpoint(&h, &id, &images, &[]);
    let _ = before.rest();
    // The mount point create made inside the outer source: restore must make it again.
    std::fs::remove_dir_all(outer.path().join("for")).unwrap();
    let _after = restore_with_pipes(&h, &b, &id, &images, &[]);
    assert_eq!(
        h.ok(&["exec", &id, "cat", "/test/for/nested/marker"])
            .trim(),
        "inner"
    );
    assert_restored_is_a_container(&h, &id);
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn pre_dump_then_checkpoint_then_restore() {
    skip_unless_root!();
    let b = counting_bundle();
    let h = Husk::new();
    let work = TempDir::new("husk-cr");
    let (pre, images) = (work.path().join("pre"), work.path().join("images"));
    let id = unique("predump");
    let before = start_counting(&h, &b, &id);
    checkpoint(&h, &id, &pre, &["--pre-dump"]);
    assert_eq!(
        h.state(&id)["status"],
        "running",
        "a pre-dump leaves it running"
    );
    let seen: i64 = before.line().trim().parse().unwrap();
    checkpoint(&h, &id, &images, &["--parent-path", "../pre"]);
    let last = *numbers(&before.rest()).last().unwrap_or(&seen);
    assert!(last >= seen);
    // A pre-dump is not a checkpoint to restore from.
    let out = h.run(&[
        "restore",
        "-d",
        "-b",
        b.path().to_str().unwrap(),
        "--image-path",
        pre.to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("pre-dump"),
        "{}",
        text(&out.stderr)
    );
    h.assert_no_trace(&id);
    let after = restore_with_pipes(&h, &b, &id, &images, &[]);
    let next: i64 = after.line().trim().parse().unwrap();
    assert_eq!(next, last + 1);
    assert_restored_is_a_container(&h, &id);
}

#[test]
fn a_bad_parent_path_is_refused_and_the_container_runs_on() {
    skip_unless_root!();
    let h = Husk::new();
    let (_b, id) = sleeping(&h, "badparent");
    let work = TempDir::new("husk-cr");
    let images = work.path().join("images");
    let absolute = work.path().join("parent-dir");
    for parent in [absolute.to_str().unwrap(), "./parent-dir"] {
        let out = h.run(&[
            "checkpoint",
            "--pre-dump",
            "--parent-path",
            parent,
            "--image-path",
            images.to_str().unwrap(),
            &id,
        ]);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.contains("--parent-path") && err.contains("parent-dir"),
            "{err}"
        );
        assert_eq!(h.state(&id)["status"], "running");
    }
    h.ok(&["delete", "--force", &id]);
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn leave_running_then_restore_under_another_id() {
    skip_unless_root!();
    let b = counting_bundle();
    let (h, _work, images, id) = scene("leave");
    let before = start_counting(&h, &b, &id);
    checkpoint(&h, &id, &images, &["--leave-running"]);
    assert_eq!(h.state(&id)["status"], "running");
    // The original counts on past the checkpoint: what it reaches bounds what was saved.
    let until = std::time::Instant::now() + Duration::from_secs(3);
    let mut reached = 0;
    while std::time::Instant::now() < until {
        reached = before.line().trim().parse().unwrap_or(reached);
    }
    assert!(
        reached > 5,
        "it goes on counting after a --leave-running checkpoint"
    );
    // The same id is taken: restoring onto it is refused, and leaves it alone.
    let out = h.run(&[
        "restore",
        "-d",
        "-b",
        b.path().to_str().unwrap(),
        "--image-path",
        images.to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(h.state(&id)["status"], "running");
    h.ok(&["delete", "--force", &id]);
    let other = unique("other");
    let after = restore_with_pipes(&h, &b, &other, &images, &[]);
    let next: i64 = after.line().trim().parse().unwrap();
    assert!(
        next >= 1 && next < reached,
        "restored from the checkpoint: {next} (the original reached {reached})"
    );
    let then: i64 = after.line().trim().parse().unwrap();
    assert_eq!(then, next + 1, "and counts on from there");
    assert_restored_is_a_container(&h, &other);
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn a_container_specific_criu_config() {
    skip_unless_root!();
    let mut b = counting_bundle();
    let conf = TempDir::new("husk-criu-conf");
    let file = conf.path().join("criu.conf");
    std::fs::write(&file, "log-file=from-annotation.log\n").unwrap();
    b.config["annotations"] = json!({"org.criu.config": file});
    b.write();
    let h = Husk::new();
    let work = TempDir::new("husk-cr");
    let (images, logs) = (work.path().join("images"), work.path().join("work"));
    let id = unique("criuconf");
    let before = start_counting(&h, &b, &id);
    checkpoint(&h, &id, &images, &["--work-path", logs.to_str().unwrap()]);
    assert!(
        logs.join("from-annotation.log").exists(),
        "CRIU read the annotation's config"
    );
    assert!(!logs.join("dump.log").exists());
    std::fs::remove_file(logs.join("from-annotation.log")).unwrap();
    let _ = before.rest();
    let _after = restore_with_pipes(
        &h,
        &b,
        &id,
        &images,
        &["--work-path", logs.to_str().unwrap()],
    );
    assert!(logs.join("from-annotation.log").exists());
    assert_restored_is_a_container(&h, &id);
}

/// A server and a client on loopback in the container: the client sends the count, the
/// server prints what it gets. (busybox's nc ends a connection when its stdin ends: the
/// server is given one that does not.)
const TCP_PAIR: &str = "sleep 100000 | nc -l -p 7777 | while read l; do echo $l; done & \
                        sleep 1; i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done \
                        | nc 127.0.0.1 7777";

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn an_established_tcp_connection_on_loopback() {
    skip_unless_root!();
    let mut b = TestBundle::busybox(&["sh", "-c", TCP_PAIR]);
    b.config["linux"]["resources"]["pids"] = json!({"limit": 57});
    b.write();
    let (h, _work, images, id) = scene("tcp");
    let before = start_with_pipes(&h, &b, &id);
    let _ = before.line();
    // Without --tcp-established CRIU refuses the connection, and the container runs on.
    let out = h.run(&["checkpoint", "--image-path", images.to_str().unwrap(), &id]);
    assert!(
        !out.status.success(),
        "an established connection needs --tcp-established"
    );
    assert_eq!(h.state(&id)["status"], "running");
    let _ = before.line();
    checkpoint(&h, &id, &images, &["--tcp-established"]);
    let last = *numbers(&before.rest()).last().unwrap();
    let after = restore_with_pipes(&h, &b, &id, &images, &["--tcp-established"]);
    let next: i64 = after.line().trim().parse().unwrap();
    assert_eq!(next, last + 1, "the connection carries the count on");
    assert_restored_is_a_container(&h, &id);
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn a_file_lock_with_file_locks() {
    skip_unless_root!();
    // busybox has no flock: util-linux's, with the libraries it links, from the guest.
    let script = format!("/usr/bin/flock /tmp/lock sh -c '{COUNTER}'");
    let mut b = TestBundle::busybox(&["sh", "-c", &script]);
    b.config["linux"]["resources"]["pids"] = json!({"limit": 57});
    b.config["root"]["readonly"] = json!(false);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    for path in ["/usr/bin/flock", "/lib", "/lib64"] {
        mounts.push(json!({"type": "bind", "source": path, "destination": path, "options": ["rbind", "ro"]}));
    }
    b.write();
    let (h, _work, images, id) = scene("flock");
    let before = start_counting(&h, &b, &id);
    let out = h.run(&["checkpoint", "--image-path", images.to_str().unwrap(), &id]);
    assert!(!out.status.success(), "a held lock needs --file-locks");
    checkpoint(&h, &id, &images, &["--file-locks"]);
    let last = *numbers(&before.rest()).last().unwrap();
    let after = restore_with_pipes(&h, &b, &id, &images, &["--file-locks"]);
    let next: i64 = after.line().trim().parse().unwrap();
    assert_eq!(next, last + 1);
    let out = h.run(&["exec", &id, "/usr/bin/flock", "-n", "/tmp/lock", "true"]);
    assert!(
        !out.status.success(),
        "the restored process holds the lock again"
    );
    assert_restored_is_a_container(&h, &id);
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn a_terminal_restored_through_the_console_socket() {
    skip_unless_root!();
    let mut b = counting_bundle();
    b.config["process"]["terminal"] = json!(true);
    b.write();
    let (h, work, images, id) = scene("tty");
    let (socket, listener) = console_socket(work.path(), "before.sock");
    let bundle = b.path().to_str().unwrap();
    h.ok(&[
        "run",
        "-d",
        "--console-socket",
        socket.to_str().unwrap(),
        "-b",
        bundle,
        &id,
    ]);
    let master = pty_lines(&listener);
    let _ = master
        .recv_timeout(Duration::from_secs(30))
        .expect("output on the pty");
    checkpoint(&h, &id, &images, &[]);
    let mut last = 0;
    while let Ok(l) = master.recv_timeout(Duration::from_secs(5)) {
        last = l.trim().parse().unwrap_or(last);
    }
    let (socket, listener) = console_socket(work.path(), "after.sock");
    let pid_file = work.path().join("pid");
    h.ok(&[
        "restore",
        "-d",
        "--console-socket",
        socket.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        "-b",
        bundle,
        "--image-path",
        images.to_str().unwrap(),
        &id,
    ]);
    let master = pty_lines(&listener);
    let next: i64 = master
        .recv_timeout(Duration::from_secs(30))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(next, last + 1, "the new terminal shows the count going on");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(
        json!(pid.trim().parse::<i64>().unwrap()),
        h.state(&id)["pid"]
    );
    assert_restored_is_a_container(&h, &id);
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn an_image_directory_that_cannot_be_restored_leaves_nothing() {
    skip_unless_root!();
    let h = Husk::new();
    let b = counting_bundle();
    let work = TempDir::new("husk-cr");
    let empty = work.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let bundle = b.path().to_str().unwrap();
    let id = unique("badimage");
    let out = h.run(&[
        "restore",
        "-d",
        "-b",
        bundle,
        "--image-path",
        empty.to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no checkpoint"),
        "{}",
        text(&out.stderr)
    );
    h.assert_no_trace(&id);
    // A checkpoint of another container: its rootfs is not this bundle's.
    let images = work.path().join("images");
    let before = start_counting(&h, &b, &id);
    checkpoint(&h, &id, &images, &[]);
    let _ = before.rest();
    let other = counting_bundle();
    let out = h.run(&[
        "restore",
        "-d",
        "-b",
        other.path().to_str().unwrap(),
        "--image-path",
        images.to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("rootfs") && err.contains(&id), "{err}");
    h.assert_no_trace(&id);
}

#[test]
fn lsm_options_are_refused_with_a_reason() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["true"]);
    let id = unique("lsm");
    let out = h.run(&[
        "restore",
        "-d",
        "--lsm-profile",
        "apparmor:x",
        "-b",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("AppArmor"),
        "{}",
        text(&out.stderr)
    );
    h.assert_no_trace(&id);
}

fn console_socket(dir: &Path, name: &str) -> (PathBuf, UnixListener) {
    let path = dir.join(name);
    let l = UnixListener::bind(&path).unwrap();
    (path, l)
}

/// The pty master sent to `listener`, read line by line in a thread.
fn pty_lines(listener: &UnixListener) -> Receiver<String> {
    let (stream, _) = listener.accept().unwrap();
    let (master, _) = receive_fd(&stream);
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let f = std::fs::File::from(master);
        for l in BufReader::new(f).lines() {
            let Ok(l) = l else { break };
            if tx.send(l.trim_end_matches('\r').to_string()).is_err() {
                break;
            }
        }
    });
    rx
}

/// tests/bin/fake_criu.rs: answers VERSION and FEATURE_CHECK as told by its environment.
/// In the guest it is where HUSK_FAKE_CRIU says (integration/cgroupv2/run.sh copies it in).
fn fake_criu() -> String {
    std::env::var("HUSK_FAKE_CRIU").unwrap_or_else(|_| env!("CARGO_BIN_EXE_fake-criu").into())
}

#[test]
fn a_criu_too_old_is_named_and_nothing_changes() {
    skip_unless_root!();
    let h = Husk::new();
    let (b, id) = sleeping(&h, "oldcriu");
    let work = TempDir::new("husk-cr");
    let images = work.path().join("images");
    let out = run_to_files(
        h.cmd()
            .env("FAKE_CRIU_VERSION", "20900")
            .args(["--criu", &fake_criu(), "checkpoint", "--image-path"])
            .arg(&images)
            .arg(&id),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("CRIU 2.9.0 is too old") && err.contains("3.0.0"),
        "{err}"
    );
    assert_eq!(h.state(&id)["status"], "running");
    // Nor is a restore attempted with it: nothing is made.
    let other = unique("oldcriu");
    let out = run_to_files(
        h.cmd()
            .env("FAKE_CRIU_VERSION", "20900")
            .args(["--criu", &fake_criu(), "restore", "-d", "-b"])
            .arg(b.path())
            .arg("--image-path")
            .arg(&images)
            .arg(&other),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("too old"),
        "{}",
        text(&out.stderr)
    );
    h.assert_no_trace(&other);
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn a_pre_dump_without_memory_tracking_says_so() {
    skip_unless_root!();
    let h = Husk::new();
    let (_b, id) = sleeping(&h, "notrack");
    let work = TempDir::new("husk-cr");
    let images = work.path().join("pre");
    let out = run_to_files(
        h.cmd()
            .env("FAKE_CRIU_MEM_TRACK", "0")
            .args([
                "--criu",
                &fake_criu(),
                "checkpoint",
                "--pre-dump",
                "--image-path",
            ])
            .arg(&images)
            .arg(&id),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--pre-dump needs memory change tracking"),
        "{err}"
    );
    assert!(err.contains("mem_dirty_track"), "{err}");
    assert_eq!(h.state(&id)["status"], "running");
    h.ok(&["delete", "--force", &id]);
}

/// busybox's logger, reading the count on its stdin, keeps one datagram socket connected to
/// /dev/log for its whole life (glibc's syslog): /dev/log is made a link to a socket outside
/// the container's process tree, so the container holds an external unix socket.
const LOGGER: &str = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done | logger -t cnt";

/// The count in one syslog datagram, "<13>Nov 30 21:00:00 cnt: 7".
fn logged(socket: &UnixDatagram) -> Option<i64> {
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).ok()?;
    let msg = String::from_utf8_lossy(&buf[..n]);
    msg.rsplit(": ").next()?.trim().parse().ok()
}

/// A datagram socket bound at `path`, made in the network namespace of process `pid`, as a
/// sidecar sharing the container's network would make it: CRIU finds a unix socket's peer
/// among the sockets of the namespaces it dumps, and only there.
fn bound_in_netns_of(pid: i64, path: &Path) -> UnixDatagram {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        UnixDatagram::bind(path).unwrap()
    })
    .join()
    .unwrap()
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn an_external_unix_socket_with_ext_unix_sk() {
    skip_unless_root!();
    let (h, work, images, id) = scene("extunix");
    // The socket's directory is at the same path inside, so that CRIU finds the peer by the
    // name it was bound with, whichever side it connects from.
    let dir = work.path().join("log");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("log.sock");
    let script = format!("ln -s {} /dev/log && {LOGGER}", path.display());
    let mut b = TestBundle::busybox(&["sh", "-c", &script]);
    b.config["linux"]["resources"]["pids"] = json!({"limit": 57});
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"type": "bind", "source": dir, "destination": dir, "options": ["bind"]}));
    b.write();
    let bundle = b.path().to_str().unwrap();
    let (status, before) = husk_with_pipes(&h, &["create", "-b", bundle, &id]);
    assert!(status.success(), "create: {}", before.err());
    let log = bound_in_netns_of(h.state(&id)["pid"].as_i64().unwrap(), &path);
    log.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    h.ok(&["start", &id]);
    assert_eq!(logged(&log), Some(0), "the count arrives on the socket");
    // Without --ext-unix-sk CRIU refuses the socket, and the container runs on.
    let out = h.run(&["checkpoint", "--image-path", images.to_str().unwrap(), &id]);
    assert!(
        !out.status.success(),
        "an external socket needs --ext-unix-sk"
    );
    assert_eq!(h.state(&id)["status"], "running");
    assert!(logged(&log).is_some(), "still logging after the refusal");
    checkpoint(&h, &id, &images, &["--ext-unix-sk"]);
    let _ = before.rest();
    let mut last = None;
    log.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    while let Some(n) = logged(&log) {
        last = Some(n);
    }
    let last = last.expect("datagrams up to the checkpoint");
    log.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _after = restore_with_pipes(&h, &b, &id, &images, &["--ext-unix-sk"]);
    assert_eq!(
        logged(&log),
        Some(last + 1),
        "the restored socket is connected to the host's again"
    );
    assert_restored_is_a_container(&h, &id);
}

/// The inode of a network namespace file, as `ls -iL` shows it.
fn inode(path: &str) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap())
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn twice_in_a_joined_network_namespace() {
    skip_unless_root!();
    let (h, _work, images, id) = scene("extnet");
    let ns = unique("ns");
    let out = std::process::Command::new("ip")
        .args(["netns", "add", &ns])
        .output()
        .unwrap();
    assert!(out.status.success(), "ip netns add: {}", text(&out.stderr));
    let path = format!("/run/netns/{ns}");
    let mut b = counting_bundle();
    for n in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "network" {
            n["path"] = json!(path);
        }
    }
    b.write();
    let mut out = start_counting(&h, &b, &id);
    for round in 0..2 {
        let _ = std::fs::remove_dir_all(&images);
        checkpoint(&h, &id, &images, &["--manage-cgroups-mode", "ignore"]);
        let last = *numbers(&out.rest()).last().unwrap();
        out = restore_with_pipes(&h, &b, &id, &images, &["--manage-cgroups-mode", "ignore"]);
        let next: i64 = out.line().trim().parse().unwrap();
        assert_eq!(next, last + 1, "round {round}");
        let pid = h.state(&id)["pid"].as_i64().unwrap();
        assert_eq!(
            inode(&format!("/proc/{pid}/ns/net")),
            inode(&path),
            "round {round}: restored into the joined namespace"
        );
    }
    assert_restored_is_a_container(&h, &id);
    let _ = std::process::Command::new("ip")
        .args(["netns", "del", &ns])
        .status();
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn restored_into_another_cgroup_with_manage_cgroups_mode_ignore() {
    skip_unless_root!();
    let (h, work, images, id) = scene("cgmove");
    let mut b = counting_bundle();
    let (first, second) = (format!("/{id}-first"), format!("/{id}-second"));
    b.config["linux"]["cgroupsPath"] = json!(first);
    b.write();
    let before = start_counting(&h, &b, &id);
    let old = Path::new("/sys/fs/cgroup").join(&first[1..]);
    assert!(old.is_dir());
    checkpoint(&h, &id, &images, &["--manage-cgroups-mode", "ignore"]);
    let last = *numbers(&before.rest()).last().unwrap();
    assert!(!old.exists(), "the checkpointed container's cgroup is gone");
    b.config["linux"]["cgroupsPath"] = json!(second);
    b.write();
    let pid_file = work.path().join("pid");
    let after = restore_with_pipes(
        &h,
        &b,
        &id,
        &images,
        &[
            "--manage-cgroups-mode",
            "ignore",
            "--pid-file",
            pid_file.to_str().unwrap(),
        ],
    );
    assert_eq!(after.line().trim().parse::<i64>().unwrap(), last + 1);
    assert!(!old.exists(), "nothing made again at the old path");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{}/cgroup", pid.trim())).unwrap();
    assert_eq!(
        cg.trim(),
        format!("0::{second}"),
        "the init is in the new cgroup"
    );
    assert_restored_is_a_container(&h, &id);
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn an_execed_process_is_restored_with_the_init() {
    skip_unless_root!();
    let (h, _work, images, id) = scene("crexec");
    let b = counting_bundle();
    let mut out = start_counting(&h, &b, &id);
    let mut execed: Option<String> = None;
    for round in 0..2 {
        let _ = std::fs::remove_dir_all(&images);
        checkpoint(&h, &id, &images, &[]);
        let _ = out.rest();
        out = restore_with_pipes(&h, &b, &id, &images, &[]);
        if let Some(pid) = &execed {
            let ls = h.run(&["exec", &id, "ls", "-ld", &format!("/proc/{pid}")]);
            assert!(ls.status.success(), "round {round}: pid {pid} came back");
        }
        let started = h.ok(&[
            "exec",
            &id,
            "sh",
            "-c",
            "sleep 1000 </dev/null >/dev/null 2>&1 & echo $!",
        ]);
        execed = Some(started.trim().to_string());
    }
    assert_restored_is_a_container(&h, &id);
}

/// The first byte written to `fd` (a pipe's read end), within 60 s.
fn first_byte(fd: std::os::fd::OwnedFd) -> Option<u8> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut b = [0u8; 1];
        let n = std::io::Read::read(&mut std::fs::File::from(fd), &mut b).unwrap_or(0);
        let _ = tx.send((n == 1).then_some(b[0]));
    });
    rx.recv_timeout(Duration::from_secs(60)).ok().flatten()
}

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn lazy_pages_through_a_page_server_and_a_status_fd() {
    skip_unless_root!();
    let b = counting_bundle();
    let (h, _work, images, id) = scene("lazy");
    let before = start_counting(&h, &b, &id);
    // As runc's test: the dump serves the pages on a port and says on --status-fd (one zero
    // byte) when it is ready; CRIU's lazy-pages daemon takes them from there for the restore.
    let (ready, ready_w) = nix::unistd::pipe().unwrap();
    let status_fd = std::os::fd::AsRawFd::as_raw_fd(&ready_w).to_string();
    std::fs::create_dir_all(&images).unwrap();
    let dump = h
        .cmd()
        .args([
            "checkpoint",
            "--lazy-pages",
            "--page-server",
            "0.0.0.0:27277",
        ])
        .args(["--status-fd", &status_fd, "--manage-cgroups-mode", "ignore"])
        .arg("--image-path")
        .arg(&images)
        .arg(&id)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(ready_w);
    assert_eq!(
        first_byte(ready),
        Some(0),
        "the dump says it is ready on --status-fd"
    );
    assert!(images.join("inventory.img").exists());
    let mut daemon = std::process::Command::new("criu")
        .args(["lazy-pages", "--page-server", "--address", "127.0.0.1"])
        .args(["--port", "27277", "-D"])
        .arg(&images)
        .spawn()
        .unwrap();
    // The checkpointed container is not gone until its last page has gone: another id, and
    // CRIU told to leave the cgroups alone (the restored tree stays in the new container's,
    // where CRIU is put), or it would put it back in the checkpointed container's.
    let other = unique("lazy-restored");
    let ignore = ["--lazy-pages", "--manage-cgroups-mode", "ignore"];
    let after = restore_with_pipes(&h, &b, &other, &images, &ignore);
    let dumped = dump.wait_with_output().unwrap();
    assert!(dumped.status.success(), "{}", text(&dumped.stderr));
    assert!(daemon.wait().unwrap().success(), "criu lazy-pages");
    let last = *numbers(&before.rest()).last().unwrap();
    let next: i64 = after.line().trim().parse().unwrap();
    assert_eq!(next, last + 1, "the lazily restored process counts on");
    assert!(
        h.run(&["state", &id]).status.code() != Some(0),
        "the checkpointed container is gone once its pages are"
    );
    assert_restored_is_a_container(&h, &other);
}

#[path = "checkpoint_parts/containerd.rs"]
mod containerd;
