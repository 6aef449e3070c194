//! Finding the hierarchies: /proc/self/mountinfo's cgroup mounts and this process's own
//! cgroup in each (/proc/self/cgroup).

use super::*;

/// One cgroup mount from /proc/self/mountinfo.
pub(super) struct MountEntry {
    pub(super) mount: PathBuf,
    pub(super) root: PathBuf,
    pub(super) controllers: Vec<String>,
    pub(super) v2: bool,
}

/// mountinfo escapes spaces and the like as \040 octal.
pub(super) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        let (fstype, superopts) = (r[0], r[2]);
        let v2 = fstype == "cgroup2";
        if fstype != "cgroup" && !v2 {
            continue;
        }
        let controllers = if v2 {
            vec![]
        } else {
            superopts
                .split(',')
                .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                .map(str::to_string)
                .collect()
        };
        out.push(MountEntry {
            mount: PathBuf::from(unescape(l[4])),
            root: PathBuf::from(unescape(l[3])),
            controllers,
            v2,
        });
    }
    out
}

/// husk's own cgroup in the hierarchy with these controllers (from /proc/self/cgroup).
pub(super) fn own_cgroup(proc_cgroup: &str, controllers: &[String], v2: bool) -> Option<PathBuf> {
    for line in proc_cgroup.lines() {
        let mut it = line.splitn(3, ':');
        let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
        let matches = if v2 {
            ctrls.is_empty()
        } else {
            let mut a: Vec<&str> = ctrls.split(',').collect();
            let mut b: Vec<&str> = controllers.iter().map(String::as_str).collect();
            a.sort_unstable();
            b.sort_unstable();
            !ctrls.is_empty() && a == b
        };
        if matches {
            return Some(PathBuf::from(path));
        }
    }
    None
}
