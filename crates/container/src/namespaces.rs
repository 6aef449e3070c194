//! `linux.namespaces`, `linux.uidMappings`/`gidMappings` and `linux.timeOffsets`: which
//! namespaces are new and which are joined, and how the process topology follows from that.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::sched::{setns, unshare, CloneFlags};
use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespaceType};

use crate::error::{StepContext, SysError};
use crate::resolve;
use crate::sys;

/// What to do with namespaces, decided once from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePlan {
    /// A new user namespace (created first, alone, so the parent can write the id maps).
    pub new_user: bool,
    /// The other namespaces to create (unshared after the user namespace).
    pub new: CloneFlags,
    /// Namespaces to join, the user namespace first.
    pub join: Vec<(CloneFlags, PathBuf)>,
}

pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

impl NamespacePlan {
    pub fn from_linux(linux: &Linux) -> Self {
        let mut plan = NamespacePlan {
            new_user: false,
            new: CloneFlags::empty(),
            join: vec![],
        };
        for ns in linux.namespaces().iter().flatten() {
            let f = flag(ns.typ());
            // An empty path is no path, as runc reads it.
            match ns.path().as_ref().filter(|p| !p.as_os_str().is_empty()) {
                Some(p) if f == CloneFlags::CLONE_NEWUSER => plan.join.insert(0, (f, p.clone())),
                Some(p) => plan.join.push((f, p.clone())),
                None if f == CloneFlags::CLONE_NEWUSER => plan.new_user = true,
                None => plan.new |= f,
            }
        }
        plan
    }

    /// The plan of a stored config (a container that has one: every container has `linux`).
    pub fn from_config(spec: &oci_spec::runtime::Spec) -> Self {
        let empty = Linux::default();
        Self::from_linux(spec.linux().as_ref().unwrap_or(&empty))
    }

    /// True if the config lists this namespace type, new or joined by path (runc's
    /// IsPrivate): otherwise the container is in the runtime's own.
    pub fn has_own(&self, f: CloneFlags) -> bool {
        self.creates(f) || self.join.iter().any(|(j, _)| *j == f)
    }

    /// True if the container gets (or joins) its own user namespace.
    pub fn has_userns(&self) -> bool {
        self.new_user
            || self
                .join
                .iter()
                .any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER)
    }

    /// True if this flag is created new.
    pub fn creates(&self, f: CloneFlags) -> bool {
        if f == CloneFlags::CLONE_NEWUSER {
            self.new_user
        } else {
            self.new.contains(f)
        }
    }

    /// Join every namespace given by path. All are opened first (a joined mount namespace
    /// would change what the later paths mean), then entered, user namespace first.
    pub fn join_all(&self) -> Result<(), SysError> {
        let mut fds: Vec<(CloneFlags, OwnedFd, &PathBuf)> = Vec::new();
        for (f, path) in &self.join {
            let what = || format!("namespace path {}", path.display());
            let c = crate::error::c_string(what(), path.as_os_str().as_encoded_bytes())?;
            let fd = sys::openat(resolve::cwd(), &c, libc::O_RDONLY, 0)
                .step(|| format!("opening namespace {}", path.display()))?;
            fds.push((*f, fd, path));
        }
        // As runc: first every namespace but the user namespace, passing over those we may
        // not join yet (one owned by the user namespace we are about to join); then the
        // user namespace; then the rest, with the capabilities it gives. A namespace the
        // host owns (a netns made outside) can only be joined before the user namespace.
        let user = CloneFlags::CLONE_NEWUSER;
        let mut left: Vec<_> = fds;
        for pass in [Pass::OthersMayWait, Pass::User, Pass::Others] {
            let mut waiting = Vec::new();
            for (f, fd, path) in left {
                if (f == user) != (pass == Pass::User) {
                    waiting.push((f, fd, path));
                    continue;
                }
                match setns(&fd, f) {
                    Err(nix::Error::EPERM) if pass == Pass::OthersMayWait => {
                        waiting.push((f, fd, path))
                    }
                    other => other.step(|| format!("joining namespace {}", path.display()))?,
                }
            }
            left = waiting;
        }
        Ok(())
    }

    /// A mount namespace made or joined. Without one the container inherits husk's (the
    /// host's), as the spec says: its mounts are made there and it is chrooted, not pivoted.
    pub fn has_own_mount_namespace(&self) -> bool {
        self.creates(CloneFlags::CLONE_NEWNS)
            || self.join.iter().any(|(f, _)| *f == CloneFlags::CLONE_NEWNS)
    }

    pub fn unshare_user(&self) -> Result<(), SysError> {
        if self.new_user {
            unshare(CloneFlags::CLONE_NEWUSER).step(|| "creating the user namespace")?;
        }
        Ok(())
    }

    pub fn unshare_rest(&self) -> Result<(), SysError> {
        if !self.new.is_empty() {
            unshare(self.new).step(|| format!("creating namespaces {:?}", self.new))?;
        }
        Ok(())
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Pass {
    OthersMayWait,
    User,
    Others,
}

/// A map as /proc/PID/uid_map takes it: one `inside outside count` line per range.
pub(crate) fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Write the uid and gid maps of the user namespace of process `pid` (done by the parent,
/// which is privileged in the parent namespace).
pub fn write_id_maps(pid: i32, linux: &Linux) -> Result<(), SysError> {
    write_maps(
        pid,
        linux.uid_mappings().as_deref().unwrap_or_default(),
        linux.gid_mappings().as_deref().unwrap_or_default(),
    )
}

/// Write `uid` and `gid` as the maps of process `pid`'s user namespace, as a privileged
/// parent.
pub fn write_maps(
    pid: i32,
    uid: &[LinuxIdMapping],
    gid: &[LinuxIdMapping],
) -> Result<(), SysError> {
    let uid = map_text(uid);
    let gid = map_text(gid);
    let path = format!("/proc/{pid}/uid_map");
    fs::write(&path, &uid)
        .step(|| format!("writing {path} ({})", uid.trim().replace('\n', ", ")))?;
    let path = format!("/proc/{pid}/gid_map");
    fs::write(&path, &gid)
        .step(|| format!("writing {path} ({})", gid.trim().replace('\n', ", ")))?;
    Ok(())
}

/// Write `linux.timeOffsets` into the new time namespace (before its first process exists).
pub fn write_time_offsets(linux: &Linux) -> Result<(), SysError> {
    let Some(offsets) = linux.time_offsets() else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    if text.is_empty() {
        return Ok(());
    }
    fs::write("/proc/self/timens_offsets", &text)
        .step(|| format!("writing time offsets {:?}", text.trim()))
}

/// Does process `pid` have a child pid namespace pending (so its next child is pid 1)?
pub fn needs_fork(plan: &NamespacePlan) -> bool {
    // Unsharing or joining a pid or time namespace only applies to children: the init must be
    // a new process. husk always forks the init from the intermediate, so this is informative.
    plan.creates(CloneFlags::CLONE_NEWPID)
        || plan.creates(flag(LinuxNamespaceType::Time))
        || plan
            .join
            .iter()
            .any(|(f, _)| *f == CloneFlags::CLONE_NEWPID || *f == flag(LinuxNamespaceType::Time))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(json: &str) -> Linux {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn plan_splits_new_and_joined_with_user_first() {
        let l = linux(
            r#"{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/x"},
                {"type":"user","path":"/proc/1/ns/user"},{"type":"mount"}]}"#,
        );
        let p = NamespacePlan::from_linux(&l);
        assert!(!p.new_user);
        assert_eq!(p.new, CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS);
        assert_eq!(p.join[0].0, CloneFlags::CLONE_NEWUSER);
        assert_eq!(p.join[1].0, CloneFlags::CLONE_NEWNET);
        assert!(p.has_userns());
        assert!(needs_fork(&p));
    }

    #[test]
    fn new_user_namespace_is_kept_apart() {
        let p =
            NamespacePlan::from_linux(&linux(r#"{"namespaces":[{"type":"user"},{"type":"uts"}]}"#));
        assert!(p.new_user);
        assert_eq!(p.new, CloneFlags::CLONE_NEWUTS);
        assert!(!needs_fork(&p));
    }

    #[test]
    fn map_text_is_one_line_per_range() {
        let l = linux(
            r#"{"uidMappings":[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]}"#,
        );
        assert_eq!(
            map_text(l.uid_mappings().as_ref().unwrap()),
            "0 1000 1\n1 100000 65536\n"
        );
    }
}
