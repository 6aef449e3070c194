//! /dev: the default devices every container gets (null, zero, full, random, urandom, tty),
//! `linux.devices`, and the standard symlinks (/dev/fd, /dev/stdin..., /dev/ptmx).
//! In a user namespace mknod is not allowed: the host's node is bind-mounted instead, as runc.

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::error::{fail, StepContext, SysError};
use crate::resolve::{fd_path, inner, Root};

/// One device node to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices of runc's default list.
pub fn default_nodes() -> Vec<Node> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| Node {
        path: Path::new("/dev").join(name),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// A `linux.devices` entry as a node.
pub fn node_of(d: &LinuxDevice) -> Node {
    let kind = match d.typ() {
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        _ => SFlag::S_IFCHR,
    };
    Node {
        path: d.path().clone(),
        kind,
        major: d.major().max(0) as u64,
        minor: d.minor().max(0) as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    }
}

/// Make `node` inside the rootfs (mknod, or a bind of the host's node in a user namespace).
pub fn create(root: &Root, node: &Node, in_userns: bool) -> Result<(), SysError> {
    let rel = inner(&node.path);
    let name = rel
        .file_name()
        .ok_or_else(|| {
            fail(
                format!("creating device {}", node.path.display()),
                "no file name",
            )
        })?
        .to_owned();
    let parent = root.mkdir_all(rel.parent().unwrap_or(Path::new("")), 0o755)?;
    let dirfd = Some(parent.as_raw_fd());
    if in_userns {
        let target = root.mkfile(&node.path)?;
        return mount(
            Some(&node.path),
            &fd_path(target.as_fd()),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .step(|| format!("bind-mounting host device {}", node.path.display()));
    }
    // An existing entry (a rootfs shipped with its own /dev/null file, say) is replaced:
    // whatever the rootfs put there is not trusted to be the device it claims to be.
    let _ = nix::unistd::unlinkat(
        dirfd,
        name.as_os_str(),
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    mknodat(
        dirfd,
        name.as_os_str(),
        node.kind,
        Mode::from_bits_truncate(node.mode),
        makedev(node.major, node.minor),
    )
    .step(|| {
        format!(
            "mknod {} ({}:{})",
            node.path.display(),
            node.major,
            node.minor
        )
    })?;
    fchownat(
        dirfd,
        name.as_os_str(),
        Some(Uid::from_raw(node.uid)),
        Some(Gid::from_raw(node.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .step(|| format!("chown {}", node.path.display()))
}

/// /dev/fd, /dev/stdin, /dev/stdout, /dev/stderr, /dev/ptmx (to the devpts instance) and
/// /dev/core where the kernel has /proc/kcore.
pub fn create_symlinks(root: &Root) -> Result<(), SysError> {
    let dev = root.mkdir_all(Path::new("/dev"), 0o755)?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("pts/ptmx", "ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        if name == "ptmx" {
            let _ = nix::unistd::unlinkat(
                Some(dev.as_raw_fd()),
                name,
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
        match nix::unistd::symlinkat(target, Some(dev.as_raw_fd()), name) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(e).step(|| format!("symlink /dev/{name} -> {target}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_devices_default_to_0666_root() {
        let d: LinuxDevice =
            serde_json::from_str(r#"{"path":"/dev/fuse","type":"c","major":10,"minor":229}"#)
                .unwrap();
        let n = node_of(&d);
        assert_eq!(
            (n.kind, n.major, n.minor, n.mode, n.uid),
            (SFlag::S_IFCHR, 10, 229, 0o666, 0)
        );
    }

    #[test]
    fn default_list_is_runcs() {
        let names: Vec<String> = default_nodes()
            .iter()
            .map(|n| n.path.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/random",
                "/dev/urandom",
                "/dev/tty"
            ]
        );
    }
}
