//! What the host shows of a container: its cgroup files, found from /proc/PID/cgroup and the
//! mount table, and its namespaces.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The cgroup directory of `pid` for `controller` (a v1 hierarchy carrying it, else the
/// cgroup2 one).
pub fn cgroup_dir(pid: i64, controller: &str) -> Result<PathBuf> {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .with_context(|| format!("reading /proc/{pid}/cgroup"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mount_of = |v2: bool| -> Option<PathBuf> {
        mounts.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            let hit = if v2 {
                r[0] == "cgroup2"
            } else {
                r[0] == "cgroup" && r.get(2)?.split(',').any(|o| o == controller)
            };
            (hit && l[3] == "/").then(|| PathBuf::from(l[4]))
        })
    };
    for line in cgroup.lines() {
        let f: Vec<&str> = line.splitn(3, ':').collect();
        if f.len() == 3 && f[1].split(',').any(|c| c == controller) {
            let mount = mount_of(false).context("no v1 mount for the controller")?;
            return Ok(mount.join(f[2].trim_start_matches('/')));
        }
    }
    let path = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .context("no cgroup of the controller")?;
    let mount = mount_of(true).context("no cgroup2 mount")?;
    Ok(mount.join(path.trim_start_matches('/')))
}

/// A cgroup file of `pid`'s cgroup, trimmed.
pub fn cgroup_file(pid: i64, controller: &str, file: &str) -> Result<String> {
    let path = cgroup_dir(pid, controller)?.join(file);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.trim().to_string())
}

/// The namespace `pid` is in (`ipc:[4026531839]`).
pub fn namespace(pid: i64, ns: &str) -> Result<String> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))?;
    Ok(link.display().to_string())
}
