//! What CRIU cannot know by looking at the container: which of its mounts come from outside
//! its root (the host's bind mounts, the cgroup bind mounts, the /dev/null over masked files,
//! a user namespace's device binds), and which namespaces were joined rather than made.
//!
//! CRIU's external mounts have two sides. At dump, `mountpoint -> key`: the mount at that
//! mountpoint is not saved, only the key. At restore, `key -> host path`: what to bind there.

use std::os::fd::AsRawFd;
use std::path::{Component, Path, PathBuf};

use husk_cgroups::{Cgroup, Mode};
use nix::sched::CloneFlags;
use oci_spec::runtime::Spec;

use crate::namespaces::NamespacePlan;
use crate::resolve::Root;

/// One external mount: where it is in the container, the key in the image, and (for a
/// restore) what to bind there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalMount {
    pub mountpoint: String,
    pub key: String,
    pub source: PathBuf,
}

/// The container's external mounts, for its rootfs, bundle and cgroup.
pub fn mounts(
    spec: &Spec,
    bundle: &Path,
    rootfs: &Path,
    cgroup: Option<&Cgroup>,
    masked_files: &[String],
) -> Vec<ExternalMount> {
    let root = Root::open(rootfs).ok();
    let canonical = std::fs::canonicalize(rootfs).unwrap_or_else(|_| rootfs.to_path_buf());
    let plan = spec.linux().as_ref().map(NamespacePlan::from_linux);
    let own_cgroupns = plan
        .as_ref()
        .is_some_and(|p| p.creates(CloneFlags::CLONE_NEWCGROUP));
    let in_userns = plan
        .as_ref()
        .is_some_and(|p| p.new_user || p.join.iter().any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER));
    let mut out = Vec::new();
    for m in spec.mounts().iter().flatten() {
        let dest = resolved(root.as_ref(), &canonical, m.destination());
        let typ = m.typ().as_deref().unwrap_or("");
        if let Some(source) = crate::mounts::bind_source(m, bundle) {
            out.push(same_key(dest, source));
        } else if (typ == "cgroup" || typ == "cgroup2") && !own_cgroupns {
            out.extend(cgroup_binds(&dest, cgroup));
        }
    }
    for path in masked_files {
        out.push(ExternalMount {
            mountpoint: path.clone(),
            key: "/dev/null".into(),
            source: "/dev/null".into(),
        });
    }
    if in_userns {
        out.extend(device_binds(spec));
    }
    out
}

fn same_key(dest: String, source: PathBuf) -> ExternalMount {
    ExternalMount {
        mountpoint: dest.clone(),
        key: dest,
        source,
    }
}

/// Without a cgroup namespace of its own, husk bind-mounts the container's cgroup: the whole
/// mount on cgroup v2, one per hierarchy under a tmpfs on v1 and hybrid hosts.
fn cgroup_binds(dest: &str, cgroup: Option<&Cgroup>) -> Vec<ExternalMount> {
    let Some(cg) = cgroup else {
        return Vec::new();
    };
    if cg.mode == Mode::Unified {
        return vec![same_key(dest.to_string(), cg.hierarchies[0].dir())];
    }
    cg.hierarchies
        .iter()
        .map(|h| {
            let name = h.mount.file_name().unwrap_or_default().to_string_lossy();
            same_key(format!("{}/{name}", dest.trim_end_matches('/')), h.dir())
        })
        .collect()
}

/// In a user namespace husk bind-mounts the host's device nodes (devices.rs).
fn device_binds(spec: &Spec) -> Vec<ExternalMount> {
    let mut paths: Vec<PathBuf> = crate::devices::default_nodes()
        .into_iter()
        .map(|n| n.path)
        .collect();
    let linux = spec.linux().as_ref();
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        paths.push(d.path().clone());
    }
    paths
        .into_iter()
        .map(|p| {
            let p = p.to_string_lossy().into_owned();
            same_key(p.clone(), PathBuf::from(p))
        })
        .collect()
}

/// `dest` as the kernel shows it in the container: symlinks in the rootfs (`canonical`, the
/// rootfs's own real path) followed, since a mount on a symlink lands on its target; else
/// the path cleaned of `.` and `//`.
pub fn resolved(root: Option<&Root>, canonical: &Path, dest: &Path) -> String {
    let found = root
        .and_then(|r| r.lookup(dest).ok())
        .and_then(|fd| std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok());
    if let Some(inner) = found.and_then(|p| p.strip_prefix(canonical).ok().map(Path::to_path_buf)) {
        return format!("/{}", inner.display());
    }
    let mut clean = PathBuf::from("/");
    for c in dest.components() {
        match c {
            Component::Normal(n) => clean.push(n),
            Component::ParentDir => {
                clean.pop();
            }
            _ => {}
        }
    }
    clean.display().to_string()
}

/// The namespaces the config joins by path that CRIU must be told about: net and pid are
/// external (saved as a key, given back as an fd at restore); the others are joined at
/// restore (join_ns). A joined cgroup namespace CRIU cannot handle.
pub fn joined_namespaces(spec: &Spec) -> Vec<(CloneFlags, PathBuf)> {
    spec.linux()
        .as_ref()
        .map(NamespacePlan::from_linux)
        .map(|p| p.join)
        .unwrap_or_default()
}

/// CRIU's name for a namespace, and runc's key for an external one (`extRootNetNS`).
pub fn ns_name(f: CloneFlags) -> &'static str {
    match f {
        CloneFlags::CLONE_NEWNET => "net",
        CloneFlags::CLONE_NEWPID => "pid",
        CloneFlags::CLONE_NEWIPC => "ipc",
        CloneFlags::CLONE_NEWUTS => "uts",
        CloneFlags::CLONE_NEWNS => "mnt",
        CloneFlags::CLONE_NEWUSER => "user",
        CloneFlags::CLONE_NEWCGROUP => "cgroup",
        _ => "time",
    }
}

pub fn external_ns_key(f: CloneFlags) -> &'static str {
    match f {
        CloneFlags::CLONE_NEWNET => "extRootNetNS",
        _ => "extRootPidNS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unresolvable_destination_is_cleaned() {
        let r = resolved(None, Path::new("/nonexistent"), Path::new("/a//b/./c/../d"));
        assert_eq!(r, "/a/b/d");
    }

    #[test]
    fn a_symlinked_destination_lands_on_its_target() {
        let dir = std::env::temp_dir().join(format!("husk-ext-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("real")).unwrap();
        let _ = std::os::unix::fs::symlink("real", dir.join("link"));
        let root = Root::open(&dir).unwrap();
        let canonical = std::fs::canonicalize(&dir).unwrap();
        let r = resolved(Some(&root), &canonical, Path::new("/link"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(r, "/real");
    }
}
