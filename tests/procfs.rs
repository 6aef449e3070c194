//! husk's procfs daemon (docs/procfs.md): with the `run.husk.procfs` annotation a container's
//! /proc files tell its cgroup's truth, checked where a user checks them: the files and the
//! programs that read them (procps's free, busybox's top, uptime), inside the container.
//! Needs root; on this host memory and cpu are cgroup v1 controllers (hybrid).

use std::path::Path;

use husk_e2e::*;

const MIB: u64 = 1 << 20;

/// A busybox bundle running `script`, asking for the served files, with a memory limit.
fn bundle(script: &str, memory: u64) -> TestBundle {
    let mut b = TestBundle::busybox(&["sh", "-c", script]);
    b.config["annotations"] = json!({"run.husk.procfs": "true"});
    b.config["linux"]["resources"]["memory"] = json!({"limit": memory});
    b
}

/// `key` of a meminfo-style text, in kB.
fn kb(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

fn run(h: &Husk, b: &TestBundle, prefix: &str) -> String {
    let (code, out, err) = h.run_bundle(b, &unique(prefix));
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn meminfo_has_the_memory_limit_as_its_total() {
    skip_unless_root!();
    let h = Husk::new();
    // (and the masked paths are still masked: /proc/timer_list reads as /dev/null)
    let b = bundle("cat /proc/meminfo; wc -c < /proc/timer_list", 64 * MIB);
    b.write();
    let out = run(&h, &b, "meminfo");
    assert_eq!(
        out.lines().last(),
        Some("0"),
        "/proc/kcore is masked: {out}"
    );
    assert_eq!(kb(&out, "MemTotal"), 64 * 1024, "{out}");
    assert!(kb(&out, "MemFree") < 64 * 1024);
    assert!(kb(&out, "MemAvailable") <= 64 * 1024);
    let host = std::fs::read_to_string("/proc/meminfo").unwrap();
    assert_ne!(
        kb(&host, "MemTotal"),
        64 * 1024,
        "the host's is not the limit"
    );
}

#[test]
fn procps_free_shows_the_limit() {
    skip_unless_root!();
    // procps's free reads /proc/meminfo (busybox's asks sysinfo(2), which no file serves): the
    // host's, with the libraries it links.
    let h = Husk::new();
    let mut b = bundle(&format!("{} -m", which("free").display()), 96 * MIB);
    with_host_program(&mut b, "free");
    b.write();
    let out = run(&h, &b, "free");
    let mem: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("Mem:"))
        .unwrap_or_else(|| panic!("{out}"))
        .split_whitespace()
        .collect();
    assert_eq!(mem[1], "96", "free -m's total: {out}");
}

/// The host's `prog` (procps's), with the libraries it links, bound into the container.
fn with_host_program(b: &mut TestBundle, prog: &str) {
    let path = which(prog);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    let libs = ["/lib", "/lib64", "/usr/lib"]
        .into_iter()
        .filter(|d| Path::new(d).is_dir());
    for p in std::iter::once(path.to_str().unwrap()).chain(libs) {
        mounts.push(
            json!({"type": "bind", "source": p, "destination": p, "options": ["rbind", "ro"]}),
        );
    }
}

/// The path of procps's `prog` in PATH (not a busybox applet of that name).
fn which(prog: &str) -> std::path::PathBuf {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter_map(|d| std::fs::canonicalize(Path::new(d).join(prog)).ok())
        .find(|p| p.file_name().is_some_and(|n| n != "busybox"))
        .unwrap_or_else(|| panic!("{prog} is not installed (integration/deps.sh base)"))
}

#[test]
fn memfree_drops_as_the_container_fills_memory() {
    skip_unless_root!();
    let h = Husk::new();
    // 24 MiB written to a tmpfs in the container is charged to its cgroup (Shmem).
    let b = bundle(
        "grep -E '^(MemFree|Shmem):' /proc/meminfo; \
         dd if=/dev/zero of=/dev/shm/fill bs=1M count=24 2>/dev/null; \
         grep -E '^(MemFree|Shmem):' /proc/meminfo",
        128 * MIB,
    );
    b.write();
    let out = run(&h, &b, "memfree");
    let (before, after) = out.split_at(out.find("Shmem").unwrap() + 1);
    let after = &after[after.find('\n').unwrap()..];
    let dropped = kb(before, "MemFree") - kb(after, "MemFree");
    assert!(
        dropped >= 20 * 1024,
        "MemFree dropped by {dropped} kB: {out}"
    );
    assert!(kb(after, "Shmem") >= 24 * 1024, "{out}");
}

#[test]
fn busybox_top_shows_the_containers_memory() {
    skip_unless_root!();
    let h = Husk::new();
    let b = bundle("sleep 1000 & top -bn1 | head -3", 80 * MIB);
    b.write();
    let out = run(&h, &b, "top");
    // "Mem: 1234K used, 5678K free, ...": used and free add up to the limit.
    let k: Vec<u64> = out
        .split_whitespace()
        .filter_map(|w| w.strip_suffix("K").and_then(|n| n.parse().ok()))
        .collect();
    assert!(k.len() >= 2, "{out}");
    assert_eq!(k[0] + k[1], 80 * 1024, "top's used + free: {out}");
    // "Load average: 0.00 0.00 0.00 1/4 NNN": the container's sh, sleep, top and head.
    let load = out
        .lines()
        .find(|l| l.starts_with("Load average: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        load.split_whitespace()
            .nth(5)
            .and_then(|t| t.split('/').nth(1)),
        Some("4"),
        "{out}"
    );
}

#[test]
fn cpus_are_those_of_the_cpuset_and_the_quota() {
    skip_unless_root!();
    let h = Husk::new();
    let script = "grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online; \
                  grep -c '^cpu[0-9]' /proc/stat";
    let host_cpus = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    assert!(host_cpus >= 2, "this test needs 2 CPUs");
    // A cpuset of one CPU; half a CPU's quota, rounded up to one; one and a half, to two.
    let cases = [
        (json!({"cpus": "1"}), ["1", "0", "1"]),
        (json!({"quota": 50000, "period": 100000}), ["1", "0", "1"]),
        (
            json!({"quota": 150000, "period": 100000}),
            ["2", "0-1", "2"],
        ),
    ];
    for (cpu, expected) in cases {
        let mut b = bundle(script, 64 * MIB);
        b.config["linux"]["resources"]["cpu"] = cpu.clone();
        b.write();
        let out = run(&h, &b, "cpus");
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            expected,
            "{cpu}"
        );
    }
}

#[test]
fn uptime_starts_near_zero_and_loadavg_counts_the_containers_tasks() {
    skip_unless_root!();
    let h = Husk::new();
    // (The uptime programs of busybox and of procps 4 ask sysinfo(2), which no file serves.)
    let b = bundle(
        "sleep 1000 & sleep 1000 & cat /proc/uptime; cat /proc/loadavg",
        64 * MIB,
    );
    b.write();
    let out = run(&h, &b, "uptime");
    let up: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        up < 10.0 && host > up,
        "the container's uptime {up} (the host's {host})"
    );
    // "0.00 0.00 0.00 1/4 NNN": the container's tasks (sh, the sleeps, cat), not the host's.
    let load = out.lines().nth(1).unwrap();
    let tasks = load.split_whitespace().nth(3).unwrap();
    let total: usize = tasks.split('/').nth(1).unwrap().parse().unwrap();
    assert!((3..=4).contains(&total), "{load}");
}

#[test]
fn without_the_annotation_nothing_changes() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&[
        "sh",
        "-c",
        "grep MemTotal /proc/meminfo; grep -c fuse /proc/self/mountinfo; true",
    ]);
    b.config["linux"]["resources"]["memory"] = json!({"limit": 64 * MIB});
    b.write();
    let out = run(&h, &b, "plain");
    let host = std::fs::read_to_string("/proc/meminfo").unwrap();
    assert_eq!(kb(&out, "MemTotal"), kb(&host, "MemTotal"));
    assert_eq!(
        out.lines().nth(1),
        Some("0"),
        "no served file is mounted: {out}"
    );
    assert!(
        !h.root.path().join("@procfs").exists(),
        "no daemon was started"
    );
}

#[test]
fn the_global_flag_serves_every_container_and_the_annotation_still_decides() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["grep", "MemTotal", "/proc/meminfo"]);
    b.config["linux"]["resources"]["memory"] = json!({"limit": 72 * MIB});
    b.write();
    let with_flag = |b: &TestBundle| {
        let id = unique("flag");
        let out = h.run(&["--procfs", "run", "-b", b.path().to_str().unwrap(), &id]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        kb(&text(&out.stdout), "MemTotal")
    };
    assert_eq!(
        with_flag(&b),
        72 * 1024,
        "no annotation: --procfs serves it"
    );
    b.config["annotations"] = json!({"run.husk.procfs": "false"});
    b.write();
    let host = std::fs::read_to_string("/proc/meminfo").unwrap();
    assert_eq!(
        with_flag(&b),
        kb(&host, "MemTotal"),
        "its annotation says false"
    );
    let features: serde_json::Value = serde_json::from_str(&h.ok(&["features"])).unwrap();
    assert!(features["annotations"]["run.husk.procfs"]
        .as_str()
        .is_some_and(|v| v.contains("meminfo")));
    assert!(features["potentiallyUnsafeConfigAnnotations"]
        .as_array()
        .unwrap()
        .contains(&json!("run.husk.procfs")));
}

/// A block device the test may read: the guest's ram disk, else a loop device over a file
/// (these machines refuse even root a read of their own disk), detached on drop.
struct Disk {
    major: u64,
    minor: u64,
    loop_dev: Option<String>,
    _file: Option<TempDir>,
}

impl Disk {
    fn get() -> Disk {
        let (loop_dev, file, name) = if Path::new("/sys/block/ram0").exists() {
            (None, None, "ram0".to_string())
        } else {
            let dir = TempDir::new("procfs-disk");
            let f = dir.path().join("disk");
            std::fs::write(&f, vec![0u8; 4 << 20]).unwrap();
            let out = std::process::Command::new("losetup")
                .args(["-f", "--show"])
                .arg(&f)
                .output()
                .unwrap();
            assert!(out.status.success(), "losetup: {}", text(&out.stderr));
            let dev = text(&out.stdout).trim().to_string();
            let name = dev.trim_start_matches("/dev/").to_string();
            (Some(dev), Some(dir), name)
        };
        let dev = std::fs::read_to_string(format!("/sys/block/{name}/dev")).unwrap();
        let (major, minor) = dev.trim().split_once(':').unwrap();
        Disk {
            major: major.parse().unwrap(),
            minor: minor.parse().unwrap(),
            loop_dev,
            _file: file,
        }
    }

    /// Its line in a diskstats text, as numbers (the name left out).
    fn stats(&self, diskstats: &str) -> Option<Vec<u64>> {
        let id = [self.major.to_string(), self.minor.to_string()];
        let line = diskstats.lines().find(|l| {
            l.split_whitespace()
                .take(2)
                .eq(id.iter().map(String::as_str))
        })?;
        Some(
            line.split_whitespace()
                .enumerate()
                .filter(|(i, _)| *i != 2)
                .filter_map(|(_, v)| v.parse().ok())
                .collect(),
        )
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if let Some(dev) = &self.loop_dev {
            let _ = std::process::Command::new("losetup")
                .args(["-d", dev])
                .status();
        }
    }
}

#[test]
fn diskstats_shows_the_containers_own_reads() {
    skip_unless_root!();
    let disk = Disk::get();
    let h = Husk::new();
    // 16 direct reads of 64 KiB from the disk, given to the container as /dev/disk0.
    let mut b = bundle(
        "dd if=/dev/disk0 of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null; \
         cat /proc/diskstats",
        64 * MIB,
    );
    let (major, minor) = (disk.major, disk.minor);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/disk0", "type": "b", "major": major, "minor": minor}]);
    b.config["linux"]["resources"]["devices"] =
        json!([{"allow": true, "type": "b", "major": major, "minor": minor, "access": "r"}]);
    b.write();
    let out = run(&h, &b, "disk");
    let f = disk
        .stats(&out)
        .unwrap_or_else(|| panic!("no line for {major}:{minor}: {out}"));
    // major minor | reads, merged, sectors, ms | writes ...
    assert!(f[2] >= 16, "reads: {f:?}");
    assert!(f[4] >= 16 * 128, "sectors read: {f:?}");
    assert_eq!(f[6], 0, "no writes: {f:?}");
    assert_eq!(out.lines().count(), 1, "only the device it read: {out}");
}

#[test]
fn a_list_of_files_gets_only_those() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = bundle(
        "grep MemTotal /proc/meminfo; grep -c ^processor /proc/cpuinfo",
        64 * MIB,
    );
    b.config["annotations"] = json!({"run.husk.procfs": "meminfo"});
    b.config["linux"]["resources"]["cpu"] = json!({"cpus": "0"});
    b.write();
    let out = run(&h, &b, "list");
    assert_eq!(kb(&out, "MemTotal"), 64 * 1024);
    let host_cpus = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap()
        .matches("processor")
        .count();
    assert_eq!(
        out.lines().nth(1).unwrap(),
        host_cpus.to_string(),
        "cpuinfo is the host's"
    );
}

#[test]
fn a_bad_annotation_is_refused_by_name_and_leaves_nothing() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = bundle("true", 64 * MIB);
    b.config["annotations"] = json!({"run.husk.procfs": "meminfo,vmstat"});
    b.write();
    let id = unique("badproc");
    let (code, _, err) = h.run_bundle(&b, &id);
    assert_ne!(code, 0);
    assert!(
        err.contains("annotations[\"run.husk.procfs\"]") && err.contains("\"vmstat\""),
        "{err}"
    );
    h.assert_no_trace(&id);
}

#[test]
fn a_restarted_daemon_serves_a_running_container_again() {
    skip_unless_root!();
    let h = Husk::new();
    let b = bundle("sleep 1000", 48 * MIB);
    b.write();
    let id = unique("restart");
    h.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let read = || h.run(&["exec", &id, "grep", "MemTotal", "/proc/meminfo"]);
    assert_eq!(kb(&text(&read().stdout), "MemTotal"), 48 * 1024);
    // The daemon dies (a crash, an upgrade): its files answer ENOTCONN.
    let pid_file = h.root.path().join("@procfs.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for(
        || !Path::new(&format!("/proc/{pid}/stat")).exists() || zombie(pid),
        "the daemon to die",
    );
    let dead = read();
    assert!(
        !dead.status.success(),
        "a dead daemon's file cannot be read"
    );
    assert!(
        text(&dead.stderr).contains("not connected"),
        "{}",
        text(&dead.stderr)
    );
    // A new daemon (here started by hand; the next create would start one too).
    let _ = std::fs::remove_file(&pid_file);
    let daemon = std::process::Command::new(husk_bin())
        .arg("--root")
        .arg(h.root.path())
        .arg("procfs")
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(|| pid_file.exists(), "the new daemon to answer");
    let again = read();
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(kb(&text(&again.stdout), "MemTotal"), 48 * 1024);
    h.ok(&["delete", "--force", &id]);
    drop(h);
    let _ = daemon.wait_with_output();
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(") Z "))
        .unwrap_or(true)
}

#[test]
fn a_host_process_reading_the_daemons_files_gets_the_hosts() {
    skip_unless_root!();
    let h = Husk::new();
    let b = bundle("true", 64 * MIB);
    b.write();
    run(&h, &b, "host");
    // This test runs in the host's root cgroups or in a cgroup without limits.
    let served = std::fs::read_to_string(h.root.path().join("@procfs/cpuinfo")).unwrap();
    let host = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    assert_eq!(
        served.matches("processor").count(),
        host.matches("processor").count()
    );
}

/// lxcfs 5.0.3 (Debian's) serving its files at a directory of its own, stopped on drop.
struct Lxcfs {
    dir: TempDir,
    daemon: std::process::Child,
}

impl Lxcfs {
    fn start() -> Lxcfs {
        let dir = TempDir::new("lxcfs");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir_all(&mnt).unwrap();
        // In the foreground (a child to stop), load averages and CPU quotas on, as husk does.
        let daemon = std::process::Command::new("lxcfs")
            .args(["-f", "-l", "--enable-cfs", "-p"])
            .arg(dir.path().join("pid"))
            .arg(&mnt)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("lxcfs (integration/deps.sh lxcfs)");
        wait_for(|| mnt.join("proc/meminfo").exists(), "lxcfs to answer");
        Lxcfs { dir, daemon }
    }

    fn mount_point(&self) -> std::path::PathBuf {
        self.dir.path().join("mnt")
    }
}

impl Drop for Lxcfs {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = nix::mount::umount2(&self.mount_point(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Each file read through husk and through lxcfs, one right after the other, in the same
/// container: "== name" headers, husk's copy first.
/// (lxcfs counts a cgroup's tasks from the first sample after the first read of its loadavg:
/// both are read once, then again after a sample.)
const SIDE_BY_SIDE: &str =
    "sleep 1000 & cat /proc/loadavg /lxcfs/proc/loadavg >/dev/null; sleep 6; \
    for f in meminfo cpuinfo stat uptime loadavg swaps; do \
      echo \"== husk $f\"; cat /proc/$f; echo \"== lxcfs $f\"; cat /lxcfs/proc/$f; done; \
    echo '== husk online'; cat /sys/devices/system/cpu/online; \
    echo '== lxcfs online'; cat /lxcfs/sys/devices/system/cpu/online";

/// The text under "== <name>" in the side-by-side output.
fn section<'a>(out: &'a str, name: &str) -> &'a str {
    let start = out
        .find(&format!("== {name}\n"))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
        + name.len()
        + 4;
    let rest = &out[start..];
    &rest[..rest.find("\n== ").map_or(rest.len(), |i| i + 1)]
}

#[test]
#[ignore = "needs lxcfs: make test-procfs"]
fn the_same_files_as_lxcfs_where_lxcfs_is_right() {
    skip_unless_root!();
    let lxcfs = Lxcfs::start();
    let h = Husk::new();
    let mut b = bundle(SIDE_BY_SIDE, 64 * MIB);
    b.config["linux"]["resources"]["cpu"] = json!({"quota": 150000, "period": 100000});
    let lxcfs_mount = lxcfs.mount_point();
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"type": "bind", "source": lxcfs_mount, "destination": "/lxcfs", "options": ["rbind", "ro"]}),
    );
    std::fs::create_dir_all(b.rootfs().join("lxcfs")).unwrap();
    b.write();
    let out = run(&h, &b, "lxcfs");
    let (hm, lm) = (
        section(&out, "husk meminfo"),
        section(&out, "lxcfs meminfo"),
    );
    for key in ["MemTotal", "SwapTotal", "SwapFree", "Buffers"] {
        assert_eq!(kb(hm, key), kb(lm, key), "{key}:\n{hm}\n{lm}");
    }
    // Usage moves between the two reads: free memory within 1 MiB of each other.
    for key in ["MemFree", "MemAvailable", "Cached"] {
        assert!(
            kb(hm, key).abs_diff(kb(lm, key)) < 1024,
            "{key}:\n{hm}\n{lm}"
        );
    }
    let count = |s: &str, p: &str| s.lines().filter(|l| l.starts_with(p)).count();
    let (hc, lc) = (
        section(&out, "husk cpuinfo"),
        section(&out, "lxcfs cpuinfo"),
    );
    assert_eq!(count(hc, "processor"), count(lc, "processor"), "cpuinfo");
    assert_eq!(count(hc, "processor"), 2, "a quota of 1.5 CPUs shows 2");
    let (hs, ls) = (section(&out, "husk stat"), section(&out, "lxcfs stat"));
    assert_eq!(count(hs, "cpu"), count(ls, "cpu"), "stat's cpu lines");
    assert_eq!(section(&out, "husk online"), section(&out, "lxcfs online"));
    let first = |s: &str| -> f64 { s.split_whitespace().next().unwrap().parse().unwrap() };
    let (hu, lu) = (section(&out, "husk uptime"), section(&out, "lxcfs uptime"));
    assert!((first(hu) - first(lu)).abs() < 1.0, "uptime: {hu} {lu}");
    // Both count the container's tasks, once sampled: "0.00 0.00 0.00 1/3 123".
    let tasks = |s: &str| {
        s.split_whitespace()
            .nth(3)
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .to_string()
    };
    let (hl, ll) = (
        section(&out, "husk loadavg"),
        section(&out, "lxcfs loadavg"),
    );
    assert_eq!(tasks(hl), tasks(ll), "loadavg: {hl} {ll}");
    let (hw, lw) = (section(&out, "husk swaps"), section(&out, "lxcfs swaps"));
    assert_eq!(hw.lines().count(), lw.lines().count(), "swaps: {hw} {lw}");
}

#[test]
#[ignore = "100 containers for 30 s: make test-procfs"]
fn a_hundred_containers_each_read_their_own_limit_for_30_seconds() {
    skip_unless_root!();
    let h = Husk::new();
    let out_dir = TempDir::new("procfs-100");
    // The shell's own read (no fork per line), for 30 s, every line written to the host.
    let script = "end=$(( $(date +%s) + 30 )); \
                  while [ $(date +%s) -lt $end ]; do read -r l < /proc/meminfo; echo \"$l\"; done";
    let mut ids = Vec::new();
    for i in 0..100u64 {
        let b = bundle(script, (32 + i) * MIB);
        b.write();
        let id = unique("hundred");
        let out = std::fs::File::create(out_dir.path().join(&id)).unwrap();
        let status = h
            .cmd()
            .args(["run", "-d", "-b", b.path().to_str().unwrap(), &id])
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .status()
            .unwrap();
        assert!(status.success(), "run -d {id}");
        ids.push((id, 32 + i, b));
    }
    for (id, _, _) in &ids {
        wait_for_stopped(&h, id);
    }
    let mut reads = 0;
    for (id, limit, _) in &ids {
        let lines = std::fs::read_to_string(out_dir.path().join(id)).unwrap();
        assert!(
            lines.lines().count() > 10,
            "{id} read {} times",
            lines.lines().count()
        );
        for l in lines.lines() {
            assert_eq!(kb(l, "MemTotal"), limit * 1024, "{id}: {l}");
            reads += 1;
        }
        h.ok(&["delete", id]);
    }
    eprintln!("{reads} reads by 100 containers, each its own limit");
}

/// Wait (up to 2 minutes) for a detached container to stop.
fn wait_for_stopped(h: &Husk, id: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while h.state(id)["status"] != "stopped" {
        assert!(std::time::Instant::now() < deadline, "{id} still runs");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
fn one_daemon_per_state_root_in_the_root_cgroups() {
    skip_unless_root!();
    let h = Husk::new();
    // Two daemons started at once for the same root: one serves, the other leaves it to it.
    let start = || {
        std::process::Command::new(husk_bin())
            .arg("--root")
            .arg(h.root.path())
            .arg("procfs")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (start(), start());
    let pid_file = h.root.path().join("@procfs.pid");
    wait_for(|| pid_file.exists(), "a daemon to answer");
    let serving: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (winner, loser) = if serving == first.id() {
        (first, second)
    } else {
        (second, first)
    };
    let out = loser.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("another procfs daemon serves"),
        "{}",
        text(&out.stderr)
    );
    let mount = h.root.path().join("@procfs");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let on_it = mounts
        .lines()
        .filter(|l| l.split_whitespace().nth(4) == Some(mount.to_str().unwrap()))
        .count();
    assert_eq!(on_it, 1, "one FUSE mount at {}", mount.display());
    // It left the cgroups of whoever started it, for the root of each hierarchy.
    let cgroups = std::fs::read_to_string(format!("/proc/{serving}/cgroup")).unwrap();
    for line in cgroups.lines() {
        assert!(line.ends_with(":/"), "{cgroups}");
    }
    h.stop_procfs_daemon();
    let _ = winner.wait_with_output();
    assert!(
        !husk_is_mounted(&mount),
        "the daemon unmounts when it stops"
    );
}

fn husk_is_mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().nth(4) == path.to_str())
}
