//! Idmapped mounts: `mounts[].options` `idmap` / `ridmap` and a mount's own
//! `uidMappings`/`gidMappings` (runtime-spec 1.2).
//!
//! MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN in the user namespace that owns the filesystem, which
//! for a host directory is the host's: the container's processes never have it. So the parent
//! (husk, on the host) makes each one as a detached mount (open_tree + mount_setattr) once the
//! container's user namespace exists, and sends it to the intermediate before `Proceed`; the
//! init moves it onto its destination in the mount order of config.json (mounts.rs).
//!
//! The mapping is the one of a user namespace whose uid_map is the mount's `uidMappings` (a
//! file owned by `containerID` on disk is seen as owned by `hostID`), as runc does; without
//! mappings it is the container's own user namespace.

use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::ForkResult;
use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};

use crate::error::{fail, StepContext, SysError};
use crate::mounts::parse_options;
use crate::namespaces::write_maps;
use crate::sync::{Channel, ToChild};
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

/// Make every idmapped mount of `spec` and send each to the intermediate on `channel`.
pub fn make_and_send(
    spec: &Spec,
    bundle_dir: &Path,
    userns: &ContainerUserns,
    channel: &Channel,
) -> Result<(), SysError> {
    let mut made_userns: Vec<(String, OwnedFd)> = Vec::new();
    for (index, m) in spec.mounts().iter().flatten().enumerate() {
        if !wanted(m) {
            continue;
        }
        let what = || {
            format!(
                "idmapped mount mounts[{index}] on {}",
                m.destination().display()
            )
        };
        let ns = match (m.uid_mappings(), m.gid_mappings()) {
            (Some(uid), Some(gid)) => {
                let key = format!("{uid:?}{gid:?}");
                if let Some(pos) = made_userns.iter().position(|(k, _)| *k == key) {
                    made_userns[pos].1.try_clone().step(what)?
                } else {
                    let fd = userns_with(uid, gid).map_err(|e| fail(what(), e))?;
                    made_userns.push((key, fd.try_clone().step(what)?));
                    fd
                }
            }
            _ => match userns {
                ContainerUserns::Of(pid) => open(&format!("/proc/{pid}/ns/user")).step(what)?,
                ContainerUserns::Path(p) => open(&p.to_string_lossy()).step(what)?,
                ContainerUserns::None => {
                    return Err(fail(
                        what(),
                        "no uidMappings/gidMappings and no user namespace to take them from",
                    ))
                }
            },
        };
        let opts = m.options().clone().unwrap_or_default();
        let recursive_tree = opts.iter().any(|o| o == "rbind");
        let recursive_idmap = opts.iter().any(|o| o == "ridmap");
        let source = m.source().clone().unwrap_or_default();
        let source = if source.is_absolute() {
            source
        } else {
            bundle_dir.join(source)
        };
        let c_source = CString::new(source.as_os_str().as_encoded_bytes())
            .map_err(|_| fail(what(), "the source contains a NUL byte"))?;
        let tree = sys::open_tree_clone(&c_source, recursive_tree)
            .step(|| format!("{}: open_tree of {}", what(), source.display()))?;
        sys::mount_setattr_idmap(tree.as_fd(), ns.as_fd(), recursive_idmap).map_err(|e| {
            let hint = match e.raw_os_error() {
                Some(libc::EINVAL) => {
                    " (the source's filesystem does not support idmapped mounts, or a \
                     submount of an rbind does not: use idmap rather than ridmap)"
                }
                Some(libc::EPERM) => " (idmapped mounts need root on the host)",
                _ => "",
            };
            fail(
                what(),
                format!(
                    "mount_setattr(MOUNT_ATTR_IDMAP) of {}: {e}{hint}",
                    source.display()
                ),
            )
        })?;
        channel
            .to_child_with_fd(&ToChild::IdmappedMount { index }, tree.as_fd())
            .map_err(|e| fail(what(), e))?;
    }
    Ok(())
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
