//! containerd's checkpoint and restore (`ctr containers checkpoint --task`, `ctr containers
//! restore --live`) through its runc v2 shim with husk as the runtime binary: the shim calls
//! `husk checkpoint` and `husk restore` as it calls runc's. A private containerd (its own
//! root, state and socket) on the guest's tmpfs; the busybox image built on the host by
//! integration/clients/image.py, at $HUSK_CTR_IMAGE.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use husk_e2e::*;

const IMAGE: &str = "docker.io/library/husk-busybox:latest";
const NS: &str = "husk-cr";

/// A containerd of the test's own, stopped on drop.
struct Containerd {
    dir: TempDir,
    daemon: Child,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = TempDir::new("husk-ctd");
        let d = dir.path();
        let config = format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n",
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = d.join("sock").display(),
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("containerd (the guest has Debian's)");
        let ctd = Containerd { dir, daemon };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ctd.ctr(&["version"]).status.success() {
            assert!(Instant::now() < deadline, "containerd: {}", ctd.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        ctd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("-a")
            .arg(self.dir.path().join("sock"))
            .args(["-n", NS])
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {}: {}{}\ncontainerd said:\n{}",
            args.join(" "),
            text(&out.stdout),
            text(&out.stderr),
            self.log()
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        );
        text(&out.stdout)
    }

    fn status(&self, id: &str) -> String {
        self.task(id).0
    }

    /// What the task's counter file holds, once it holds a number (a restored task's
    /// rootfs is the image's again, until the counter writes the file).
    fn count(&self, id: &str) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.ctr(&["task", "exec", "--exec-id", "count", id, "cat", "/count"]);
            if let Ok(n) = text(&out.stdout).trim().parse() {
                return n;
            }
            assert!(Instant::now() < deadline, "/count: {}", text(&out.stderr));
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// The task's status and pid in `ctr task ls`.
    fn task(&self, id: &str) -> (String, String) {
        let list = self.ok(&["task", "ls"]);
        let row: Vec<String> = list
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        match &row[..] {
            [_, pid, status, ..] => (status.clone(), pid.clone()),
            _ => (String::new(), String::new()),
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for t in self.ok(&["task", "ls", "-q"]).lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", t]);
            let _ = self.ctr(&["task", "delete", "-f", t]);
        }
        for c in self.ok(&["container", "ls", "-q"]).lines() {
            let _ = self.ctr(&["container", "delete", c]);
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| Path::new(m).starts_with(self.dir.path()))
            .collect();
        ours.sort_unstable_by(|a, b| b.cmp(a));
        for m in ours {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// Counts once a second into /count: a fresh start would show a small number.
const COUNT_TO_FILE: &str = "i=0; while true; do echo $i > /count; i=$((i+1)); sleep 1; done";

#[test]
#[ignore = "CRIU cannot dump on this kernel: make test-checkpoint runs it in a guest"]
fn containerd_checkpoints_a_task_and_restores_it_live() {
    skip_unless_root!();
    let image = PathBuf::from(std::env::var("HUSK_CTR_IMAGE").expect("HUSK_CTR_IMAGE"));
    let husk = husk_bin();
    let husk = husk.to_str().unwrap();
    let ctd = Containerd::start();
    ctd.ok(&["image", "import", image.to_str().unwrap()]);
    let id = "counter";
    ctd.ok(&[
        "run",
        "-d",
        "--runc-binary",
        husk,
        IMAGE,
        id,
        "sh",
        "-c",
        COUNT_TO_FILE,
    ]);
    assert_eq!(ctd.status(id), "RUNNING");
    let deadline = Instant::now() + Duration::from_secs(60);
    while ctd.count(id) < 5 {
        assert!(Instant::now() < deadline, "the task counts");
        std::thread::sleep(Duration::from_millis(500));
    }
    // The shim runs `husk checkpoint --image-path ... --work-path ... --leave-running`.
    let reached = ctd.count(id);
    ctd.ok(&["container", "checkpoint", "--task", id, "husk-cr/counter:1"]);
    let images = ctd.ok(&["image", "ls", "-q"]);
    assert!(images.contains("husk-cr/counter:1"), "{images}");
    assert_eq!(ctd.status(id), "RUNNING", "--leave-running, as runc");
    ctd.ok(&["task", "kill", "-s", "SIGKILL", id]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while ctd.status(id) != "STOPPED" {
        assert!(Instant::now() < deadline, "the task stops");
        std::thread::sleep(Duration::from_millis(200));
    }
    ctd.ok(&["task", "delete", id]);
    ctd.ok(&["container", "delete", id]);
    // The shim runs `husk restore --detach --image-path ... --bundle ...`.
    ctd.ok(&["container", "restore", "--live", id, "husk-cr/counter:1"]);
    assert_eq!(ctd.status(id), "RUNNING");
    let after = ctd.count(id);
    assert!(
        after >= reached,
        "the restored task counts on from {reached} (it says {after}), not from 0"
    );
    // husk runs it: its own state in the shim's root names the task's pid.
    let (_, pid) = ctd.task(id);
    let state = Command::new(husk)
        .args(["--root", &format!("/run/containerd/runc/{NS}"), "state", id])
        .output()
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(state["status"], "running");
    assert_eq!(state["pid"].to_string(), pid, "{state}");
}
