//! A container's cgroup across every hierarchy of the host: where it is, creating it,
//! placing processes, the device list, signalling its processes, removing it.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use crate::devices::{DeviceRule, DeviceState};
use crate::mode::{detect_mode, Mode};
use crate::systemd::SystemdUnit;

mod dirs;
mod mountinfo;

use dirs::*;
use mountinfo::*;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot detect the cgroup setup of this host under /sys/fs/cgroup")]
    UnknownHost,
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("creating cgroup {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: std::io::Error,
    },
    #[error("removing cgroup {path}: {source}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("linux.cgroupsPath {0:?}: must not contain \"..\"")]
    BadPath(PathBuf),
    #[error("{field}: this host has no {controller} cgroup controller{where_}")]
    NoController {
        field: String,
        controller: String,
        where_: String,
    },
    #[error("{field}: {reason}")]
    Unsupported { field: String, reason: String },
    #[error("{field}: writing {value:?} to {path}: {source}")]
    Apply {
        field: String,
        path: PathBuf,
        value: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl CgroupError {
    /// Was the cgroup refused for lack of permission (an unprivileged user without a
    /// delegated cgroup)?
    /// The kernel refused a value (EINVAL).
    pub fn is_einval(&self) -> bool {
        match self {
            CgroupError::Create { source, .. }
            | CgroupError::Write { source, .. }
            | CgroupError::Apply { source, .. } => source.raw_os_error() == Some(libc::EINVAL),
            _ => false,
        }
    }

    pub fn is_permission_denied(&self) -> bool {
        let source = match self {
            CgroupError::Create { source, .. }
            | CgroupError::Write { source, .. }
            | CgroupError::Apply { source, .. } => source,
            _ => return false,
        };
        matches!(
            source.raw_os_error(),
            Some(libc::EACCES) | Some(libc::EPERM)
        ) || source.kind() == std::io::ErrorKind::PermissionDenied
    }
}

/// The container's cgroup in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// Where the hierarchy is mounted (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup`).
    pub mount: PathBuf,
    /// The controllers it carries (`memory`, `name=systemd`; empty for cgroup2).
    pub controllers: Vec<String>,
    /// True for a cgroup2 hierarchy.
    pub v2: bool,
    /// The container's cgroup, relative to `mount`.
    pub rel: PathBuf,
    /// How many trailing components of `rel` husk created (and so removes); 0 if joined.
    pub created_levels: usize,
    /// True when `rel` is husk's default `<own cgroup>/husk/<id>`: the shared `husk/` parent
    /// goes too when the last container in it is deleted, whoever made it.
    #[serde(default)]
    pub default_path: bool,
}

impl Hierarchy {
    /// A cgroup2 hierarchy's controllers, from its root's cgroup.controllers ("unified" if
    /// that cannot be read); a v1 hierarchy's are `controllers`.
    pub fn available_controllers(&self) -> Vec<String> {
        if !self.v2 {
            return self.controllers.clone();
        }
        match fs::read_to_string(self.mount.join("cgroup.controllers")) {
            Ok(text) if !text.trim().is_empty() => {
                text.split_whitespace().map(str::to_string).collect()
            }
            _ => vec!["unified".to_string()],
        }
    }

    /// The container's cgroup directory.
    pub fn dir(&self) -> PathBuf {
        self.mount.join(&self.rel)
    }
    /// Whether the container's cgroup here has `controller`: a v1 hierarchy's mount options,
    /// or a v2 cgroup's `cgroup.controllers` (enabled by its parent).
    pub fn has(&self, controller: &str) -> bool {
        if self.v2 {
            fs::read_to_string(self.dir().join("cgroup.controllers"))
                .map(|s| s.split_whitespace().any(|c| c == controller))
                .unwrap_or(false)
        } else {
            self.controllers.iter().any(|c| c == controller)
        }
    }
}

/// A container's cgroup on this host: one entry per hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    pub mode: Mode,
    pub hierarchies: Vec<Hierarchy>,
    /// With the systemd driver: the transient unit that owns the cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<SystemdUnit>,
}

const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
];

fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|source| CgroupError::Write {
            path: path.to_path_buf(),
            value: value.to_string(),
            source,
        })
}

/// `path` without its leading "/", refusing "..".
fn relative(path: &Path) -> Result<PathBuf, CgroupError> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => return Err(CgroupError::BadPath(path.to_path_buf())),
        }
    }
    Ok(out)
}

impl Cgroup {
    /// Where the container `id` with `cgroups_path` lives in each hierarchy of this host.
    pub fn resolve(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup, CgroupError> {
        let mode = detect_mode().ok_or(CgroupError::UnknownHost)?;
        let mountinfo = read(Path::new("/proc/self/mountinfo"))?;
        let proc_cgroup = read(Path::new("/proc/self/cgroup"))?;
        Self::resolve_from(mode, &mountinfo, &proc_cgroup, cgroups_path, id)
    }

    /// The cgroups this process is in, one per hierarchy, for a container without a cgroup of
    /// its own (rootless, not delegated): what its cgroup mount shows. Nothing to remove.
    pub fn of_this_process() -> Result<Cgroup, CgroupError> {
        let mut cg = Self::resolve(None, "_")?;
        for h in &mut cg.hierarchies {
            // resolve's default is <own>/husk/<id>: back to <own>.
            h.rel.pop();
            h.rel.pop();
            h.default_path = false;
        }
        Ok(cg)
    }

    /// `resolve` on given /proc contents (pure, for tests).
    pub fn resolve_from(
        mode: Mode,
        mountinfo: &str,
        proc_cgroup: &str,
        cgroups_path: Option<&Path>,
        id: &str,
    ) -> Result<Cgroup, CgroupError> {
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        for m in parse_mountinfo(mountinfo) {
            if mode == Mode::Unified && !m.v2 || mode == Mode::Legacy && m.v2 {
                continue;
            }
            if m.root != Path::new("/") {
                // A bind mount of a sub-tree (as inside a container): not a hierarchy root.
                continue;
            }
            if hierarchies
                .iter()
                .any(|h| h.v2 == m.v2 && h.controllers == m.controllers)
            {
                continue; // the same hierarchy mounted twice
            }
            let default_path = cgroups_path.is_none_or(|p| p.as_os_str().is_empty());
            let rel = match cgroups_path {
                Some(p) if p.is_absolute() => relative(p)?,
                other => {
                    let own =
                        own_cgroup(proc_cgroup, &m.controllers, m.v2).unwrap_or_else(|| "/".into());
                    let tail = match other {
                        Some(p) if !p.as_os_str().is_empty() => relative(p)?,
                        _ => Path::new("husk").join(id),
                    };
                    relative(&own)?.join(tail)
                }
            };
            hierarchies.push(Hierarchy {
                mount: m.mount,
                controllers: m.controllers,
                v2: m.v2,
                rel,
                created_levels: 0,
                default_path,
            });
        }
        if hierarchies.is_empty() {
            return Err(CgroupError::UnknownHost);
        }
        Ok(Cgroup {
            mode,
            hierarchies,
            systemd: None,
        })
    }

    /// With the systemd driver (`--systemd-cgroup`): the transient unit `linux.cgroupsPath`
    /// names, on a cgroup v2 host where systemd runs. Nothing exists until `start_unit`.
    pub fn resolve_systemd(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup, CgroupError> {
        let unit = SystemdUnit::parse(cgroups_path, id)?;
        if !crate::systemd::booted() {
            return Err(CgroupError::Invalid(
                "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system), \
                 so there is no one to create the container's scope; run without \
                 --systemd-cgroup to use cgroupfs"
                    .into(),
            ));
        }
        let mode = detect_mode().ok_or(CgroupError::UnknownHost)?;
        if mode != Mode::Unified {
            return Err(CgroupError::Invalid(format!(
                "--systemd-cgroup: husk's systemd driver needs a cgroup v2 host; this one is \
                 {mode:?} (v1 controllers mounted): run without --systemd-cgroup"
            )));
        }
        Ok(Cgroup {
            mode,
            hierarchies: vec![Hierarchy {
                mount: "/sys/fs/cgroup".into(),
                controllers: vec![],
                v2: true,
                rel: unit.cgroup_rel(),
                created_levels: 0,
                default_path: false,
            }],
            systemd: Some(unit),
        })
    }

    /// With the systemd driver: start the unit with process `pid`, its first, and take the
    /// cgroup systemd put it in as the container's.
    pub fn start_unit(&mut self, pid: i32) -> Result<(), CgroupError> {
        let Some(unit) = &self.systemd else {
            return Ok(());
        };
        unit.start(pid)?;
        let path = Path::new("/proc").join(pid.to_string()).join("cgroup");
        let text = read(&path)?;
        let rel = own_cgroup(&text, &[], true).ok_or_else(|| {
            CgroupError::Invalid(format!("{}: no cgroup v2 entry", path.display()))
        })?;
        self.hierarchies[0].rel = relative(&rel)?;
        Ok(())
    }

    /// Create the cgroup in every hierarchy, remembering which levels were new.
    /// On failure, what was created so far is removed again.
    pub fn create(&mut self) -> Result<(), CgroupError> {
        if let Some(unit) = &self.systemd {
            // systemd makes the directory when the unit starts; a live one is another's.
            let dir = self.hierarchies[0].dir();
            let mut pids = Vec::new();
            collect_pids(&dir, &mut pids)?;
            if !pids.is_empty() {
                return Err(CgroupError::Invalid(format!(
                    "linux.cgroupsPath: the systemd unit {} already runs processes ({})",
                    unit.unit,
                    dir.display()
                )));
            }
            return Ok(());
        }
        for i in 0..self.hierarchies.len() {
            if let Err(e) = create_levels(&mut self.hierarchies[i]) {
                let _ = self.remove();
                return Err(e);
            }
        }
        if let Err(e) = self.check_fresh() {
            let _ = self.remove();
            return Err(e);
        }
        Ok(())
    }

    /// A container's cgroup that already existed must hold no process and not be frozen, as
    /// runc checks: a second container in one cgroup would share its limits and be killed by
    /// the first's `kill --all`, and an init forked into a frozen cgroup would hang.
    fn check_fresh(&self) -> Result<(), CgroupError> {
        let pids = self.pids()?;
        if !pids.is_empty() {
            return Err(CgroupError::Invalid(format!(
                "linux.cgroupsPath: container's cgroup is not empty: {} process(es) in {}",
                pids.len(),
                self.listing_hierarchy().dir().display()
            )));
        }
        if let Some(dir) = self.frozen_dir() {
            return Err(CgroupError::Invalid(format!(
                "linux.cgroupsPath: container's cgroup unexpectedly frozen ({}); thaw it first",
                dir.display()
            )));
        }
        Ok(())
    }

    /// Count, before `create`, the levels of each hierarchy that do not exist yet: what
    /// `create` will make and `remove` must take away. Recorded in the container's state
    /// before anything is made, so that a husk killed in the middle of `create` leaves no
    /// directory `delete` does not know of (it removes missing levels without complaint and
    /// shared parents only when empty). `create` then counts what it really made.
    /// Rootless: the container's cgroup in the hierarchies this user may write, the others
    /// dropped, as runc does (on a hybrid host the cgroup2 mount, say, which holds only
    /// hugetlb and is rarely delegated). Returns the controllers of the dropped hierarchies
    /// ("unified" for a cgroup2 one); the caller refuses limits that need them. A permission
    /// error on every hierarchy is returned as it is; any other error undoes everything.
    pub fn create_where_permitted(&mut self) -> Result<Vec<String>, CgroupError> {
        if self.systemd.is_some() {
            return self.create().map(|()| Vec::new());
        }
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        let mut denied = None;
        for mut h in std::mem::take(&mut self.hierarchies) {
            match create_levels(&mut h) {
                Ok(()) => kept.push(h),
                Err(e) if e.is_permission_denied() => {
                    // Levels made before the refusal (none, unless a deeper one was refused).
                    let _ = Cgroup::only(&h, self).remove();
                    dropped.extend(match h.v2 {
                        true => h.available_controllers(),
                        false => h.controllers.clone(),
                    });
                    denied.get_or_insert(e);
                }
                Err(e) => {
                    kept.push(h);
                    self.hierarchies = kept;
                    let _ = self.remove();
                    return Err(e);
                }
            }
        }
        self.hierarchies = kept;
        if self.hierarchies.is_empty() {
            return Err(denied.expect("a hierarchy was refused"));
        }
        if let Err(e) = self.check_fresh() {
            let _ = self.remove();
            return Err(e);
        }
        Ok(dropped)
    }

    /// This cgroup with only hierarchy `h` (to remove what was made in it alone).
    fn only(h: &Hierarchy, of: &Cgroup) -> Cgroup {
        let mut c = of.clone();
        c.hierarchies = vec![h.clone()];
        c
    }

    pub fn claim_missing_levels(&mut self) {
        if self.systemd.is_some() {
            return;
        }
        for h in &mut self.hierarchies {
            let comps = h.rel.components().count();
            let missing = (0..comps)
                .take_while(|up| {
                    let mut dir = h.dir();
                    for _ in 0..*up {
                        dir.pop();
                    }
                    !dir.exists()
                })
                .count();
            h.created_levels = if h.default_path && missing > 0 {
                missing.max(2).min(comps)
            } else {
                missing
            };
        }
    }

    /// On a pure cgroup v2 host, the container's cgroup directory opened for clone3's
    /// CLONE_INTO_CGROUP (a child born there needs no cgroup.procs write). None elsewhere:
    /// v1 hierarchies can only be joined by writing.
    pub fn clone_target(&self) -> Option<std::os::fd::OwnedFd> {
        if self.mode != Mode::Unified || self.hierarchies.len() != 1 {
            return None;
        }
        fs::File::options()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(self.hierarchies[0].dir())
            .ok()
            .map(Into::into)
    }

    /// Move process `pid` into the cgroup in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        for h in &self.hierarchies {
            write(&h.dir().join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Apply a device list: on v1, deny everything then write each rule in order; on v2,
    /// attach an eBPF program made from the rules.
    pub fn apply_devices(&self, rules: &[DeviceRule]) -> Result<(), CgroupError> {
        if let Some(h) = self.hierarchies.iter().find(|h| !h.v2 && h.has("devices")) {
            let dir = h.dir();
            write(&dir.join("devices.deny"), "a")?;
            // A rule with no access left (only letters the kernel does not know) changes
            // nothing.
            for r in rules
                .iter()
                .filter(|r| r.kind == 'a' || !r.access.is_empty())
            {
                let file = if r.allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                write(&dir.join(file), &r.v1_line())?;
            }
            return Ok(());
        }
        match self.hierarchies.iter().find(|h| h.v2) {
            Some(h) => crate::devices_bpf::attach(&h.dir(), rules),
            None => Err(CgroupError::NoController {
                field: "linux.resources.devices".into(),
                controller: "devices".into(),
                where_: String::new(),
            }),
        }
    }

    /// Change the device list of a live container from `old` to `new` (each the whole list,
    /// defaults included) without a moment when a device both allow is denied: on v1 the
    /// minimal writes (DeviceState::transition_to), or a rewrite when the default changes;
    /// on v2 the program replaced (devices_bpf::replace).
    pub fn update_devices(
        &self,
        old: &[DeviceRule],
        new: &[DeviceRule],
    ) -> Result<(), CgroupError> {
        if let Some(h) = self.hierarchies.iter().find(|h| !h.v2 && h.has("devices")) {
            let (from, to) = (DeviceState::after(old), DeviceState::after(new));
            let Some(writes) = from.transition_to(&to) else {
                return self.apply_devices(new);
            };
            let dir = h.dir();
            for r in writes
                .iter()
                .filter(|r| r.kind == 'a' || !r.access.is_empty())
            {
                let file = if r.allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                write(&dir.join(file), &r.v1_line())?;
            }
            return Ok(());
        }
        match self.hierarchies.iter().find(|h| h.v2) {
            Some(h) => crate::devices_bpf::replace(&h.dir(), new),
            None => self.apply_devices(new),
        }
    }

    /// The hierarchy used to list processes: pids, devices, or whatever there is.
    fn listing_hierarchy(&self) -> &Hierarchy {
        self.hierarchies
            .iter()
            .find(|h| h.v2 && self.mode == Mode::Unified)
            .or_else(|| self.hierarchies.iter().find(|h| h.has("pids")))
            .or_else(|| self.hierarchies.iter().find(|h| h.has("devices")))
            .unwrap_or(&self.hierarchies[0])
    }

    /// Every process in the cgroup and its descendants.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut out = Vec::new();
        collect_pids(&self.listing_hierarchy().dir(), &mut out)?;
        Ok(out)
    }

    /// Send `sig` to every process in the cgroup; with SIGKILL on v2, through cgroup.kill.
    pub fn signal_all(&self, sig: Signal) -> Result<(), CgroupError> {
        let h = self.listing_hierarchy();
        if h.v2 && sig == Signal::SIGKILL && h.dir().join("cgroup.kill").exists() {
            return write(&h.dir().join("cgroup.kill"), "1");
        }
        for pid in self.pids()? {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        }
        if sig == Signal::SIGKILL {
            self.thaw_if_frozen()?;
        }
        Ok(())
    }

    /// A frozen v1 task does not act on SIGKILL until it is thawed: thaw after killing.
    pub fn thaw_if_frozen(&self) -> Result<(), CgroupError> {
        if self.freezer_state()? == crate::FreezerState::Frozen {
            self.set_freezer(crate::FreezerState::Thawed)?;
        }
        Ok(())
    }

    /// Remove the levels husk created, deepest first, in every hierarchy. A cgroup that still
    /// has processes is waited for briefly (they are exiting) before giving up.
    pub fn remove(&self) -> Result<(), CgroupError> {
        if let Some(unit) = &self.systemd {
            return unit.stop(&self.hierarchies[0].dir());
        }
        let mut first_err = None;
        for h in &self.hierarchies {
            let mut dir = h.dir();
            for level in 0..h.created_levels {
                if level > 0 {
                    // A parent husk made may hold other containers' cgroups by now: it goes
                    // only if it is empty.
                    if fs::remove_dir(&dir).is_err() {
                        break;
                    }
                } else if let Err(e) = rmdir_with_subcgroups(&dir) {
                    first_err.get_or_insert(e);
                    break;
                }
                dir.pop();
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 30 0:31 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
";
    const HYBRID_SELF: &str =
        "4:memory:/process_api/abc\n3:cpu,cpuacct:/\n1:name=systemd:/user\n0::/\n";

    #[test]
    fn relative_and_default_paths_go_under_our_own_cgroup_per_hierarchy() {
        let cg =
            Cgroup::resolve_from(Mode::Hybrid, HYBRID_MOUNTINFO, HYBRID_SELF, None, "c1").unwrap();
        let dirs: Vec<PathBuf> = cg.hierarchies.iter().map(Hierarchy::dir).collect();
        assert_eq!(
            dirs,
            vec![
                PathBuf::from("/sys/fs/cgroup/unified/husk/c1"),
                PathBuf::from("/sys/fs/cgroup/memory/process_api/abc/husk/c1"),
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/husk/c1"),
                PathBuf::from("/sys/fs/cgroup/systemd/user/husk/c1"),
            ]
        );
        let cg = Cgroup::resolve_from(
            Mode::Hybrid,
            HYBRID_MOUNTINFO,
            HYBRID_SELF,
            Some(Path::new("a/b")),
            "c1",
        )
        .unwrap();
        assert_eq!(
            cg.hierarchies[1].dir(),
            PathBuf::from("/sys/fs/cgroup/memory/process_api/abc/a/b")
        );
    }

    #[test]
    fn absolute_paths_are_taken_from_the_hierarchy_root() {
        let cg = Cgroup::resolve_from(
            Mode::Legacy,
            HYBRID_MOUNTINFO,
            HYBRID_SELF,
            Some(Path::new("/x/y")),
            "c",
        )
        .unwrap();
        assert_eq!(
            cg.hierarchies.len(),
            3,
            "legacy mode ignores the cgroup2 mount"
        );
        assert_eq!(
            cg.hierarchies[0].dir(),
            PathBuf::from("/sys/fs/cgroup/memory/x/y")
        );
    }

    #[test]
    fn dotdot_is_refused() {
        let e = Cgroup::resolve_from(
            Mode::Hybrid,
            HYBRID_MOUNTINFO,
            HYBRID_SELF,
            Some(Path::new("/a/../../b")),
            "c",
        );
        assert!(matches!(e, Err(CgroupError::BadPath(_))));
    }

    #[test]
    fn create_counts_only_new_levels_and_remove_keeps_the_rest() {
        let tmp = std::env::temp_dir().join(format!("husk-cg-test-{}", std::process::id()));
        fs::create_dir_all(tmp.join("existing")).unwrap();
        let mut cg = Cgroup {
            mode: Mode::Unified,
            hierarchies: vec![Hierarchy {
                mount: tmp.clone(),
                controllers: vec![],
                v2: true,
                rel: PathBuf::from("existing/new1/new2"),
                created_levels: 0,
                default_path: false,
            }],
            systemd: None,
        };
        cg.create().unwrap();
        assert_eq!(cg.hierarchies[0].created_levels, 2);
        assert!(tmp.join("existing/new1/new2").is_dir());
        // A sibling under a parent husk made keeps the parent alive.
        fs::create_dir(tmp.join("existing/new1/sibling")).unwrap();
        cg.remove().unwrap();
        assert!(!tmp.join("existing/new1/new2").exists());
        assert!(tmp.join("existing/new1/sibling").is_dir());
        fs::remove_dir(tmp.join("existing/new1/sibling")).unwrap();
        cg.hierarchies[0].rel = PathBuf::from("existing/new1/new2");
        fs::create_dir(tmp.join("existing/new1/new2")).unwrap();
        cg.remove().unwrap();
        assert!(!tmp.join("existing/new1").exists());
        assert!(tmp.join("existing").is_dir());
        fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn unescapes_mountinfo_octal() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
    }
}
