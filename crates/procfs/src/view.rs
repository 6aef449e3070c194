//! Where a reading process's cgroup is, and what its files say: the memory limit and usage,
//! the CPUs it may use and its CPU quota, its CPU time, its tasks and its I/O. The same code
//! for cgroup v1, hybrid and v2: each controller is looked up where this host mounts it.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The cgroup hierarchies mounted on this host: each v1 controller's mount point, and the
/// cgroup2 mount point.
#[derive(Debug, Clone, Default)]
pub struct Hierarchies {
    v1: HashMap<String, PathBuf>,
    v2: Option<PathBuf>,
}

impl Hierarchies {
    /// From /proc/self/mountinfo.
    pub fn of_host() -> Hierarchies {
        let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        Hierarchies::parse(&text)
    }

    pub fn parse(mountinfo: &str) -> Hierarchies {
        let mut h = Hierarchies::default();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let fields: Vec<&str> = left.split(' ').collect();
            let rest: Vec<&str> = right.split(' ').collect();
            let (Some(point), Some(root), Some(fstype)) =
                (fields.get(4), fields.get(3), rest.first())
            else {
                continue;
            };
            if *root != "/" {
                continue;
            }
            let point = PathBuf::from(unescape(point));
            match *fstype {
                "cgroup2" => h.v2 = h.v2.or(Some(point)),
                "cgroup" => {
                    for opt in rest.get(2).unwrap_or(&"").split(',') {
                        h.v1.entry(opt.to_string()).or_insert_with(|| point.clone());
                    }
                }
                _ => {}
            }
        }
        h
    }
}

impl Hierarchies {
    /// Every hierarchy's mount point (v1 ones once each, and cgroup2).
    pub fn mount_points(&self) -> Vec<PathBuf> {
        let mut points: Vec<PathBuf> = self.v1.values().cloned().collect();
        points.extend(self.v2.clone());
        points.sort();
        points.dedup();
        points
    }
}

/// mountinfo escapes spaces, tabs, newlines and backslashes as \ooo.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            if let Ok(n) = u8::from_str_radix(&code, 8) {
                out.push(n as char);
                continue;
            }
            out.push('\\');
            out.push_str(&code);
        } else {
            out.push(c);
        }
    }
    out
}

/// The cgroup directories of one process, per controller.
#[derive(Debug, Clone)]
pub struct View {
    /// controller name ("memory", "cpu", ...) -> directory; v2 answers every controller.
    v1: HashMap<String, PathBuf>,
    v2: Option<PathBuf>,
    /// The hierarchy roots, to walk limits up to.
    v2_root: Option<PathBuf>,
    v1_roots: HashMap<String, PathBuf>,
}

impl View {
    /// The cgroups of `pid` (a pid in the daemon's pid namespace). None when its cgroup cannot
    /// be read or it is the root cgroup everywhere (a host process: nothing to compute).
    pub fn of_pid(h: &Hierarchies, pid: u32) -> Option<View> {
        let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        View::parse(h, &text)
    }

    pub fn parse(h: &Hierarchies, proc_cgroup: &str) -> Option<View> {
        let mut view = View {
            v1: HashMap::new(),
            v2: None,
            v2_root: h.v2.clone(),
            v1_roots: h.v1.clone(),
        };
        let mut in_a_child = false;
        for line in proc_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            in_a_child |= path != "/";
            let rel = path.trim_start_matches('/');
            if controllers.is_empty() {
                view.v2 = h.v2.as_ref().map(|root| root.join(rel));
                continue;
            }
            for c in controllers.split(',') {
                let c = c.trim_start_matches("name=");
                if let Some(root) = h.v1.get(c) {
                    view.v1.insert(c.to_string(), root.join(rel));
                }
            }
        }
        in_a_child.then_some(view)
    }

    /// The directory of `controller`: its v1 hierarchy when it has one, else cgroup2 (where it
    /// must be enabled: its files exist).
    pub fn dir(&self, controller: &str) -> Option<&Path> {
        if let Some(d) = self.v1.get(controller) {
            return Some(d);
        }
        self.v2.as_deref()
    }

    pub fn is_v2(&self, controller: &str) -> bool {
        !self.v1.contains_key(controller) && self.v2.is_some()
    }

    /// `file` of `controller` in this cgroup and each ancestor up to the hierarchy's root.
    fn up_to_root(&self, controller: &str, file: &str) -> Vec<String> {
        let Some(dir) = self.dir(controller) else {
            return Vec::new();
        };
        let root = if self.is_v2(controller) {
            self.v2_root.as_deref()
        } else {
            self.v1_roots.get(controller).map(PathBuf::as_path)
        };
        let mut out = Vec::new();
        let mut d = Some(dir);
        while let Some(cur) = d {
            if let Ok(t) = fs::read_to_string(cur.join(file)) {
                out.push(t);
            }
            if Some(cur) == root {
                break;
            }
            d = cur.parent();
        }
        out
    }

    pub fn read(&self, controller: &str, file: &str) -> Option<String> {
        fs::read_to_string(self.dir(controller)?.join(file)).ok()
    }

    pub fn read_u64(&self, controller: &str, file: &str) -> Option<u64> {
        self.read(controller, file)?.trim().parse().ok()
    }

    /// The lowest limit in `file` from here up ("max" and v1's near-2^63 mean none).
    pub fn lowest_limit(&self, controller: &str, file: &str) -> Option<u64> {
        self.up_to_root(controller, file)
            .iter()
            .filter_map(|t| t.trim().parse::<u64>().ok())
            .filter(|v| *v < (1 << 62))
            .min()
    }

    /// A flat "key value" file (memory.stat, cpu.stat) as a map.
    pub fn keyed(&self, controller: &str, file: &str) -> HashMap<String, u64> {
        keyed(&self.read(controller, file).unwrap_or_default())
    }

    /// The tasks (threads) in this cgroup, in the hierarchy that carries `controller`.
    pub fn threads(&self, controller: &str) -> Vec<u32> {
        let file = if self.is_v2(controller) {
            "cgroup.threads"
        } else {
            "tasks"
        };
        numbers(&self.read(controller, file).unwrap_or_default())
    }

    /// The processes in this cgroup.
    pub fn procs(&self, controller: &str) -> Vec<u32> {
        numbers(&self.read(controller, "cgroup.procs").unwrap_or_default())
    }
}

pub fn keyed(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn numbers(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
33 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid - cgroup cgroup rw,cpuset
";

    #[test]
    fn hybrid_hierarchies_and_a_containers_view() {
        let h = Hierarchies::parse(HYBRID);
        let v = View::parse(
            &h,
            "6:memory:/husk/c1\n5:cpu,cpuacct:/husk/c1\n4:cpuset:/husk/c1\n0::/husk/c1\n",
        )
        .unwrap();
        assert_eq!(
            v.dir("memory").unwrap(),
            Path::new("/sys/fs/cgroup/memory/husk/c1")
        );
        assert_eq!(
            v.dir("cpuacct").unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/husk/c1")
        );
        assert_eq!(
            v.dir("pids").unwrap(),
            Path::new("/sys/fs/cgroup/unified/husk/c1")
        );
        assert!(!v.is_v2("memory"));
        assert!(v.is_v2("pids"));
    }

    #[test]
    fn a_process_in_the_root_cgroups_is_not_placed() {
        let h = Hierarchies::parse(HYBRID);
        assert!(View::parse(&h, "6:memory:/\n0::/\n").is_none());
    }

    #[test]
    fn pure_v2() {
        let h = Hierarchies::parse("30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let v = View::parse(&h, "0::/husk/c2\n").unwrap();
        assert_eq!(
            v.dir("memory").unwrap(),
            Path::new("/sys/fs/cgroup/husk/c2")
        );
        assert!(v.is_v2("memory"));
    }
}
