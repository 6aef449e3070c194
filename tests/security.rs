//! The escapes runc has suffered, each tried for real against husk: the test performs the
//! attack and checks it fails. docs/security.md maps each to its defence. Needs root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use husk_e2e::*;

fn sha(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// CVE-2019-5736: a container process grabs the husk binary through /proc/<pid>/exe of a husk
/// process running inside the container (`husk exec c /proc/self/exe ...`) and, once it has
/// exited, writes to it through the held fd.
#[test]
fn cve_2019_5736_the_husk_binary_cannot_be_overwritten_from_inside() {
    skip_unless_root!();
    // A private copy of husk: no other test executes it, so "text file busy" cannot be what
    // stops the attack.
    let dir = TempDir::new("husk-binary");
    let husk = dir.path().join("husk");
    std::fs::copy(husk_bin(), &husk).unwrap();
    let before = sha(&husk);
    let root = TempDir::new("husk-root");
    let husk_cmd = || {
        let mut c = Command::new(&husk);
        c.arg("--root").arg(root.path());
        c
    };
    let attack = r#"
        while :; do
          for p in /proc/[0-9]*; do
            case "$(readlink $p/exe 2>/dev/null)" in
              *husk*) exec 3<"$p/exe" && readlink /proc/self/fd/3 > /grabbed && break 2 ;;
            esac
          done
        done
        i=0
        while [ $i -lt 60 ]; do
          if echo PWNED >> /proc/self/fd/3 2>/dev/null; then echo written > /result; exit 0; fi
          i=$((i+1)); sleep 0.1
        done
        echo refused > /result
    "#;
    let mut b = TestBundle::busybox(&["sh", "-c", attack]);
    b.config["root"]["readonly"] = json!(false);
    b.write();
    // An image that can run husk (a dynamic binary): the host's loader and libraries.
    let ldd = Command::new("ldd").arg(&husk).output().unwrap();
    for lib in text(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let dest = b.rootfs().join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(lib, &dest).unwrap();
    }
    let id = unique("cve5736");
    let out = run_to_files(husk_cmd().args(["run", "-d", "-b", b.path().to_str().unwrap(), &id]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    // husk itself, run inside the container, blocked reading its stdin.
    let mut exec = husk_cmd()
        .args(["exec", &id, "/proc/self/exe", "update", "-r", "-", "x"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let grabbed = b.rootfs().join("grabbed");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !grabbed.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(exec.stdin.take().unwrap().write_all(b""));
    let _ = exec.wait();
    let result = b.rootfs().join("result");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !result.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = run_to_files(husk_cmd().args(["delete", "--force", &id]));
    let grabbed = std::fs::read_to_string(&grabbed).unwrap_or_default();
    assert!(
        !grabbed.is_empty(),
        "the attacker never saw a husk process: the test did not run the attack"
    );
    assert_eq!(
        std::fs::read_to_string(&result).unwrap_or_default().trim(),
        "refused",
        "the attacker held {grabbed:?}"
    );
    assert_eq!(sha(&husk), before, "the husk binary was modified");
    eprintln!("the attacker held {grabbed:?}");
}

/// CVE-2019-5736 through `create`/`run` (crates/container/src/exec_stub.rs): the container's
/// process and the hooks run inside the container are exec'd through a sealed stub, so what
/// /proc/self/exe, a `#!/proc/self/exe` script or an interpreter leads to is the stub, never
/// the husk binary. Were it husk, `/proc/self/exe /bin/sh ...` would be an unknown command.
#[test]
fn cve_2019_5736_proc_self_exe_in_a_new_container_is_not_husk() {
    skip_unless_root!();
    let h = Husk::new();
    let before = sha(&husk_bin());
    let tmp = TempDir::new("husk-5736-hooks");
    let host_out = tmp.path().join("create-container");
    let host_hook = tmp.path().join("hook");
    // A hook script whose interpreter is /proc/self/exe with the argument /bin/sh: the stub
    // execs /bin/sh with the hook's argv (`-c ...`).
    std::fs::write(&host_hook, "#!/proc/self/exe /bin/sh\n").unwrap();
    std::fs::set_permissions(
        &host_hook,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut b = TestBundle::busybox(&[
        "/proc/self/exe",
        "/bin/sh",
        "sh",
        "-c",
        "echo process-ran; cat /start-container",
    ]);
    b.config["root"]["readonly"] = json!(false);
    // createContainer: a host path, run in the container's namespaces; startContainer: a
    // path in the container.
    b.config["hooks"] = json!({
        "createContainer": [{"path": host_hook, "args": ["hook", "-c", format!("echo ran > {}", host_out.display())]}],
        "startContainer": [{"path": "/sh", "args": ["sh", "-c", "echo hook-ran > /start-container"]}],
    });
    b.write();
    // In the busybox rootfs, a script named sh whose interpreter runs busybox: busybox takes
    // the applet from its argv[0], the script's path.
    std::fs::write(b.rootfs().join("sh"), "#!/proc/self/exe /bin/busybox\n").unwrap();
    std::fs::set_permissions(
        b.rootfs().join("sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let id = unique("cve5736run");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["process-ran", "hook-ran"]
    );
    assert_eq!(std::fs::read_to_string(&host_out).unwrap().trim(), "ran");
    assert_eq!(sha(&husk_bin()), before);
    h.assert_no_trace(&id);
}

/// Container A runs; container B, created to join A's pid namespace, has its init waiting for
/// start, running husk (not the stub, which A's processes would see): A's id, B's id, B's pid.
fn init_waiting_in_a_joined_pid_namespace(h: &Husk) -> (String, String, i64) {
    let a = TestBundle::busybox(&["sleep", "1000"]);
    let a_id = unique("pidns-a");
    h.ok(&["run", "-d", "-b", a.path().to_str().unwrap(), &a_id]);
    let a_pid = h.state(&a_id)["pid"].as_i64().unwrap();
    let mut b = TestBundle::busybox(&["true"]);
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "pid" {
            ns["path"] = json!(format!("/proc/{a_pid}/ns/pid"));
        }
    }
    b.write();
    let b_id = unique("pidns-b");
    h.ok(&["create", "-b", b.path().to_str().unwrap(), &b_id]);
    let b_pid = h.state(&b_id)["pid"].as_i64().unwrap();
    (a_id, b_id, b_pid)
}

/// A container that joins another's pid namespace is seen by that container's processes
/// while its init still runs husk: then husk runs from a sealed copy, as /proc/PID/exe of
/// the waiting init shows (a read-only mount or a sealed memfd).
#[test]
fn joining_a_pid_namespace_runs_husk_from_a_sealed_copy() {
    skip_unless_root!();
    let h = Husk::new();
    let (a_id, b_id, b_pid) = init_waiting_in_a_joined_pid_namespace(&h);
    let exe = std::fs::File::open(format!("/proc/{b_pid}/exe")).unwrap();
    let read_only = nix::sys::statvfs::fstatvfs(&exe)
        .unwrap()
        .flags()
        .contains(nix::sys::statvfs::FsFlags::ST_RDONLY);
    let sealed = nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&exe),
        nix::fcntl::FcntlArg::F_GET_SEALS,
    )
    .is_ok_and(|s| s & libc::F_SEAL_WRITE != 0);
    assert!(
        read_only || sealed,
        "the waiting init runs a writable husk binary"
    );
    h.ok(&["delete", "--force", &b_id]);
    h.ok(&["delete", "--force", &a_id]);
}

/// The cheap form of that sealed copy: husk's directory as a read-only overlay, not a copy of
/// the binary in memory (a memfd costs a copy of 6 MiB at each create and exec). On kernels
/// before 6.15 an overlay layer cannot be a detached mount; the v2 guest (Linux 6.1) runs this
/// too (make test-cgroupv2), where only the attached second layer works.
#[test]
fn husk_is_sealed_by_a_read_only_overlay_not_a_copy() {
    skip_unless_root!();
    let h = Husk::new();
    let (a_id, b_id, b_pid) = init_waiting_in_a_joined_pid_namespace(&h);
    let exe = std::fs::File::open(format!("/proc/{b_pid}/exe")).unwrap();
    let fs = nix::sys::statfs::fstatfs(&exe).unwrap();
    h.ok(&["delete", "--force", &b_id]);
    h.ok(&["delete", "--force", &a_id]);
    assert_eq!(
        fs.filesystem_type(),
        nix::sys::statfs::OVERLAYFS_SUPER_MAGIC,
        "the waiting init's binary is not on an overlay (a memfd copy?)"
    );
}

/// CVE-2024-21626: nothing of husk's reaches the container (only stdio and what is asked to
/// be preserved), and a cwd through /proc/self/fd/N cannot land in a host directory.
#[test]
fn cve_2024_21626_no_leaked_fds_and_no_cwd_through_proc_self_fd() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sh", "-c", "ls /proc/self/fd; sleep 100"]);
    let id = unique("fds");
    let out = h.run(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    assert!(out.status.success());
    // ls's own directory fd is 3; nothing else.
    let out = h.ok(&["exec", &id, "ls", "/proc/self/fd"]);
    assert_eq!(out, "0\n1\n2\n3\n", "fds in an exec'd process");
    h.ok(&["delete", "--force", &id]);
    let (code, out, err) = h.run_bundle(
        &TestBundle::busybox(&["ls", "/proc/self/fd"]),
        &unique("fds"),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "0\n1\n2\n3\n", "fds in the container's init");

    // Every fd number husk might hold while it sets up, as the process's cwd.
    for n in 3..12 {
        let mut b = TestBundle::busybox(&["sh", "-c", "pwd; ls .."]);
        b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        b.write();
        let id = unique("cwd");
        let (code, out, _) = h.run_bundle(&b, &id);
        assert_ne!(code, 0, "cwd /proc/self/fd/{n} was entered: {out}");
        h.assert_no_trace(&id);
    }
    // The same through exec --cwd.
    let b = TestBundle::busybox(&["sleep", "100"]);
    let id = unique("execcwd");
    h.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    for n in 3..12 {
        let cwd = format!("/proc/self/fd/{n}");
        let out = h.run(&["exec", "--cwd", &cwd, &id, "sh", "-c", "pwd; ls .."]);
        assert!(
            !out.status.success(),
            "exec --cwd {cwd}: {}",
            text(&out.stdout)
        );
    }
    h.ok(&["delete", "--force", &id]);
}

/// The init waiting for `start` holds nothing of its caller's: husk is started with extra fds
/// open (a file, a pipe, /dev/null, as a test harness or a daemon leaves them), and the
/// created container's init must not have them, nor a memfd (runc's fd-leak check, done as
/// its suite does it: every fd of the created init is listed and judged).
#[test]
fn a_created_init_holds_none_of_its_callers_fds() {
    skip_unless_root!();
    let h = Husk::new();
    let dir = TempDir::new("husk-callerfds");
    let caller_file = dir.path().join("caller-output");
    let b = TestBundle::busybox(&["sleep", "100"]);
    let id = unique("leak");
    let script = format!(
        "exec 4>{} 9</dev/null 7<&0; exec \"$@\"",
        caller_file.display()
    );
    let out = run_to_files(
        Command::new("sh")
            .args(["-c", &script, "sh"])
            .arg(husk_bin())
            .arg("--root")
            .arg(h.root.path())
            .args(["create", "-b", b.path().to_str().unwrap(), &id]),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    let mut leaked = vec![];
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let target = std::fs::read_link(e.path()).unwrap().display().to_string();
        let fd: i32 = e.file_name().to_string_lossy().parse().unwrap();
        let ok = fd <= 2
            || target.starts_with("socket:[")
            || target.starts_with("pipe:[") && fd != 7
            || target.starts_with("anon_inode:")
            || target.ends_with("/exec.fifo")
            || target == "/"
            || target.starts_with(b.rootfs().to_str().unwrap());
        if !ok {
            leaked.push(format!("{fd} -> {target}"));
        }
    }
    assert_eq!(leaked, Vec::<String>::new(), "fds of the created init");
    h.ok(&["delete", &id]);
}

/// /dev from the bundle (a bind mount), so the container controls it.
fn bundle_with_own_dev(args: &[&str], dev: impl FnOnce(&Path)) -> TestBundle {
    let mut b = TestBundle::busybox(args);
    let devdir = b.path().join("devdir");
    std::fs::create_dir_all(&devdir).unwrap();
    dev(&devdir);
    let mut mounts: Vec<Value> = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !m["destination"].as_str().unwrap().starts_with("/dev"))
        .cloned()
        .collect();
    mounts.push(
        json!({"destination": "/dev", "type": "bind", "source": devdir, "options": ["rbind"]}),
    );
    b.config["mounts"] = json!(mounts);
    b.write();
    b
}

/// CVE-2025-31133: a /dev/null that is a link to a sensitive /proc file must not be bound
/// over the masked paths (which would expose it writable).
#[test]
fn cve_2025_31133_a_fake_dev_null_is_not_used_for_masking() {
    skip_unless_root!();
    let h = Husk::new();
    let core_pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let b = bundle_with_own_dev(
        // Read only: if the fake /dev/null were used, /proc/keys would show core_pattern.
        &["cat", "/proc/keys"],
        |dev| {
            std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", dev.join("null")).unwrap()
        },
    );
    let id = unique("devnull");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_ne!(code, 0, "the container ran: {out}");
    assert!(err.contains("/dev/null"), "{err}");
    h.assert_no_trace(&id);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core_pattern
    );
}

/// CVE-2025-52881 / CVE-2019-16884: sysctl writes go through a private procfs. The config
/// binds /proc/sys/kernel/hostname over /proc/sys/kernel/domainname; a write of
/// kernel.domainname through the container's /proc would land in the hostname instead.
#[test]
fn cve_2025_52881_sysctl_writes_cannot_be_redirected_by_mounts() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["hostname"]);
    b.config.as_object_mut().unwrap().remove("hostname");
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/proc/sys/kernel/domainname",
        "type": "bind",
        "source": "/proc/sys/kernel/hostname",
        "options": ["bind"]
    }));
    b.config["linux"]["sysctl"] = json!({"kernel.domainname": "redirected"});
    b.write();
    let id = unique("procfs");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert_ne!(
        out.trim(),
        "redirected",
        "the sysctl write was redirected to the hostname"
    );
    assert_eq!(
        out.trim(),
        nix::unistd::gethostname().unwrap().to_str().unwrap()
    );
    h.assert_no_trace(&id);
}

/// A container without the device in linux.devices cannot open a host block device, even as
/// root with CAP_MKNOD: the device cgroup refuses it.
#[test]
fn host_block_devices_cannot_be_opened_from_inside() {
    skip_unless_root!();
    // A loop device the host can read (root cannot open this machine's disk even outside a
    // container, so a loop device stands in for it).
    let dir = TempDir::new("husk-loop");
    let img = dir.path().join("img");
    std::fs::write(&img, vec![7u8; 1 << 20]).unwrap();
    let out = Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&img)
        .output()
        .unwrap();
    let loopdev = PathBuf::from(text(&out.stdout).trim());
    assert!(out.status.success(), "losetup: {}", text(&out.stderr));
    struct Detach(PathBuf);
    impl Drop for Detach {
        fn drop(&mut self) {
            let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
        }
    }
    let _detach = Detach(loopdev.clone());
    let rdev = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&loopdev).unwrap().rdev()
    };
    let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
    // The host can read it: the test can tell a refusal from a broken device.
    assert!(std::fs::read(&loopdev).is_ok_and(|d| d.len() == 1 << 20));

    let h = Husk::new();
    let mut b = TestBundle::busybox(&[
        "sh",
        "-c",
        &format!("mknod /dev/hostdisk b {major} {minor} && head -c 4 /dev/hostdisk | od -An -tx1; echo status=$?"),
    ]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_MKNOD"));
    }
    b.write();
    let (code, out, err) = h.run_bundle(&b, &unique("blk"));
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("07 07"),
        "the container read the host's block device: {out}"
    );
    assert!(
        err.contains("Operation not permitted") || err.contains("can't open"),
        "{err} {out}"
    );
}
