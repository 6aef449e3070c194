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
    let b = bundle("cat /proc/meminfo", 64 * MIB);
    b.write();
    let out = run(&h, &b, "meminfo");
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
