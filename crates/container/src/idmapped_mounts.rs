//! Mount sources opened by husk for the init: idmapped mounts (`mounts[].options` `idmap` /
//! `ridmap` and a mount's own `uidMappings`/`gidMappings`, runtime-spec 1.2), and bind
//! sources the container's user cannot reach.
//!
//! MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN in the user namespace that owns the filesystem, which
//! for a host directory is the host's: the container's processes never have it. And a bind
//! source under a directory closed to others (0700) cannot be reached by the root of a new
//! user namespace. So when the init comes to such a mount, in the order of config.json, it
//! asks husk (the parent, root on the host), sending its mount namespace; husk enters that
//! namespace, so that the mounts the init has made so far are seen (a source inside the
//! rootfs, under an earlier mount), opens the source (a detached open_tree copy with the
//! mapping for an idmapped mount, O_PATH for a bind), comes back, and sends it; the init
//! mounts it on the destination. runc does the same.
//!
//! The mapping is the one of a user namespace whose uid_map is the mount's `uidMappings` (a
//! file owned by `containerID` on disk is seen as owned by `hostID`), as runc does; without
//! mappings it is the container's own user namespace.

use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::ForkResult;
use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};

use crate::error::{fail, StepContext, SysError};
use crate::mounts::parse_options;
use crate::namespaces::write_maps;
use crate::sys;

/// Does this mount want an id mapping?
pub fn wanted(m: &Mount) -> bool {
    parse_options(m.options().as_deref().unwrap_or_default()).idmap
        || m.uid_mappings().is_some()
        || m.gid_mappings().is_some()
}

/// Whose user namespace an idmapped mount without mappings of its own borrows.
pub enum ContainerUserns {
    /// The container's new user namespace, made by the intermediate (pid).
    Of(i32),
    /// The user namespace the container joins.
    Path(PathBuf),
    None,
}

/// husk's side of the mount-source requests of one container.
pub struct MountSources {
    /// The config's mounts (a copy: the answers come while `create` owns the spec).
    mounts: Vec<Mount>,
    bundle_dir: PathBuf,
    /// The container's user namespace, for idmapped mounts without mappings of their own.
    container_userns: Option<OwnedFd>,
    /// User namespaces made for mounts' own mappings, by mapping.
    made_userns: Vec<(String, OwnedFd)>,
}

impl MountSources {
    /// Call once the container's user namespace exists (its maps written): its fd is taken
    /// now, while the intermediate that made it is alive.
    pub fn new(spec: &Spec, bundle_dir: &Path, userns: &ContainerUserns) -> Result<Self, SysError> {
        let container_userns = match userns {
            ContainerUserns::Of(pid) => Some(
                open(&format!("/proc/{pid}/ns/user")).step(|| "opening the container's userns")?,
            ),
            ContainerUserns::Path(p) => {
                Some(open(&p.to_string_lossy()).step(|| format!("opening {}", p.display()))?)
            }
            ContainerUserns::None => None,
        };
        Ok(MountSources {
            mounts: spec.mounts().clone().unwrap_or_default(),
            bundle_dir: bundle_dir.to_path_buf(),
            container_userns,
            made_userns: Vec::new(),
        })
    }

    /// The source of `mounts[index]`, opened in the mount namespace `mntns`.
    pub fn open(&mut self, index: usize, mntns: BorrowedFd<'_>) -> Result<OwnedFd, SysError> {
        let m = self
            .mounts
            .get(index)
            .cloned()
            .ok_or_else(|| fail("a mount source", format!("no mounts[{index}]")))?;
        let what = || format!("mounts[{index}] on {}", m.destination().display());
        let source = m.source().clone().unwrap_or_default();
        let source = if source.is_absolute() {
            source
        } else {
            self.bundle_dir.join(source)
        };
        let userns = if wanted(&m) {
            Some(self.userns_for(&m).map_err(|e| fail(what(), e))?)
        } else {
            None
        };
        let opened = sys::in_mount_namespace(mntns, || match &userns {
            Some(ns) => idmapped_tree(&m, &source, ns.as_fd()),
            None => open_path(&source),
        })
        .step(|| format!("{}: entering the container's mount namespace", what()))?;
        opened.map_err(|e| fail(what(), e))
    }

    fn userns_for(&mut self, m: &Mount) -> Result<OwnedFd, String> {
        let clone = |fd: &OwnedFd| fd.try_clone().map_err(|e| e.to_string());
        match (m.uid_mappings(), m.gid_mappings()) {
            (Some(uid), Some(gid)) => {
                let key = format!("{uid:?}{gid:?}");
                if let Some((_, fd)) = self.made_userns.iter().find(|(k, _)| *k == key) {
                    return clone(fd);
                }
                let fd = userns_with(uid, gid)?;
                self.made_userns.push((key, clone(&fd)?));
                Ok(fd)
            }
            _ => match &self.container_userns {
                Some(fd) => clone(fd),
                None => {
                    Err("no uidMappings/gidMappings and no user namespace to take them from".into())
                }
            },
        }
    }
}

fn open_path(source: &Path) -> Result<OwnedFd, String> {
    nix::fcntl::open(
        source,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map(sys::own_fd)
    .map_err(|e| format!("bind mount source {}: {e}", source.display()))
}

/// A detached copy of `source` (open_tree), mapped through the user namespace `ns`.
fn idmapped_tree(m: &Mount, source: &Path, ns: BorrowedFd<'_>) -> Result<OwnedFd, String> {
    let opts = m.options().clone().unwrap_or_default();
    let recursive_tree = opts.iter().any(|o| o == "rbind");
    let recursive_idmap = opts.iter().any(|o| o == "ridmap");
    let c_source = CString::new(source.as_os_str().as_encoded_bytes())
        .map_err(|_| "the source contains a NUL byte".to_string())?;
    let tree = sys::open_tree_clone(&c_source, recursive_tree)
        .map_err(|e| format!("open_tree of {}: {e}", source.display()))?;
    sys::mount_setattr_idmap(tree.as_fd(), ns, recursive_idmap).map_err(|e| {
        let hint = match e.raw_os_error() {
            Some(libc::EINVAL) => {
                " (the source's filesystem does not support idmapped mounts, or a \
                 submount of an rbind does not: use idmap rather than ridmap)"
            }
            Some(libc::EPERM) => " (idmapped mounts need root on the host)",
            _ => "",
        };
        format!(
            "mount_setattr(MOUNT_ATTR_IDMAP) of {}: {e}{hint}",
            source.display()
        )
    })?;
    Ok(tree)
}

fn open(path: &str) -> std::io::Result<OwnedFd> {
    Ok(fs::File::open(path)?.into())
}

/// A user namespace with these maps, held by fd: a child unshares it and waits while the
/// maps are written and the namespace opened, then exits. husk is single-threaded here.
fn userns_with(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd, String> {
    let (mut ready_r, ready_w) = pipe()?;
    let (done_r, done_w) = pipe()?;
    match sys::fork().map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(ready_r);
            drop(done_w);
            let code = match unshare(CloneFlags::CLONE_NEWUSER) {
                Ok(()) => 0,
                Err(_) => 1,
            };
            let mut w = fs::File::from(ready_w);
            let _ = w.write_all(&[code]);
            let mut r = done_r;
            let _ = r.read(&mut [0u8; 1]);
            sys::exit_now(code as i32)
        }
        ForkResult::Parent { child } => {
            drop(ready_w);
            drop(done_r);
            let mut b = [1u8; 1];
            let got = ready_r.read(&mut b).unwrap_or(0);
            let result = if got == 1 && b[0] == 0 {
                write_maps(child.as_raw(), uid, gid)
                    .map_err(|e| e.to_string())
                    .and_then(|()| {
                        open(&format!("/proc/{child}/ns/user"))
                            .map_err(|e| format!("opening the mapping's user namespace: {e}"))
                    })
            } else {
                Err("could not create a user namespace for the mapping".into())
            };
            drop(done_w);
            let _ = waitpid(child, None);
            result
        }
    }
}

fn pipe() -> Result<(fs::File, OwnedFd), String> {
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    Ok((fs::File::from(r), w))
}
