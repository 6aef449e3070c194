//! Each section of config.json, checked from inside the container.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::Value;

use crate::Tap;

pub fn all(t: &mut Tap, c: &Value, e: &Value) {
    namespaces(t, c, e);
    uts(t, c);
    mounts(t, c);
    root(t, c);
    devices(t, c);
    masked_and_readonly(t, c);
    process(t, c);
    capabilities(t, c);
    rlimits(t, c);
    sysctl(t, c);
    id_mappings(t, c);
    cgroups(t, c);
    seccomp(t, c);
    scheduling(t, c);
    time_offsets(t, c);
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn arr(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

const NAMESPACES: &[(&str, &str)] = &[
    ("pid", "pid"),
    ("network", "net"),
    ("mount", "mnt"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("user", "user"),
    ("cgroup", "cgroup"),
    ("time", "time"),
];

/// linux.namespaces: a new one differs from the host's, a joined one is the path's, an
/// absent one is the host's.
fn namespaces(t: &mut Tap, c: &Value, e: &Value) {
    let listed = arr(&c["linux"]["namespaces"]);
    for (typ, proc_name) in NAMESPACES {
        let host = s(&e["host_ns"][proc_name]);
        if host.is_empty() {
            continue; // the host has no such namespace type
        }
        // pid and time namespaces apply to children: the checker is one, so its own is right.
        let mine = fs::read_link(format!("/proc/self/ns/{proc_name}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        match listed.iter().find(|n| n["type"] == *typ) {
            Some(n) if n["path"].is_string() => {
                let want = s(&e["joined"][s(&n["path"])]);
                t.eq(
                    format!("linux.namespaces: {typ} joined by path is that namespace"),
                    mine.as_str(),
                    want,
                );
            }
            Some(_) => t.check(
                mine != host,
                format!("linux.namespaces: a new {typ} namespace differs from the host's"),
                format!("{mine} is the host's"),
            ),
            None => t.eq(
                format!("linux.namespaces: {typ} not listed is inherited from the runtime"),
                mine.as_str(),
                host,
            ),
        }
    }
}

fn uname() -> Option<libc::utsname> {
    // SAFETY: utsname is plain bytes; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid utsname for the call.
    (unsafe { libc::uname(&mut u) } == 0).then_some(u)
}

fn cstr(field: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn uts(t: &mut Tap, c: &Value) {
    // A case whose seccomp filter denies uname checks that instead.
    let Some(u) = uname() else { return };
    if let Some(h) = c["hostname"].as_str() {
        t.eq(
            "hostname is the container's hostname",
            cstr(&u.nodename),
            h.to_string(),
        );
    }
    if let Some(d) = c["domainname"].as_str() {
        t.eq(
            "domainname is the container's domainname",
            cstr(&u.domainname),
            d.to_string(),
        );
    }
}

/// One line of /proc/self/mountinfo.
struct MountLine {
    index: usize,
    point: String,
    opts: Vec<String>,
    fstype: String,
    super_opts: Vec<String>,
}

fn mountinfo() -> Vec<MountLine> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .enumerate()
        .filter_map(|(index, l)| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountLine {
                index,
                point: f.get(4)?.replace("\\040", " "),
                opts: f.get(5)?.split(',').map(str::to_string).collect(),
                fstype: r.first()?.to_string(),
                super_opts: r
                    .get(2)
                    .map(|o| o.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// mounts: each destination is a mount point of its type, with its flags, in config order.
fn mounts(t: &mut Tap, c: &Value) {
    let info = mountinfo();
    let mut last_index = 0;
    let mut last_dest = String::new();
    for m in arr(&c["mounts"]) {
        let dest = s(&m["destination"]).trim_end_matches('/').to_string();
        let dest = if dest.is_empty() {
            "/".to_string()
        } else {
            dest
        };
        let opts: Vec<String> = arr(&m["options"])
            .iter()
            .map(|o| s(o).to_string())
            .collect();
        let found = info.iter().rev().find(|l| l.point == dest);
        let Some(line) = found else {
            t.check(
                false,
                format!("mounts: {dest} is a mount point"),
                "not in /proc/self/mountinfo",
            );
            continue;
        };
        t.check(true, format!("mounts: {dest} is a mount point"), "");
        let bind = opts.iter().any(|o| o == "bind" || o == "rbind") || s(&m["type"]) == "bind";
        if !bind && !s(&m["type"]).is_empty() {
            let want = s(&m["type"]);
            let got = line.fstype.as_str();
            // cgroup: a cgroup2 host shows cgroup2; the hybrid's v1 hierarchies are tmpfs-held.
            let same = got == want || (want == "cgroup" && (got == "cgroup2" || got == "tmpfs"));
            t.check(
                same,
                format!("mounts: {dest} has type {want}"),
                format!("got {got}"),
            );
        }
        for (opt, flag) in [
            ("ro", "ro"),
            ("nosuid", "nosuid"),
            ("nodev", "nodev"),
            ("noexec", "noexec"),
        ] {
            if opts.iter().any(|o| o == opt) {
                t.check(
                    line.opts.iter().any(|o| o == flag),
                    format!("mounts: {dest} is {opt}"),
                    format!("options {:?}", line.opts),
                );
            }
        }
        for opt in &opts {
            if let Some(mode) = opt.strip_prefix("mode=") {
                let want_mode = mode.trim_start_matches('0');
                let shown = line.super_opts.iter().find_map(|o| o.strip_prefix("mode="));
                // tmpfs shows no mode= when it is its default, 1777.
                let got_mode = shown.map(|m| m.trim_start_matches('0')).unwrap_or("1777");
                t.check(
                    got_mode == want_mode,
                    format!("mounts: {dest} has {opt}"),
                    format!("super options {:?}", line.super_opts),
                );
            }
        }
        // Order: a later entry is mounted after an earlier one (not checked across nested
        // mounts, which the kernel lists under their parent).
        if !dest.starts_with(&format!("{last_dest}/"))
            && !last_dest.is_empty()
            && !last_dest.starts_with(&format!("{dest}/"))
        {
            t.check(
                line.index > last_index,
                format!("mounts: {dest} is mounted after {last_dest} (config order)"),
                format!("mountinfo line {} before {}", line.index, last_index),
            );
        }
        last_index = line.index;
        last_dest = dest;
    }
}

fn statvfs_ro(path: &str) -> Option<bool> {
    let p = CString::new(path).ok()?;
    // SAFETY: statvfs is plain data; the call fills it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `p` is a valid C string and `st` a valid statvfs.
    if unsafe { libc::statvfs(p.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_flag & libc::ST_RDONLY != 0)
}

fn root(t: &mut Tap, c: &Value) {
    let ro = c["root"]["readonly"].as_bool().unwrap_or(false);
    t.eq(
        "root.readonly: / is read-only exactly when asked",
        statvfs_ro("/"),
        Some(ro),
    );
    t.check(
        Path::new("/conformance/checker").exists(),
        "root.path: the bundle's rootfs is the container's /",
        "the checker is not at /conformance/checker",
    );
}

fn dev_is(path: &str, kind: char, major: u64, minor: u64) -> Result<(), String> {
    let m = fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    let ft = m.file_type();
    let k = if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'b'
    } else if ft.is_fifo() {
        'p'
    } else {
        '?'
    };
    let rdev = m.rdev();
    let (ma, mi) = (libc::major(rdev) as u64, libc::minor(rdev) as u64);
    if k != kind || (kind != 'p' && (ma, mi) != (major, minor)) {
        return Err(format!("{path} is {k} {ma}:{mi}"));
    }
    Ok(())
}

fn devices(t: &mut Tap, c: &Value) {
    let dev_bound = arr(&c["mounts"]).iter().any(|m| {
        s(&m["destination"]) == "/dev"
            && arr(&m["options"])
                .iter()
                .any(|o| o == "bind" || o == "rbind")
    });
    if !dev_bound {
        for (name, ma, mi) in [
            ("null", 1, 3),
            ("zero", 1, 5),
            ("full", 1, 7),
            ("random", 1, 8),
            ("urandom", 1, 9),
            ("tty", 5, 0),
        ] {
            let r = dev_is(&format!("/dev/{name}"), 'c', ma, mi);
            t.check(
                r.is_ok(),
                format!("default devices: /dev/{name} is c {ma}:{mi}"),
                r.err().unwrap_or_default(),
            );
        }
        for (link, target) in [
            ("/dev/fd", "/proc/self/fd"),
            ("/dev/stdin", "/proc/self/fd/0"),
            ("/dev/stdout", "/proc/self/fd/1"),
            ("/dev/stderr", "/proc/self/fd/2"),
        ] {
            let got = fs::read_link(link)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            t.eq(
                format!("default devices: {link} -> {target}"),
                got.as_str(),
                target,
            );
        }
        let ptmx = fs::read_link("/dev/ptmx")
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        t.check(
            ptmx == "pts/ptmx" || ptmx == "/dev/pts/ptmx",
            "default devices: /dev/ptmx -> pts/ptmx",
            ptmx,
        );
    }
    for d in arr(&c["linux"]["devices"]) {
        let path = s(&d["path"]);
        let kind = s(&d["type"]).chars().next().unwrap_or('c');
        let kind = if kind == 'u' { 'c' } else { kind };
        let r = dev_is(
            path,
            kind,
            d["major"].as_u64().unwrap_or(0),
            d["minor"].as_u64().unwrap_or(0),
        );
        t.check(
            r.is_ok(),
            format!("linux.devices: {path} has its type and numbers"),
            r.err().unwrap_or_default(),
        );
        let meta = fs::metadata(path);
        if let (Some(mode), Ok(m)) = (d["fileMode"].as_u64(), &meta) {
            t.eq(
                format!("linux.devices: {path} has fileMode {mode:o}"),
                u64::from(m.mode()) & 0o7777,
                mode,
            );
        }
        if let (Some(uid), Ok(m)) = (d["uid"].as_u64(), &meta) {
            t.eq(
                format!("linux.devices: {path} is owned by uid {uid}"),
                u64::from(m.uid()),
                uid,
            );
        }
        if let (Some(gid), Ok(m)) = (d["gid"].as_u64(), &meta) {
            t.eq(
                format!("linux.devices: {path} has gid {gid}"),
                u64::from(m.gid()),
                gid,
            );
        }
    }
}

/// The filesystem magic of `path` (statfs f_type).
fn fs_magic(path: &str) -> Option<i64> {
    let p = CString::new(path).ok()?;
    // SAFETY: statfs is plain data; the call fills it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `p` is a valid C string and `st` a valid statfs.
    if unsafe { libc::statfs(p.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_type as i64)
}

/// How a masked path looks from inside: a directory is an empty, read-only tmpfs; anything
/// else is the null device (1:3) or reads empty. A path that cannot be read is not masked:
/// masking hides content, it does not make the path fail.
fn masked_as_expected(p: &str, m: &fs::Metadata) -> Result<(), String> {
    if m.is_dir() {
        let entries = fs::read_dir(p)
            .map_err(|e| format!("cannot list it: {e}"))?
            .count();
        let tmpfs = fs_magic(p) == Some(libc::TMPFS_MAGIC);
        return match (tmpfs, statvfs_ro(p), entries) {
            (true, Some(true), 0) => Ok(()),
            (tmpfs, ro, n) => Err(format!("tmpfs {tmpfs}, read-only {ro:?}, {n} entries")),
        };
    }
    if m.file_type().is_char_device() && m.rdev() == libc::makedev(1, 3) {
        return Ok(());
    }
    match fs::read(p) {
        Ok(b) if b.is_empty() => Ok(()),
        Ok(b) => Err(format!("{} bytes readable", b.len())),
        Err(e) => Err(format!("not the null device, and reading it fails: {e}")),
    }
}

fn masked_and_readonly(t: &mut Tap, c: &Value) {
    for p in arr(&c["linux"]["maskedPaths"]) {
        let p = s(&p);
        // A path the container does not have needs no mask (the spec allows it).
        let Ok(m) = fs::metadata(p) else { continue };
        let res = masked_as_expected(p, &m);
        let why = res.as_ref().err().cloned().unwrap_or_default();
        t.check(
            res.is_ok(),
            format!("linux.maskedPaths: {p} shows nothing"),
            why,
        );
    }
    for p in arr(&c["linux"]["readonlyPaths"]) {
        let p = s(&p);
        if !Path::new(p).exists() {
            continue;
        }
        t.eq(
            format!("linux.readonlyPaths: {p} is read-only"),
            statvfs_ro(p),
            Some(true),
        );
    }
}

fn status_field(name: &str) -> String {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

fn process(t: &mut Tap, c: &Value) {
    let p = &c["process"];
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    t.eq(
        "process.user.uid",
        u64::from(uid),
        p["user"]["uid"].as_u64().unwrap_or(0),
    );
    t.eq(
        "process.user.gid",
        u64::from(gid),
        p["user"]["gid"].as_u64().unwrap_or(0),
    );
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: the buffer holds 256 gids.
    let n = unsafe { libc::getgroups(256, groups.as_mut_ptr()) };
    groups.truncate(n.max(0) as usize);
    for g in arr(&p["user"]["additionalGids"]) {
        let g = g.as_u64().unwrap_or(0) as libc::gid_t;
        t.check(
            groups.contains(&g),
            format!("process.user.additionalGids: in group {g}"),
            format!("groups {groups:?}"),
        );
    }
    if let Some(umask) = p["user"]["umask"].as_u64() {
        t.eq(
            "process.user.umask",
            u64::from_str_radix(&status_field("Umask"), 8).ok(),
            Some(umask),
        );
    }
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let want_cwd = match s(&p["cwd"]).trim_end_matches('/') {
        "" => "/",
        w => w,
    };
    t.eq(
        "process.cwd is the working directory",
        cwd.as_str(),
        want_cwd,
    );
    for kv in arr(&p["env"]) {
        let kv = s(&kv);
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        t.eq(
            format!("process.env: {k}"),
            std::env::var(k).ok(),
            Some(v.to_string()),
        );
    }
    let cmdline = fs::read("/proc/self/cmdline").unwrap_or_default();
    let body = cmdline.strip_suffix(&[0]).unwrap_or(&cmdline);
    let got: Vec<String> = body
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let want: Vec<String> = arr(&p["args"]).iter().map(|a| s(a).to_string()).collect();
    t.eq("process.args are the process's argv", got, want);
    let nnp = p["noNewPrivileges"].as_bool().unwrap_or(false);
    t.eq(
        "process.noNewPrivileges",
        status_field("NoNewPrivs"),
        if nnp { "1" } else { "0" }.to_string(),
    );
    if let Some(adj) = p["oomScoreAdj"].as_i64() {
        let got = fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
        t.eq(
            "process.oomScoreAdj",
            got.trim().parse::<i64>().ok(),
            Some(adj),
        );
    }
}

/// The capability names this checker knows, in bit order.
const CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

fn mask_of(list: &Value) -> u64 {
    arr(list)
        .iter()
        .filter_map(|c| {
            CAPS.iter()
                .position(|n| s(c).trim_start_matches("CAP_") == *n)
        })
        .fold(0, |m, i| m | 1 << i)
}

/// process.capabilities, set by set, from /proc/self/status. Root's exec raises P and E to
/// the bounding set; a non-root user's P and E are what ambient grants.
fn capabilities(t: &mut Tap, c: &Value) {
    let caps = &c["process"]["capabilities"];
    let last: u32 = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(40);
    let known: u64 = if last >= 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    };
    let read = |f: &str| u64::from_str_radix(&status_field(f), 16).unwrap_or(u64::MAX) & known;
    let root = c["process"]["user"]["uid"].as_u64().unwrap_or(0) == 0;
    t.eq(
        "process.capabilities.bounding",
        read("CapBnd"),
        mask_of(&caps["bounding"]) & known,
    );
    t.eq(
        "process.capabilities.inheritable",
        read("CapInh"),
        mask_of(&caps["inheritable"]) & known,
    );
    // An ambient capability needs to be permitted and inheritable too (capabilities(7)).
    t.eq(
        "process.capabilities.ambient (those also permitted and inheritable)",
        read("CapAmb"),
        mask_of(&caps["ambient"])
            & mask_of(&caps["inheritable"])
            & mask_of(&caps["permitted"])
            & known,
    );
    if !root {
        let amb =
            mask_of(&caps["ambient"]) & mask_of(&caps["inheritable"]) & mask_of(&caps["permitted"]);
        t.eq(
            "process.capabilities.permitted (non-root: what ambient keeps)",
            read("CapPrm"),
            amb & known,
        );
        t.eq(
            "process.capabilities.effective (non-root: what ambient keeps)",
            read("CapEff"),
            amb & known,
        );
    }
}

fn rlimits(t: &mut Tap, c: &Value) {
    for r in arr(&c["process"]["rlimits"]) {
        let name = s(&r["type"]);
        let res = match name {
            "RLIMIT_CPU" => libc::RLIMIT_CPU,
            "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
            "RLIMIT_DATA" => libc::RLIMIT_DATA,
            "RLIMIT_STACK" => libc::RLIMIT_STACK,
            "RLIMIT_CORE" => libc::RLIMIT_CORE,
            "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
            "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
            "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
            "RLIMIT_AS" => libc::RLIMIT_AS,
            "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
            "RLIMIT_NICE" => libc::RLIMIT_NICE,
            "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
            "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
            _ => continue,
        };
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `l` is a valid rlimit for the call.
        unsafe { libc::getrlimit(res, &mut l) };
        t.eq(
            format!("process.rlimits: {name} soft"),
            l.rlim_cur,
            r["soft"].as_u64().unwrap_or(0),
        );
        t.eq(
            format!("process.rlimits: {name} hard"),
            l.rlim_max,
            r["hard"].as_u64().unwrap_or(0),
        );
    }
}

fn sysctl(t: &mut Tap, c: &Value) {
    if let Some(map) = c["linux"]["sysctl"].as_object() {
        for (k, v) in map {
            let got = fs::read_to_string(format!("/proc/sys/{}", k.replace('.', "/")))
                .unwrap_or_default();
            t.eq(format!("linux.sysctl: {k}"), got.trim(), s(v));
        }
    }
}

fn id_mappings(t: &mut Tap, c: &Value) {
    for (field, file) in [("uidMappings", "uid_map"), ("gidMappings", "gid_map")] {
        let maps = arr(&c["linux"][field]);
        if maps.is_empty() {
            continue;
        }
        let text = fs::read_to_string(format!("/proc/self/{file}")).unwrap_or_default();
        let got: Vec<Vec<u64>> = text
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
            .collect();
        let want: Vec<Vec<u64>> = maps
            .iter()
            .map(|m| {
                vec![
                    m["containerID"].as_u64().unwrap_or(0),
                    m["hostID"].as_u64().unwrap_or(0),
                    m["size"].as_u64().unwrap_or(0),
                ]
            })
            .collect();
        t.eq(
            format!("linux.{field} are the user namespace's {file}"),
            got,
            want,
        );
    }
}

/// A cgroup file of the container, seen through its cgroup namespace and mount: the v1
/// controller's hierarchy, or the unified one.
fn cg(controller: &str, v1: &str, v2: &str) -> Option<String> {
    [
        format!("/sys/fs/cgroup/{controller}/{v1}"),
        format!("/sys/fs/cgroup/{v2}"),
    ]
    .iter()
    .find_map(|p| fs::read_to_string(p).ok())
    .map(|v| v.trim().to_string())
}

fn cgroups(t: &mut Tap, c: &Value) {
    let r = &c["linux"]["resources"];
    let page = |v: i64| v / 4096 * 4096;
    if let Some(l) = r["memory"]["limit"].as_i64() {
        t.eq(
            "linux.resources.memory.limit",
            cg("memory", "memory.limit_in_bytes", "memory.max").and_then(|v| v.parse::<i64>().ok()),
            Some(page(l)),
        );
    }
    if let Some(l) = r["memory"]["reservation"].as_i64() {
        t.eq(
            "linux.resources.memory.reservation",
            cg("memory", "memory.soft_limit_in_bytes", "memory.low")
                .and_then(|v| v.parse::<i64>().ok()),
            Some(page(l)),
        );
    }
    if let Some(v) = r["pids"]["limit"].as_i64() {
        t.eq(
            "linux.resources.pids.limit",
            cg("pids", "pids.max", "pids.max"),
            Some(v.to_string()),
        );
    }
    if let Some(q) = r["cpu"]["quota"].as_i64() {
        let period = r["cpu"]["period"].as_i64().unwrap_or(100_000);
        let got = cg("cpu", "cpu.cfs_quota_us", "cpu.max")
            .map(|v| v.split_whitespace().next().unwrap_or("").to_string());
        t.eq("linux.resources.cpu.quota", got, Some(q.to_string()));
        let got = cg("cpu", "cpu.cfs_period_us", "cpu.max")
            .map(|v| v.split_whitespace().last().unwrap_or("").to_string());
        t.eq("linux.resources.cpu.period", got, Some(period.to_string()));
    }
    if let Some(shares) = r["cpu"]["shares"].as_u64() {
        let got = cg("cpu", "cpu.shares", "cpu.weight").and_then(|v| v.parse::<u64>().ok());
        // v2 converts shares to weight: 1 + ((shares - 2) * 9999) / 262142.
        let ok = got == Some(shares) || got == Some(1 + ((shares.max(2) - 2) * 9999) / 262_142);
        t.check(ok, "linux.resources.cpu.shares", format!("got {got:?}"));
    }
    if let Some(cpus) = r["cpu"]["cpus"].as_str() {
        t.eq(
            "linux.resources.cpu.cpus",
            cg("cpuset", "cpuset.cpus", "cpuset.cpus"),
            Some(cpus.to_string()),
        );
    }
    if let Some(mems) = r["cpu"]["mems"].as_str() {
        t.eq(
            "linux.resources.cpu.mems",
            cg("cpuset", "cpuset.mems", "cpuset.mems"),
            Some(mems.to_string()),
        );
    }
    for h in arr(&r["hugepageLimits"]) {
        let size = s(&h["pageSize"]);
        let got = cg(
            "hugetlb",
            &format!("hugetlb.{size}.limit_in_bytes"),
            &format!("hugetlb.{size}.max"),
        )
        .or_else(|| {
            fs::read_to_string(format!("/sys/fs/cgroup/unified/hugetlb.{size}.max"))
                .ok()
                .map(|v| v.trim().to_string())
        });
        let want = h["limit"].as_u64().unwrap_or(0);
        let ok = got.as_deref().and_then(|v| v.parse::<u64>().ok()) == Some(want);
        t.check(
            ok,
            format!("linux.resources.hugepageLimits: {size}"),
            format!("got {got:?}"),
        );
    }
    for d in arr(&r["devices"]) {
        // An allowed or denied device, tried: only rules naming one device node are checked.
        let (Some(major), Some(minor)) = (d["major"].as_i64(), d["minor"].as_i64()) else {
            continue;
        };
        if s(&d["type"]) != "c" || !s(&d["access"]).contains('r') {
            continue;
        }
        let probe = "/conformance/devprobe";
        let _ = fs::remove_file(probe);
        let p = CString::new(probe).unwrap_or_default();
        // SAFETY: `p` is a valid C string.
        let made = unsafe {
            libc::mknod(
                p.as_ptr(),
                libc::S_IFCHR | 0o600,
                libc::makedev(major as u32, minor as u32),
            )
        } == 0;
        let mknod_error = std::io::Error::last_os_error();
        let allow = d["allow"].as_bool().unwrap_or(false);
        let name = format!(
            "linux.resources.devices: c {major}:{minor} {}",
            if allow { "allowed" } else { "denied" }
        );
        if !made {
            // The case gives CAP_MKNOD: a node that cannot be made leaves the rule unchecked.
            t.check(false, name, format!("mknod {probe}: {mknod_error}"));
            continue;
        }
        // A denial by the device cgroup is EPERM; any other error is not the rule's doing.
        let opened = match fs::File::open(probe) {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(false),
            Err(e) => Err(e),
        };
        match opened {
            Ok(opened) => t.eq(name, opened, allow),
            Err(e) => t.check(
                false,
                name,
                format!("opening the node failed otherwise: {e}"),
            ),
        }
        let _ = fs::remove_file(probe);
    }
}

/// linux.seccomp: the errno of rules this checker can provoke safely (mkdir, chmod, uname).
fn seccomp(t: &mut Tap, c: &Value) {
    let sc = &c["linux"]["seccomp"];
    if sc.is_null() {
        return;
    }
    t.eq(
        "linux.seccomp: the process is filtered",
        status_field("Seccomp"),
        "2".to_string(),
    );
    for rule in arr(&sc["syscalls"]) {
        if s(&rule["action"]) != "SCMP_ACT_ERRNO" || !arr(&rule["args"]).is_empty() {
            continue;
        }
        let errno = rule["errnoRet"].as_i64().unwrap_or(libc::EPERM as i64) as i32;
        for name in arr(&rule["names"]) {
            let ret = match s(&name) {
                "mkdir" | "mkdirat" => {
                    // SAFETY: a valid C string literal.
                    unsafe { libc::mkdir(c"/conformance/seccomp-probe".as_ptr(), 0o755) }
                }
                "uname" => {
                    // SAFETY: utsname is plain data.
                    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
                    // SAFETY: `u` is valid for the call.
                    unsafe { libc::uname(&mut u) }
                }
                _ => continue,
            };
            let got = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            t.eq(
                format!("linux.seccomp: {} gets errno {errno}", s(&name)),
                (ret, got),
                (-1, errno),
            );
        }
    }
}

fn scheduling(t: &mut Tap, c: &Value) {
    if let Some(domain) = c["linux"]["personality"]["domain"].as_str() {
        // SAFETY: 0xffffffff only queries the persona.
        let got = unsafe { libc::personality(0xffff_ffff) } & 0xff;
        t.eq(
            format!("linux.personality.domain {domain}"),
            got,
            if domain == "LINUX32" { 8 } else { 0 },
        );
    }
    let io = &c["process"]["ioPriority"];
    if io.is_object() {
        let class = match s(&io["class"]) {
            "IOPRIO_CLASS_RT" => 1,
            "IOPRIO_CLASS_IDLE" => 3,
            _ => 2,
        };
        // SAFETY: plain syscall: IOPRIO_WHO_PROCESS, the caller.
        let got = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) };
        t.eq(
            "process.ioPriority",
            got,
            (class << 13 | io["priority"].as_i64().unwrap_or(0)) as libc::c_long,
        );
    }
    let sch = &c["process"]["scheduler"];
    if sch.is_object() {
        let policy = [
            "SCHED_OTHER",
            "SCHED_FIFO",
            "SCHED_RR",
            "SCHED_BATCH",
            "SCHED_ISO",
            "SCHED_IDLE",
            "SCHED_DEADLINE",
        ]
        .iter()
        .position(|p| *p == s(&sch["policy"]))
        .unwrap_or(0) as i32;
        // SAFETY: plain query of the caller's policy.
        let got = unsafe { libc::sched_getscheduler(0) } & !0x4000_0000;
        t.eq("process.scheduler.policy", got, policy);
        if let Some(nice) = sch["nice"].as_i64() {
            // SAFETY: plain query of the caller's nice value.
            let got = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            t.eq("process.scheduler.nice", i64::from(got), nice);
        }
    }
}

fn time_offsets(t: &mut Tap, c: &Value) {
    let Some(offsets) = c["linux"]["timeOffsets"].as_object() else {
        return;
    };
    let text = fs::read_to_string("/proc/self/timens_offsets").unwrap_or_default();
    for (clock, o) in offsets {
        let line = text.lines().find(|l| {
            l.starts_with(clock.as_str())
                || (clock == "boottime" && l.starts_with("boottime"))
                || (clock == "monotonic" && l.starts_with("monotonic"))
        });
        let got = line
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<i64>().ok());
        t.eq(
            format!("linux.timeOffsets.{clock}"),
            got,
            o["secs"].as_i64(),
        );
    }
}
