//! cgroup resources, checked where a user checks them: the cgroup files of the container's
//! process (found through /proc/<pid>/cgroup) and the effect from inside. The same cases run
//! on this host (hybrid: v1 controllers, hugetlb on cgroup2) and in the pure-v2 guest that
//! `make test-cgroupv2` boots; each case states what it expects of v1 and of v2. Needs root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use husk_e2e::*;

/// A container running `args` with `resources`, created (not started) unless `start`.
struct Running {
    h: Husk,
    id: String,
    pid: i64,
    bundle: TestBundle,
}

impl Running {
    fn new(args: &[&str], resources: Value, start: bool) -> Running {
        Running::with(args, resources, start, |_| {})
    }

    /// As `new`, with `edit` making further changes to the config.
    fn with(args: &[&str], resources: Value, start: bool, edit: impl Fn(&mut Value)) -> Running {
        let h = Husk::new();
        let mut b = TestBundle::busybox(args);
        b.config["linux"]["resources"] = resources;
        b.config["root"]["readonly"] = json!(false);
        edit(&mut b.config);
        b.write();
        let id = unique("cg");
        h.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
        if start {
            h.ok(&["start", &id]);
        }
        let pid = h.state(&id)["pid"].as_i64().unwrap();
        Running {
            h,
            id,
            pid,
            bundle: b,
        }
    }

    /// The content of `file` in the container's cgroup for `controller`.
    fn read(&self, controller: &str, file: &str) -> String {
        let (dir, _) = cgroup_of(self.pid, controller)
            .unwrap_or_else(|| panic!("no {controller} cgroup for pid {}", self.pid));
        std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
            .trim()
            .to_string()
    }

    fn v2(&self, controller: &str) -> bool {
        cgroup_of(self.pid, controller).is_some_and(|(_, v2)| v2)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let out = self.h.run(&["delete", "--force", &self.id]);
        if !std::thread::panicking() {
            assert!(out.status.success(), "delete: {}", text(&out.stderr));
            self.h.assert_no_trace(&self.id);
        }
    }
}

/// `husk create` with `resources` must fail with an error naming `field`, leaving nothing.
fn create_fails_naming(resources: Value, field: &str) {
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["true"]);
    b.config["linux"]["resources"] = resources;
    b.write();
    let id = unique("cgbad");
    let out = h.run(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success(),
        "create succeeded; wanted an error on {field}"
    );
    assert!(err.contains(field), "the error should name {field}: {err}");
    h.assert_no_trace(&id);
}

/// Whether a v1 hierarchy or the cgroup2 root has `controller` at all.
fn host_has(controller: &str) -> bool {
    cgroup_of(std::process::id() as i64, controller).is_some()
        || std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .unwrap_or_default()
            .split_whitespace()
            .any(|c| c == controller)
}

const MIB: i64 = 1 << 20;

#[test]
fn memory_limits_land_in_the_memory_controller() {
    skip_unless_root!();
    let v2 = pure_v2();
    let mut mem = json!({"limit": 64 * MIB, "reservation": 32 * MIB, "swap": 96 * MIB});
    if !v2 {
        mem["swappiness"] = json!(7);
        mem["disableOOMKiller"] = json!(true);
    }
    let c = Running::new(&["sleep", "100"], json!({ "memory": mem }), false);
    if c.v2("memory") {
        assert_eq!(c.read("memory", "memory.max"), (64 * MIB).to_string());
        assert_eq!(c.read("memory", "memory.low"), (32 * MIB).to_string());
        // v2 swap is swap alone: 96 MiB memory+swap minus the 64 MiB limit.
        assert_eq!(c.read("memory", "memory.swap.max"), (32 * MIB).to_string());
    } else {
        assert_eq!(
            c.read("memory", "memory.limit_in_bytes"),
            (64 * MIB).to_string()
        );
        assert_eq!(
            c.read("memory", "memory.soft_limit_in_bytes"),
            (32 * MIB).to_string()
        );
        assert_eq!(
            c.read("memory", "memory.memsw.limit_in_bytes"),
            (96 * MIB).to_string()
        );
        assert_eq!(c.read("memory", "memory.swappiness"), "7");
        assert!(c
            .read("memory", "memory.oom_control")
            .contains("oom_kill_disable 1"));
    }
}

#[test]
fn memory_options_cgroup_v2_lacks_are_errors_there() {
    skip_unless_root!();
    if !pure_v2() {
        // v1: the kernel limit is applied where the kernel still enforces it, else ignored with
        // a warning naming it (deprecated in the spec; runc ignores it too).
        let h = Husk::new();
        let mut b = TestBundle::busybox(&["sleep", "100"]);
        b.config["linux"]["resources"] = json!({"memory": {"limit": 64 * MIB, "kernel": 32 * MIB}});
        b.write();
        let id = unique("kmem");
        let out = h.run(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let pid = h.state(&id)["pid"].as_i64().unwrap();
        let (dir, _) = cgroup_of(pid, "memory").unwrap();
        let v = std::fs::read_to_string(dir.join("memory.kmem.limit_in_bytes")).unwrap();
        if v.trim() != (32 * MIB).to_string() {
            let err = text(&out.stderr);
            assert!(
                err.contains("linux.resources.memory.kernel: ignored"),
                "{err}"
            );
        }
        h.ok(&["delete", "--force", &id]);
        h.assert_no_trace(&id);
        return;
    }
    // v2: the kernel limit is ignored with a warning, the others are errors.
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["true"]);
    b.config["linux"]["resources"] = json!({"memory": {"kernel": 32 * MIB}});
    b.write();
    let (code, _, err) = h.run_bundle(&b, &unique("kmem"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("linux.resources.memory.kernel: ignored"),
        "{err}"
    );
    for (field, mem) in [
        ("memory.swappiness", json!({"swappiness": 10})),
        ("memory.disableOOMKiller", json!({"disableOOMKiller": true})),
    ] {
        create_fails_naming(
            json!({ "memory": mem }),
            &format!("linux.resources.{field}"),
        );
    }
}

/// busybox dd allocates its block: a 96 MiB block under a 32 MiB limit (no swap) is killed.
#[test]
fn a_memory_hog_is_oom_killed_with_137_and_an_oom_event() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&[
        "sh",
        "-c",
        "read go < /go; exec dd if=/dev/zero of=/dev/null bs=96M count=1",
    ]);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 32 * MIB, "swap": 32 * MIB}});
    // A fifo in the rootfs holds the hog back until `events` watches.
    nix::unistd::mkfifo(
        &b.rootfs().join("go"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    b.write();
    let id = unique("oom");
    h.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    let events_out = TempDir::new("events");
    let mut events = h
        .cmd()
        .args(["events", "--interval", "60s", &id])
        .stdout(std::fs::File::create(events_out.path().join("out")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first stats line says the watch is in place.
    wait_for(
        || {
            std::fs::read_to_string(events_out.path().join("out"))
                .is_ok_and(|s| s.contains("\"stats\""))
        },
        "the first stats event",
    );
    h.ok(&["start", &id]);
    std::fs::write(b.rootfs().join("go"), "go\n").unwrap();
    // The init is our grandchild's child, not ours: watch its exit through /proc.
    wait_for(
        || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')))
                .unwrap_or(true)
        },
        "the hog to die",
    );
    let status = events.wait().unwrap();
    assert!(status.success(), "events ends with the container");
    let lines = std::fs::read_to_string(events_out.path().join("out")).unwrap();
    assert!(
        lines
            .lines()
            .any(|l| serde_json::from_str::<Value>(l)
                .is_ok_and(|v| v["type"] == "oom" && v["id"] == id)),
        "an oom event: {lines}"
    );
    h.ok(&["delete", &id]);
    h.assert_no_trace(&id);

    // The same hog under `husk run` exits 137, as a SIGKILLed process does.
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1"]);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 32 * MIB, "swap": 32 * MIB}});
    b.write();
    let id = unique("oomrun");
    let (code, _, err) = h.run_bundle(&b, &id);
    assert_eq!(code, 137, "{err}");
    h.assert_no_trace(&id);
}

#[test]
fn cpu_limits_land_in_cpu_and_cpuset_and_a_quota_bounds_a_busy_loop() {
    skip_unless_root!();
    let c = Running::new(
        &["sh", "-c", "while :; do :; done"],
        json!({"cpu": {"shares": 512, "quota": 20000, "period": 100000, "burst": 1000, "idle": 0, "cpus": "0", "mems": "0"}}),
        true,
    );
    if c.v2("cpu") {
        assert_eq!(c.read("cpu", "cpu.weight"), "20", "shares 512 as a weight");
        assert_eq!(c.read("cpu", "cpu.max"), "20000 100000");
        assert_eq!(c.read("cpu", "cpu.max.burst"), "1000");
        assert_eq!(c.read("cpu", "cpu.idle"), "0");
    } else {
        assert_eq!(c.read("cpu", "cpu.shares"), "512");
        assert_eq!(c.read("cpu", "cpu.cfs_quota_us"), "20000");
        assert_eq!(c.read("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(c.read("cpu", "cpu.cfs_burst_us"), "1000");
        assert_eq!(c.read("cpu", "cpu.idle"), "0");
    }
    assert_eq!(c.read("cpuset", "cpuset.cpus"), "0");
    assert_eq!(c.read("cpuset", "cpuset.mems"), "0");
    // 20% of one cpu: over a second of wall time the loop gets about 0.2 s of cpu.
    let usage = || -> u64 {
        let out = c.h.ok(&["events", "--stats", &c.id]);
        let v: Value = serde_json::from_str(&out).unwrap();
        v["data"]["cpu"]["usage"]["total"].as_u64().unwrap_or(0)
    };
    let before = usage();
    std::thread::sleep(Duration::from_secs(1));
    let used = usage() - before;
    assert!(used > 50_000_000, "the loop ran: {used} ns");
    assert!(
        used < 400_000_000,
        "quota 20% bounds a second's cpu to ~0.2 s, got {used} ns"
    );
}

#[test]
fn realtime_cpu_limits_on_v1_and_their_refusal_on_v2() {
    skip_unless_root!();
    let rt = json!({"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000}});
    if pure_v2() {
        create_fails_naming(rt, "linux.resources.cpu.realtime");
        return;
    }
    if !Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        // A kernel without CONFIG_RT_GROUP_SCHED: the refusal is what there is to check.
        create_fails_naming(rt, "linux.resources.cpu.realtime");
        return;
    }
    // Directly under the root, which has the realtime budget to hand out, unless another
    // cgroup already took it (runc's suite gives all of it to its own test cgroup).
    let taken: Vec<String> = std::fs::read_dir("/sys/fs/cgroup/cpu")
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter(|e| {
            let r = std::fs::read_to_string(e.path().join("cpu.rt_runtime_us"));
            r.map(|r| r.trim() != "0").unwrap_or(false)
        })
        .map(|e| e.path().display().to_string())
        .collect();
    assert!(
        taken.is_empty(),
        "the host's realtime budget is held by {taken:?}: remove those cgroups"
    );
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["sleep", "100"]);
    let path = format!("/{}", unique("husk-rt"));
    b.config["linux"]["resources"] = rt;
    b.config["linux"]["cgroupsPath"] = json!(path);
    b.write();
    let id = unique("rt");
    h.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let dir = Path::new("/sys/fs/cgroup/cpu").join(path.trim_start_matches('/'));
    assert_eq!(
        std::fs::read_to_string(dir.join("cpu.rt_runtime_us"))
            .unwrap()
            .trim(),
        "10000"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("cpu.rt_period_us"))
            .unwrap()
            .trim(),
        "1000000"
    );
    h.ok(&["delete", "--force", &id]);
    assert!(!dir.exists(), "the cgroup husk made at {path} is removed");
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    skip_unless_root!();
    let h = Husk::new();
    // The bomb runs in a subshell (ash gives up at the first failed fork); counting the
    // error lines afterwards uses builtins only, as every pid is still taken.
    let mut b = TestBundle::busybox(&[
        "sh",
        "-c",
        "(for i in $(seq 30); do sleep 10 & echo started; done) 2>/tmp/err; \
         while read l; do echo \"err: $l\"; done < /tmp/err",
    ]);
    b.config["linux"]["resources"] = json!({"pids": {"limit": 10}});
    b.config["root"]["readonly"] = json!(false);
    b.write();
    let id = unique("pids");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_eq!(code, 0, "{err}");
    let started = out.lines().filter(|l| *l == "started").count();
    assert!(
        (1..10).contains(&started),
        "pids.max 10 holds the shell, the subshell and at most 8 sleeps: {out}"
    );
    assert!(
        out.contains("err: ") && out.contains("fork"),
        "the failed fork is reported: {out}"
    );
    h.assert_no_trace(&id);

    let c = Running::new(&["sleep", "100"], json!({"pids": {"limit": 10}}), false);
    assert_eq!(c.read("pids", "pids.max"), "10");
}

/// The first whole disk the host has, as major:minor.
fn a_block_device() -> Option<(u64, u64)> {
    let mut names: Vec<_> = std::fs::read_dir("/sys/block").ok()?.flatten().collect();
    names.sort_by_key(|e| e.file_name());
    names.into_iter().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        if ["loop", "zram", "sr", "nbd"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            return None;
        }
        let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
        let (a, b) = dev.trim().split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    })
}

#[test]
fn block_io_throttles_land_in_blkio_or_io_max() {
    skip_unless_root!();
    let Some((major, minor)) = a_block_device() else {
        skip!("no block device to throttle");
    };
    let dev = |rate: u64| json!([{"major": major, "minor": minor, "rate": rate}]);
    let c = Running::new(
        &["sleep", "100"],
        json!({"blockIO": {
            "throttleReadBpsDevice": dev(1048576),
            "throttleWriteBpsDevice": dev(2097152),
            "throttleReadIOPSDevice": dev(100),
            "throttleWriteIOPSDevice": dev(200),
        }}),
        false,
    );
    let d = format!("{major}:{minor}");
    if c.v2("io") {
        let max = c.read("io", "io.max");
        assert!(
            max.contains(&format!(
                "{d} rbps=1048576 wbps=2097152 riops=100 wiops=200"
            )),
            "io.max: {max}"
        );
    } else {
        for (file, v) in [
            ("blkio.throttle.read_bps_device", "1048576"),
            ("blkio.throttle.write_bps_device", "2097152"),
            ("blkio.throttle.read_iops_device", "100"),
            ("blkio.throttle.write_iops_device", "200"),
        ] {
            assert_eq!(c.read("blkio", file), format!("{d} {v}"), "{file}");
        }
    }
}

#[test]
fn block_io_weight_is_applied_or_refused_by_name() {
    skip_unless_root!();
    let Some((major, minor)) = a_block_device() else {
        skip!("no block device");
    };
    let res = json!({"blockIO": {"weight": 500, "weightDevice": [{"major": major, "minor": minor, "weight": 300}]}});
    // A weight needs BFQ (blkio.bfq.weight / io.bfq.weight) or iocost (io.weight); this host's
    // scheduler decides which exists.
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["sleep", "100"]);
    b.config["linux"]["resources"] = res;
    b.write();
    let id = unique("weight");
    let out = h.run(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    if out.status.success() {
        let pid = h.state(&id)["pid"].as_i64().unwrap();
        let (dir, v2) = cgroup_of(pid, if pure_v2() { "io" } else { "blkio" }).unwrap();
        let files: Vec<PathBuf> = if v2 {
            vec![dir.join("io.bfq.weight"), dir.join("io.weight")]
        } else {
            vec![dir.join("blkio.weight"), dir.join("blkio.bfq.weight")]
        };
        let file = files.iter().find(|f| f.exists()).expect("a weight file");
        let content = std::fs::read_to_string(file).unwrap();
        let want = if file.ends_with("io.weight") {
            "4950"
        } else {
            "500"
        };
        assert!(content.contains(want), "{}: {content}", file.display());
        h.ok(&["delete", "--force", &id]);
    } else {
        let err = text(&out.stderr);
        assert!(err.contains("linux.resources.blockIO.weight"), "{err}");
    }
    h.assert_no_trace(&id);
}

#[test]
fn hugepage_limits_land_in_hugetlb() {
    skip_unless_root!();
    if !host_has("hugetlb") {
        // No hugetlb controller: the refusal is what there is to check.
        create_fails_naming(
            json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}),
            "linux.resources.hugepageLimits",
        );
        return;
    }
    let c = Running::new(
        &["sleep", "100"],
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}),
        false,
    );
    let file = if c.v2("hugetlb") {
        "hugetlb.2MB.max"
    } else {
        "hugetlb.2MB.limit_in_bytes"
    };
    assert_eq!(c.read("hugetlb", file), "4194304");
    create_fails_naming(
        json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}),
        "linux.resources.hugepageLimits[0].pageSize",
    );
}

/// A character device outside runc's default list that root can open on this host.
fn an_openable_char_device() -> Option<(u64, u64)> {
    use std::os::unix::fs::FileTypeExt;
    use std::os::unix::fs::MetadataExt;
    ["/dev/loop-control", "/dev/vcs", "/dev/net/tun", "/dev/vcsa"]
        .iter()
        .find_map(|p| {
            let m = std::fs::metadata(p).ok()?;
            if !m.file_type().is_char_device() {
                return None;
            }
            std::fs::File::open(p).ok()?;
            let rdev = m.rdev();
            Some((nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev)))
        })
}

/// From inside: mknod works (CAP_MKNOD and runc's default "m" rules), but opening a device
/// the list does not allow fails, and one it allows opens. v1: devices.deny/allow; v2: the
/// eBPF program.
#[test]
fn the_device_list_denies_what_it_does_not_allow() {
    skip_unless_root!();
    let Some((major, minor)) = an_openable_char_device() else {
        skip!("no openable character device outside the default list");
    };
    let script = format!(
        "mknod /tmp/dev c {major} {minor} && ( (: < /tmp/dev) && echo OPENED || echo DENIED); echo x > /dev/null && echo NULL-OK"
    );
    for (rules, want) in [
        (json!([{"allow": false, "access": "rwm"}]), "DENIED"),
        (
            json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": major, "minor": minor, "access": "r"}]),
            "OPENED",
        ),
        (
            json!([{"allow": true, "access": "rwm"}, {"allow": false, "type": "c", "major": major, "minor": minor, "access": "rw"}]),
            "DENIED",
        ),
    ] {
        let h = Husk::new();
        let mut b = TestBundle::busybox(&["sh", "-c", &script]);
        let caps = &mut b.config["process"]["capabilities"];
        for set in ["bounding", "effective", "permitted"] {
            caps[set].as_array_mut().unwrap().push(json!("CAP_MKNOD"));
        }
        b.config["linux"]["resources"] = json!({ "devices": rules });
        b.config["root"]["readonly"] = json!(false);
        b.write();
        let id = unique("dev");
        let (code, out, err) = h.run_bundle(&b, &id);
        assert_eq!(code, 0, "{out} {err}");
        assert!(out.contains(want), "{rules}: wanted {want}: {out} {err}");
        assert!(
            out.contains("NULL-OK"),
            "runc's default devices stay usable: {out}"
        );
        h.assert_no_trace(&id);
    }
}

#[test]
fn unified_keys_are_written_where_cgroup2_has_the_controller() {
    skip_unless_root!();
    if pure_v2() {
        let c = Running::new(
            &["sleep", "100"],
            json!({"unified": {"pids.max": "7", "memory.high": "50000000"}}),
            false,
        );
        assert_eq!(c.read("pids", "pids.max"), "7");
        assert_eq!(
            c.read("memory", "memory.high"),
            "49999872",
            "rounded to pages"
        );
        return;
    }
    // Hybrid: hugetlb is on cgroup2 here, memory is not.
    if host_has("hugetlb")
        && cgroup_of(std::process::id() as i64, "hugetlb").is_some_and(|(_, v2)| v2)
    {
        let c = Running::new(
            &["sleep", "100"],
            json!({"unified": {"hugetlb.2MB.max": "2097152"}}),
            false,
        );
        assert_eq!(c.read("hugetlb", "hugetlb.2MB.max"), "2097152");
    }
    create_fails_naming(
        json!({"unified": {"memory.max": "1000000"}}),
        "linux.resources.unified.\"memory.max\"",
    );
    // runc's words, which its suite matches on.
    create_fails_naming(
        json!({"unified": {"memory.max": "1000000"}}),
        "invalid configuration",
    );
}

#[test]
fn limits_this_host_cannot_apply_are_errors_naming_them() {
    skip_unless_root!();
    if !host_has("net_cls") {
        create_fails_naming(
            json!({"network": {"classID": 1048577}}),
            "linux.resources.network.classID",
        );
    } else {
        let c = Running::new(
            &["sleep", "100"],
            json!({"network": {"classID": 1048577}}),
            false,
        );
        assert_eq!(c.read("net_cls", "net_cls.classid"), "1048577");
    }
    if !host_has("net_prio") {
        create_fails_naming(
            json!({"network": {"priorities": [{"name": "lo", "priority": 2}]}}),
            "linux.resources.network.priorities",
        );
    }
    // No such RDMA device anywhere: an error either way (no controller, or the kernel refuses).
    create_fails_naming(
        json!({"rdma": {"husk_no_such_hca": {"hcaHandles": 2}}}),
        "linux.resources.rdma",
    );
}

#[test]
fn pause_stops_a_counting_process_and_resume_restarts_it() {
    skip_unless_root!();
    let c = Running::new(
        &[
            "sh",
            "-c",
            "i=0; while :; do i=$((i+1)); echo $i > /count; usleep 20000; done",
        ],
        json!({}),
        true,
    );
    let count_file = c.bundle.rootfs().join("count");
    let count = || -> u64 {
        std::fs::read_to_string(&count_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    wait_for(|| count() > 2, "the counter to count");
    c.h.ok(&["pause", &c.id]);
    assert_eq!(c.h.state(&c.id)["status"], "paused");
    assert!(c.h.ok(&["list"]).contains("paused"));
    let frozen_at = count();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(), frozen_at, "no counting while paused");
    let again = c.h.run(&["pause", &c.id]);
    assert!(!again.status.success(), "pausing a paused container fails");
    c.h.ok(&["resume", &c.id]);
    assert_eq!(c.h.state(&c.id)["status"], "running");
    wait_for(|| count() > frozen_at + 2, "counting after resume");
    let out = c.h.run(&["resume", &c.id]);
    assert!(
        text(&out.stderr).contains("not paused"),
        "{}",
        text(&out.stderr)
    );
    // A paused container can be force-deleted: its frozen processes still die.
    c.h.ok(&["pause", &c.id]);
}

/// `husk update --resources - ID` with `json` on its stdin.
fn update_from_stdin(h: &Husk, id: &str, json: &str) -> std::process::Output {
    use std::io::Write;
    let mut update = h
        .cmd()
        .args(["update", "--resources", "-", id])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    update
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    update.wait_with_output().unwrap()
}

#[test]
fn update_changes_a_running_containers_limits_and_they_hold() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = TestBundle::busybox(&[
        "sh",
        "-c",
        "read go < /go; exec dd if=/dev/zero of=/dev/null bs=64M count=1",
    ]);
    b.config["linux"]["resources"] =
        json!({"memory": {"limit": 256 * MIB, "swap": 256 * MIB}, "pids": {"limit": 50}});
    nix::unistd::mkfifo(
        &b.rootfs().join("go"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    b.write();
    let id = unique("upd");
    let out_dir = TempDir::new("run");
    let mut run = h
        .cmd()
        .args(["run", "--bundle", b.path().to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out_dir.path().join("out")).unwrap())
        .stderr(std::fs::File::create(out_dir.path().join("err")).unwrap())
        .spawn()
        .unwrap();
    wait_for(
        || h.run(&["state", &id]).status.success() && h.state(&id)["status"] == "running",
        "the container to run",
    );
    let pid = h.state(&id)["pid"].as_i64().unwrap();
    // Flags, as runc takes them.
    h.ok(&[
        "update",
        "--memory",
        "32m",
        "--memory-swap",
        "32m",
        "--pids-limit",
        "20",
        &id,
    ]);
    let (mem, v2) = cgroup_of(pid, "memory").unwrap();
    let limit_file = if v2 {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    assert_eq!(
        std::fs::read_to_string(mem.join(limit_file))
            .unwrap()
            .trim(),
        (32 * MIB).to_string()
    );
    let (pids, _) = cgroup_of(pid, "pids").unwrap();
    assert_eq!(
        std::fs::read_to_string(pids.join("pids.max"))
            .unwrap()
            .trim(),
        "20"
    );
    // And JSON on stdin.
    let out = update_from_stdin(&h, &id, r#"{"pids": {"limit": 15}}"#);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(pids.join("pids.max"))
            .unwrap()
            .trim(),
        "15"
    );
    // The state remembers what was set.
    let state_file = h.root.path().join(&id).join("state.json");
    let state: Value = serde_json::from_slice(&std::fs::read(state_file).unwrap()).unwrap();
    assert_eq!(state["config"]["linux"]["resources"]["pids"]["limit"], 15);
    // checkBeforeUpdate refuses a limit below what the cgroup already uses.
    let out = update_from_stdin(
        &h,
        &id,
        r#"{"memory": {"limit": 4096, "checkBeforeUpdate": true}}"#,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("checkBeforeUpdate"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(mem.join(limit_file))
            .unwrap()
            .trim(),
        (32 * MIB).to_string()
    );
    let bad = h.run(&["update", "--memory", "12x", &id]);
    assert!(
        text(&bad.stderr).contains("--memory"),
        "{}",
        text(&bad.stderr)
    );
    // The 64 MiB block no longer fits.
    std::fs::write(b.rootfs().join("go"), "go\n").unwrap();
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(137), "the new limit is enforced");
    h.assert_no_trace(&id);
}

/// containerd sends a container's whole resources, device rules included, with every update
/// (CRI UpdateContainerResources). The same rules change nothing; other rules replace the
/// list (v1 files, v2 program) with no moment in which a device both lists allow is denied:
/// the container reads /dev/null in a loop through 20 updates and never fails.
#[test]
fn update_takes_the_device_list_and_replaces_it_without_a_window() {
    skip_unless_root!();
    let Some((major, minor)) = an_openable_char_device() else {
        skip!("no openable character device outside the default list");
    };
    let rules = |access: &str| {
        json!([{"allow": false, "access": "rwm"},
               {"allow": true, "type": "c", "major": major, "minor": minor, "access": access}])
    };
    let c = Running::with(
        &[
            "sh",
            "-c",
            "while :; do echo -n > /dev/null || echo denied >> /tmp/denied; done",
        ],
        json!({"devices": rules("r"), "pids": {"limit": 50}}),
        true,
        |config| {
            config["linux"]["devices"] =
                json!([{"path": "/dev/probe", "type": "c", "major": major, "minor": minor}])
        },
    );
    let exec = |script: &str| c.h.run(&["exec", &c.id, "sh", "-c", script]);
    let node = ": > /dev/probe";
    assert!(
        !exec(node).status.success(),
        "opened for writing with an \"r\" rule"
    );
    for i in 0..20 {
        let access = if i % 2 == 0 { "rw" } else { "r" };
        let update = json!({"devices": rules(access), "pids": {"limit": 50 + i}});
        let out = update_from_stdin(&c.h, &c.id, &update.to_string());
        assert!(out.status.success(), "update {i}: {}", text(&out.stderr));
    }
    // The last update allowed "r" only; one more the same way changes nothing.
    let out = update_from_stdin(&c.h, &c.id, &json!({"devices": rules("r")}).to_string());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !exec(node).status.success(),
        "still read-only after the updates"
    );
    let out = update_from_stdin(&c.h, &c.id, &json!({"devices": rules("rw")}).to_string());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = exec(node);
    assert!(
        out.status.success(),
        "writable after the update: {}",
        text(&out.stderr)
    );
    assert_eq!(c.read("pids", "pids.max"), "69");
    let denied = std::fs::read_to_string(c.bundle.rootfs().join("tmp/denied")).unwrap_or_default();
    assert_eq!(denied, "", "/dev/null was denied during an update");
}

/// Docker on cgroup v1 puts zeros in every config (blockIO.weight, cpu.shares...): runc reads
/// them as unset, and so does husk. pids.limit 0 is one process (runc writes 1), and a pids
/// object without a limit is no limit.
#[test]
fn zeros_runc_reads_as_unset_write_nothing() {
    skip_unless_root!();
    let c = Running::new(
        &["sleep", "100"],
        json!({"blockIO": {"weight": 0}, "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": ""},
               "memory": {"limit": 0, "reservation": 0, "swap": 0}, "pids": {}}),
        false,
    );
    assert_eq!(c.read("pids", "pids.max"), "max");
    if !c.v2("cpu") {
        assert_eq!(c.read("cpu", "cpu.shares"), "1024");
        assert_eq!(c.read("cpu", "cpu.cfs_quota_us"), "-1");
        assert!(
            c.read("memory", "memory.limit_in_bytes")
                .parse::<u64>()
                .unwrap()
                > 1 << 40
        );
    } else {
        assert_eq!(c.read("cpu", "cpu.weight"), "100");
        assert_eq!(c.read("cpu", "cpu.max"), "max 100000");
        assert_eq!(c.read("memory", "memory.max"), "max");
    }
    let out = update_from_stdin(&c.h, &c.id, r#"{"pids": {"limit": 0}}"#);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(c.read("pids", "pids.max"), "1", "0 is one process, as runc");
    let out = update_from_stdin(&c.h, &c.id, r#"{"pids": {"limit": -1}}"#);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(c.read("pids", "pids.max"), "max");

    // At create too: the container runs as its one process (the limit is set once the init
    // exists, as runc sets it; before, the init could not be forked).
    let c = Running::new(&["sleep", "100"], json!({"pids": {"limit": 0}}), true);
    assert_eq!(c.read("pids", "pids.max"), "1");
    assert_eq!(c.h.state(&c.id)["status"], "running");
}

#[test]
fn events_streams_runcs_stats_shape_until_the_container_stops() {
    skip_unless_root!();
    // Long enough for several intervals even in the slow emulated v2 guest.
    let c = Running::new(&["sleep", "4"], json!({"pids": {"limit": 9}}), true);
    let out = run_to_files(c.h.cmd().args(["events", "--interval", "200ms", &c.id]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.len() >= 2,
        "several stats lines while the container lives: {lines:?}"
    );
    let first = &lines[0];
    assert_eq!(first["type"], "stats");
    assert_eq!(first["id"], c.id.as_str());
    assert_eq!(first["data"]["pids"]["current"], 1);
    assert_eq!(first["data"]["pids"]["limit"], 9);
    assert!(first["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
    assert!(first["data"]["cpu"].is_object());
    let stopped = c.h.run(&["events", "--stats", &c.id]);
    assert!(!stopped.status.success(), "no stats of a stopped container");
}

#[test]
fn kill_all_and_delete_force_reach_every_process_even_when_paused() {
    skip_unless_root!();
    let c = Running::new(
        &["sh", "-c", "sleep 100 & sleep 100 & wait"],
        json!({}),
        true,
    );
    let (pids_dir, _) = cgroup_of(c.pid, "pids")
        .or_else(|| cgroup_of(c.pid, "memory"))
        .unwrap();
    wait_for(
        || {
            std::fs::read_to_string(pids_dir.join("cgroup.procs"))
                .unwrap()
                .lines()
                .count()
                == 3
        },
        "three processes",
    );
    c.h.ok(&["pause", &c.id]);
    c.h.ok(&["kill", "--all", &c.id, "KILL"]);
    wait_for(
        || {
            std::fs::read_to_string(pids_dir.join("cgroup.procs"))
                .map(|s| s.trim().is_empty())
                .unwrap_or(true)
        },
        "every process gone after kill --all of a paused container",
    );
    assert_eq!(c.h.state(&c.id)["status"], "stopped");
}

#[test]
fn cgroups_path_absolute_and_relative_are_made_and_removed() {
    skip_unless_root!();
    let top = unique("husk-cgpath");
    for (path, expect_abs) in [(format!("/{top}/a/b"), true), (format!("{top}/rel"), false)] {
        let h = Husk::new();
        let mut b = TestBundle::busybox(&["sleep", "100"]);
        b.config["linux"]["cgroupsPath"] = json!(path);
        b.write();
        let id = unique("path");
        h.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
        let pid = h.state(&id)["pid"].as_i64().unwrap();
        // memory: the hierarchy where husk's own cgroup is not the root on this host.
        let (dir, _) = cgroup_of(pid, "memory").unwrap();
        let (mine, _) = cgroup_of(std::process::id() as i64, "memory").unwrap();
        if expect_abs {
            let prefix = dir
                .to_str()
                .unwrap()
                .strip_suffix(&path)
                .unwrap_or_else(|| panic!("{} ends with {path}", dir.display()));
            assert!(
                mount_table().contains(&format!(" {prefix} ")),
                "an absolute path starts at the hierarchy's root: {}",
                dir.display()
            );
        } else {
            assert_eq!(
                dir,
                mine.join(&path),
                "a relative path goes under husk's own cgroup"
            );
        }
        h.ok(&["delete", "--force", &id]);
        let created_top = dir
            .ancestors()
            .find(|d| d.ends_with(&top))
            .unwrap()
            .to_path_buf();
        assert!(
            !created_top.exists(),
            "the levels husk made are removed: {}",
            created_top.display()
        );
    }
}

#[test]
fn systemd_cgroup_driver_without_systemd_is_a_clear_error() {
    skip_unless_root!();
    if Path::new("/run/systemd/system").exists() {
        skip!("systemd runs here; this case is for hosts without it");
    }
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!("system.slice:husk:test");
    b.write();
    let id = unique("sd");
    let out = h.run(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("systemd is not running"),
        "{}",
        text(&out.stderr)
    );
    h.assert_no_trace(&id);
}

/// The directories of cgroup path `path` (absolute) in every hierarchy of this host.
fn dirs_of_cgroup_path(path: &str) -> Vec<PathBuf> {
    if pure_v2() {
        return vec![Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'))];
    }
    std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").exists())
        .map(|p| p.join(path.trim_start_matches('/')))
        .collect()
}

/// A create into `path` must fail with `words` and leave the cgroup as it found it.
fn create_in_cgroup_fails(path: &str, words: &str) {
    let h = Husk::new();
    let mut b = TestBundle::busybox(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(path);
    b.write();
    let id = unique("cgtaken");
    let out = h.run(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(!out.status.success(), "create into {path} succeeded");
    let err = text(&out.stderr);
    assert!(err.contains(words), "{err}");
    assert!(err.contains("linux.cgroupsPath"), "{err}");
    assert!(!h.root.path().join(&id).exists());
}

/// runc refuses a container's cgroup that already holds a process (a second container there
/// would share its limits and die by the first's `kill --all`) or is frozen (the init would
/// hang in it). The cgroups are the caller's: husk leaves them, and their process, alone.
#[test]
fn a_cgroup_holding_a_process_or_frozen_is_refused_and_left_alone() {
    skip_unless_root!();
    let path = format!("/{}", unique("husk-taken"));
    let dirs = dirs_of_cgroup_path(&path);
    let mut sleeper = Command::new("sleep").arg("100").spawn().unwrap();
    for d in &dirs {
        std::fs::create_dir_all(d).unwrap();
        for f in ["cpuset.cpus", "cpuset.mems"] {
            // A new v1 cpuset has none, and takes no process until it has.
            if let Ok(v) = std::fs::read_to_string(d.parent().unwrap().join(f)) {
                std::fs::write(d.join(f), v.trim()).unwrap();
            }
        }
        std::fs::write(d.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    }
    create_in_cgroup_fails(&path, "container's cgroup is not empty");
    for d in &dirs {
        assert!(
            d.exists(),
            "husk removed a cgroup it did not make: {}",
            d.display()
        );
    }
    let procs = std::fs::read_to_string(dirs[0].join("cgroup.procs")).unwrap();
    assert_eq!(
        procs.trim(),
        sleeper.id().to_string(),
        "the caller's process stays"
    );
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    wait_for(
        || std::fs::read_to_string(dirs[0].join("cgroup.procs")).is_ok_and(|p| p.is_empty()),
        "the sleeper to leave its cgroup",
    );

    // Frozen, and empty: each freezer there is (a hybrid host has the v1 freezer and the
    // cgroup2 tree's cgroup.freeze, and either would hold the init).
    for d in &dirs {
        let (file, frozen, thawed) = if d.join("freezer.state").exists() {
            ("freezer.state", "FROZEN", "THAWED")
        } else if d.join("cgroup.freeze").exists() {
            ("cgroup.freeze", "1", "0")
        } else {
            continue;
        };
        std::fs::write(d.join(file), frozen).unwrap();
        create_in_cgroup_fails(&path, "unexpectedly frozen");
        std::fs::write(d.join(file), thawed).unwrap();
    }
    for d in dirs.iter().rev() {
        std::fs::remove_dir(d).unwrap();
    }
}

/// A container may make cgroups inside its own (its cgroup mounted writable, a systemd in
/// it): `delete --force` kills what runs there and removes them with its own, as runc does.
#[test]
fn delete_force_removes_the_sub_cgroups_a_container_made() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let id = unique("subcg");
    h.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    let pid_file = h.root.path().join("exec.pid");
    h.ok(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "1000",
    ]);
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let mut subs = Vec::new();
    for controller in ["memory", "freezer", "pids"] {
        let Some((dir, _)) = cgroup_of(pid.parse().unwrap(), controller) else {
            continue;
        };
        let sub = dir.join("foo");
        if !sub.exists() {
            std::fs::create_dir(&sub).unwrap();
            std::fs::write(sub.join("cgroup.procs"), &pid).unwrap();
            subs.push(sub);
        }
    }
    assert!(!subs.is_empty());
    h.ok(&["delete", "--force", &id]);
    assert!(!h.root.path().join(&id).exists(), "the container is gone");
    wait_for(
        || !Path::new(&format!("/proc/{pid}")).exists(),
        "the process in the sub-cgroup to die",
    );
    for sub in &subs {
        assert!(!sub.exists(), "{} left", sub.display());
    }
    h.assert_no_trace(&id);
}

/// Updates in runc's order where the kernel checks one value against another: no memory
/// limit after a memory+swap limit lifts the swap one too (v1); a shorter CFS period with its
/// quota under a parent that caps the quota (v1: the period alone is refused until the quota
/// follows).
#[test]
fn updates_write_dependent_values_in_an_order_the_kernel_accepts() {
    skip_unless_root!();
    let c = Running::new(
        &["sleep", "100"],
        json!({"memory": {"limit": 32 * MIB, "swap": 64 * MIB}}),
        true,
    );
    let out = c.h.run(&["update", "--memory", "-1", &c.id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    if c.v2("memory") {
        assert_eq!(c.read("memory", "memory.max"), "max");
        return;
    }
    let unlimited = |f: &str| c.read("memory", f).parse::<u64>().unwrap() > 1 << 50;
    assert!(unlimited("memory.limit_in_bytes"));
    if cgroup_of(c.pid, "memory")
        .unwrap()
        .0
        .join("memory.memsw.limit_in_bytes")
        .exists()
    {
        assert!(unlimited("memory.memsw.limit_in_bytes"));
    }

    // A pod cgroup capped at 50% of a CPU, the container inside it.
    let pod = format!("/{}", unique("husk-pod"));
    let (cpu_root, _) = cgroup_of(1, "cpu").unwrap();
    let pod_dir = cpu_root.join(pod.trim_start_matches('/'));
    std::fs::create_dir_all(&pod_dir).unwrap();
    std::fs::write(pod_dir.join("cpu.cfs_quota_us"), "50000").unwrap();
    let c = Running::with(&["sleep", "100"], json!({}), true, |config| {
        config["linux"]["cgroupsPath"] = json!(format!("{pod}/ctr"));
    });
    let too_much = c.h.run(&["update", "--cpu-quota", "60000", &c.id]);
    assert!(!too_much.status.success(), "60% under a 50% pod");
    let out = c.h.run(&[
        "update",
        "--cpu-period",
        "10000",
        "--cpu-quota",
        "3000",
        &c.id,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(c.read("cpu", "cpu.cfs_period_us"), "10000");
    assert_eq!(c.read("cpu", "cpu.cfs_quota_us"), "3000");
    drop(c);
    let _ = std::fs::remove_dir(&pod_dir);
}

/// runc keeps only r, w and m of a device rule's access ("rwa" is "rw"): such a config runs,
/// and the rule holds.
#[test]
fn device_access_letters_the_kernel_does_not_know_are_dropped() {
    skip_unless_root!();
    let c = Running::with(
        &[
            "sh",
            "-c",
            "head -c 1 /dev/kmsg >/dev/null 2>&1 && echo read || echo denied; sleep 100",
        ],
        json!({"devices": [{"allow": false, "access": "rwm"},
                           {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "rwa"}]}),
        true,
        |config| {
            config["linux"]["devices"] =
                json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]);
        },
    );
    let out = c.h.ok(&[
        "exec",
        &c.id,
        "sh",
        "-c",
        "head -c 1 /dev/kmsg >/dev/null 2>&1 && echo read || echo denied",
    ]);
    assert_eq!(out, "denied\n");
}
