//! Helpers for the end-to-end tests: build a busybox bundle, run the built husk binary on it
//! with a private `--root`, and check what it left behind.
//!
//! These tests need root (namespaces, mounts, cgroups). A test that cannot check what it is
//! for on this machine says so with `skip!` (see `skip`): counted in `make test`'s totals, and
//! a failure unless HUSK_ALLOW_SKIPS=1 says skips are allowed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub use serde_json::{json, Value};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The husk binary under test: $HUSK_BIN, else the workspace's debug build.
pub fn husk_bin() -> PathBuf {
    if let Ok(p) = std::env::var("HUSK_BIN") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/husk");
    assert!(
        p.exists(),
        "build husk first (cargo build -p husk), or set HUSK_BIN"
    );
    p
}

/// True when the tests run as root.
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The calling test cannot check what it is for on this machine. With HUSK_ALLOW_SKIPS=1 it
/// says so in a line `SKIPPED: <test>: <why>` on the real standard error (libtest does not
/// capture it), which .ci/run counts into its totals (`N passed, N failed, N skipped`), and
/// the test returns. Otherwise the test fails: `make test` must not go green on checks it
/// did not make.
pub fn skip(why: &str) {
    use std::io::Write;
    if std::env::var("HUSK_ALLOW_SKIPS").as_deref() != Ok("1") {
        panic!("cannot check here: {why} (HUSK_ALLOW_SKIPS=1 counts it as skipped instead)");
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_string();
    let _ = writeln!(std::io::stderr().lock(), "\nSKIPPED: {test}: {why}");
}

/// Skip the rest of the test (see `skip`), with a reason in `format!` form.
#[macro_export]
macro_rules! skip {
    ($($why:tt)*) => {{
        $crate::skip(&format!($($why)*));
        return;
    }};
}

/// The test needs root: skip it otherwise (see `skip`).
#[macro_export]
macro_rules! skip_unless_root {
    () => {
        if !$crate::running_as_root() {
            $crate::skip!("needs root (namespaces, mounts and cgroups)");
        }
    };
}

/// A unique name for this test process and call.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A busybox-static rootfs, built once per test binary and copied per bundle.
fn busybox_rootfs() -> PathBuf {
    let base = std::env::temp_dir().join(format!("husk-e2e-rootfs-{}", std::process::id()));
    if base.join("bin/busybox").exists() {
        return base;
    }
    let tmp = base.with_extension(unique("tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "root"] {
        std::fs::create_dir_all(tmp.join(d)).unwrap();
    }
    let busybox = which("busybox").expect("busybox-static is installed (make test installs it)");
    std::fs::copy(&busybox, tmp.join("bin/busybox")).unwrap();
    let list = Command::new(&busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let _ = std::os::unix::fs::symlink("busybox", tmp.join("bin").join(applet));
    }
    std::fs::write(
        tmp.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(tmp.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    // Another test binary may have raced us; either copy is fine.
    if std::fs::rename(&tmp, &base).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    base
}

pub fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .ok()?
        .split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.exists())
}

/// A bundle directory: rootfs plus a config.json made from husk's default spec, with no
/// terminal and `args` given.
pub struct TestBundle {
    pub dir: TempDir,
    pub config: Value,
}

impl TestBundle {
    pub fn busybox(args: &[&str]) -> TestBundle {
        let dir = TempDir::new("husk-bundle");
        let status = Command::new("cp")
            .args(["-a"])
            .arg(busybox_rootfs())
            .arg(dir.path().join("rootfs"))
            .status()
            .unwrap();
        assert!(status.success());
        let out = Command::new(husk_bin())
            .args(["spec", "--bundle"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "husk spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap())
                .unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        let b = TestBundle { dir, config };
        b.write();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self) {
        std::fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }
}

/// Give `config` a new cgroup namespace (husk spec, as runc's, has one only on cgroup v2).
pub fn add_cgroup_namespace(config: &mut Value) {
    let nss = config["linux"]["namespaces"].as_array_mut().unwrap();
    if !nss.iter().any(|n| n["type"] == "cgroup") {
        nss.push(json!({"type": "cgroup"}));
    }
}

/// husk with a private state root.
pub struct Husk {
    pub root: TempDir,
}

impl Default for Husk {
    fn default() -> Self {
        Self::new()
    }
}

impl Husk {
    pub fn new() -> Husk {
        Husk {
            root: TempDir::new("husk-root"),
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(husk_bin());
        c.arg("--root").arg(self.root.path());
        c
    }

    /// Run husk with `args`. Its output goes through files, not pipes: a created container
    /// inherits husk's stdio and would hold a pipe open long after husk exits.
    pub fn run(&self, args: &[&str]) -> Output {
        run_to_files(self.cmd().args(args))
    }

    /// `husk run` of a bundle: (exit code, stdout, stderr).
    pub fn run_bundle(&self, b: &TestBundle, id: &str) -> (i32, String, String) {
        let out = self.run(&["run", "--bundle", b.path().to_str().unwrap(), id]);
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.run(&["state", id]);
        assert!(out.status.success(), "state {id}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "husk {args:?} failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Nothing of container `id` is left: no state directory, no cgroup directory in any
    /// hierarchy.
    pub fn assert_no_trace(&self, id: &str) {
        assert!(
            !self.root.path().join(id).exists(),
            "state directory of {id} left behind"
        );
        for dir in cgroup_dirs(id) {
            assert!(!dir.exists(), "cgroup {} left behind", dir.display());
        }
    }
}

/// A test that fails half-way must not strand its containers (and their cgroups) when its
/// state root goes: force-delete whatever is left in it.
impl Drop for Husk {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(self.root.path()) else {
            return;
        };
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if !id.starts_with('@') {
                let _ = run_to_files(self.cmd().args(["delete", "--force", &id]));
            }
        }
        self.stop_procfs_daemon();
    }
}

impl Husk {
    /// The procfs daemon a create started for this state root, stopped (it unmounts).
    pub fn stop_procfs_daemon(&self) {
        let pid_file = self.root.path().join("@procfs.pid");
        let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while pid_file.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Run `cmd` with stdout and stderr in temporary files; wait for it alone.
pub fn run_to_files(cmd: &mut Command) -> Output {
    let dir = TempDir::new("husk-out");
    let out = std::fs::File::create(dir.path().join("out")).unwrap();
    let err = std::fs::File::create(dir.path().join("err")).unwrap();
    let status = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .unwrap();
    Output {
        status,
        stdout: std::fs::read(dir.path().join("out")).unwrap(),
        stderr: std::fs::read(dir.path().join("err")).unwrap(),
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Where husk's default cgroup for `id` would be in each mounted hierarchy.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut out = Vec::new();
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        // Pure cgroup v2: one hierarchy, at /sys/fs/cgroup.
        let path = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap_or("/")
            .trim_start_matches('/');
        out.push(Path::new("/sys/fs/cgroup").join(path).join("husk").join(id));
        return out;
    }
    let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path_in_hierarchy = own
            .lines()
            .find(|l| {
                let f: Vec<&str> = l.splitn(3, ':').collect();
                f.len() == 3
                    && (f[1]
                        .split(',')
                        .any(|c| c == name || format!("name={name}") == c)
                        || (name == "unified" && f[1].is_empty()))
            })
            .map(|l| {
                l.splitn(3, ':')
                    .nth(2)
                    .unwrap_or("/")
                    .trim_start_matches('/')
                    .to_string()
            })
            .unwrap_or_default();
        out.push(e.path().join(path_in_hierarchy).join("husk").join(id));
    }
    out
}

/// The host's mount table, for before/after comparisons.
pub fn mount_table() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// Wait up to 10 s for `cond`.
pub fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The cgroup directory of process `pid` for `controller`, as a user would find it from
/// /proc: the v1 hierarchy that carries the controller, else the cgroup2 hierarchy (where the
/// controller must be listed in cgroup.controllers). The bool is true for cgroup2.
pub fn cgroup_of(pid: i64, controller: &str) -> Option<(PathBuf, bool)> {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mountinfo = mount_table();
    let mount_of = |want_v2: bool, ctrl: &str| -> Option<PathBuf> {
        mountinfo.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            let ok = if want_v2 {
                r[0] == "cgroup2"
            } else {
                r[0] == "cgroup" && r.get(2)?.split(',').any(|o| o == ctrl)
            };
            (ok && l[3] == "/").then(|| PathBuf::from(l[4]))
        })
    };
    for line in cgroup.lines() {
        let f: Vec<&str> = line.splitn(3, ':').collect();
        if f.len() == 3 && !f[1].is_empty() && f[1].split(',').any(|c| c == controller) {
            let mount = mount_of(false, controller)?;
            return Some((mount.join(f[2].trim_start_matches('/')), false));
        }
    }
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = mount_of(true, "")?.join(path.trim_start_matches('/'));
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    controllers
        .split_whitespace()
        .any(|c| c == controller)
        .then_some((dir, true))
}

/// True on a pure cgroup v2 host.
pub fn pure_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// One message from a unix stream and the fd it carries (SCM_RIGHTS): how runtimes hand a
/// pty master to --console-socket and a seccomp notify fd to its agent.
pub fn receive_fd(stream: &std::os::unix::net::UnixStream) -> (std::os::fd::OwnedFd, Vec<u8>) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut buf = vec![0u8; 65536];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY (test): the fd was just received and nothing else owns it.
            fd = Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    let n = msg.bytes;
    buf.truncate(n);
    (fd.expect("an fd in SCM_RIGHTS"), buf)
}

/// Compile C `source` statically into `rootfs/<name>` (with the cc Rust's own linking needs):
/// for a test that must make a syscall busybox has no applet for.
pub fn compile_static(rootfs: &Path, name: &str, source: &str) {
    let dir = TempDir::new("husk-cc");
    let c = dir.path().join(format!("{name}.c"));
    std::fs::write(&c, source).unwrap();
    let out = Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(rootfs.join(name))
        .arg(&c)
        .output()
        .expect("cc (needed to build Rust) runs");
    assert!(
        out.status.success(),
        "cc {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A static program for the rootfs: `syscalls NR...` makes each syscall with zero arguments
/// and prints `NR:errno` (0 when it succeeded).
pub const SYSCALL_PROBE: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        long nr = atol(argv[i]);
        errno = 0;
        long r = syscall(nr, 0, 0, 0, 0, 0, 0);
        printf("%ld:%d\n", nr, r < 0 ? errno : 0);
    }
    return 0;
}
"#;
