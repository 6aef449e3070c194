//! `root` and `linux.rootfsPropagation`: making the rootfs a private-enough mount point,
//! pivot_root into it (or MS_MOVE + chroot with --no-pivot), and `root.readonly`.

use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use crate::error::{StepContext, SysError};
use crate::mounts::{locked_flags, propagation_flag};
use crate::resolve::{self, fd_path};
use crate::sys;

/// The propagation of the whole new mount namespace before anything is mounted: the config's
/// `linux.rootfsPropagation`, else rslave (runc's default), so that mounts the container makes
/// never reach the host.
pub fn root_propagation(config: Option<&str>) -> MsFlags {
    config
        .and_then(propagation_flag)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC)
}

/// Before any mount: set the propagation of the whole (new) mount namespace, make the mount
/// the rootfs sits on private (pivot_root refuses a new root whose parent is shared, and a
/// bind of an unbindable mount fails), then bind the rootfs onto itself so that it is a mount
/// point pivot_root accepts. The config's propagation reaches the container's "/" only after
/// pivot_root (`apply_root_propagation`), as in runc.
pub fn prepare(rootfs: &Path, propagation: MsFlags) -> Result<(), SysError> {
    mount(None::<&str>, "/", None::<&str>, propagation, None::<&str>)
        .step(|| format!("setting propagation {propagation:?} on /"))?;
    make_parent_private(rootfs)?;
    bind_onto_itself(rootfs)
}

/// The rootfs bound onto itself (recursively): a mount point of its own, which pivot_root
/// accepts and `delete` can take off in one piece.
fn bind_onto_itself(rootfs: &Path) -> Result<(), SysError> {
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .step(|| format!("bind-mounting the rootfs {} onto itself", rootfs.display()))
}

/// After pivot_root (or the move with --no-pivot): the configured `linux.rootfsPropagation`
/// on the container's own "/" (shared, slave, unbindable...). Private it already is.
pub fn apply_root_propagation(config: Option<&str>) -> Result<(), SysError> {
    let Some(flags) = config.and_then(propagation_flag) else {
        return Ok(());
    };
    if flags.contains(MsFlags::MS_PRIVATE) {
        return Ok(());
    }
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .step(|| format!("linux.rootfsPropagation: setting {flags:?} on the container's /"))
}

/// The mount `rootfs` is on, made private: the nearest mount point at or above it.
fn make_parent_private(rootfs: &Path) -> Result<(), SysError> {
    let info =
        std::fs::read_to_string("/proc/self/mountinfo").step(|| "reading /proc/self/mountinfo")?;
    // The mount the rootfs sits on: the longest mount point above it, the last (topmost) of
    // those stacked there.
    let Some((parent, shared)) = info
        .lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            let optional = l.split(" - ").next().unwrap_or_default();
            let shared = optional
                .split(' ')
                .skip(6)
                .any(|f| f.starts_with("shared:") || f == "unbindable");
            Some((Path::new(*fields.get(4)?), shared))
        })
        .filter(|(mp, _)| rootfs.starts_with(mp))
        .max_by_key(|(mp, _)| mp.as_os_str().len())
    else {
        return Ok(());
    };
    // As runc: a shared parent is made private (pivot_root refuses it, and the rootfs bind
    // would propagate out); an unbindable one too (the rootfs could not be bound onto itself:
    // rootfsPropagation "unbindable" reaches the new root after pivot_root). A slave one stays
    // a slave, so that a rootfsPropagation of "slave" still receives the host's mounts.
    if !shared {
        return Ok(());
    }
    mount(
        None::<&str>,
        parent,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .step(|| format!("making {} private for pivot_root", parent.display()))
}

/// pivot_root into `rootfs` and detach the old root, with no directory for it left behind
/// (the `pivot_root(".", ".")` idiom).
pub fn pivot(rootfs: &Path) -> Result<(), SysError> {
    let old = sys::openat(resolve::cwd(), c"/", libc::O_DIRECTORY | libc::O_RDONLY, 0)
        .step(|| "opening /")?;
    let new = sys::openat(
        resolve::cwd(),
        &crate::error::c_string(rootfs.display(), rootfs.as_os_str().as_encoded_bytes())?,
        libc::O_DIRECTORY | libc::O_RDONLY,
        0,
    )
    .step(|| format!("opening {}", rootfs.display()))?;
    fchdir(new.as_raw_fd()).step(|| "entering the rootfs")?;
    pivot_root(".", ".").step(|| format!("pivot_root into {}", rootfs.display()))?;
    fchdir(old.as_raw_fd()).step(|| "entering the old root")?;
    // The old root must not propagate the unmount to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .step(|| "making the old root a slave")?;
    umount2(".", MntFlags::MNT_DETACH).step(|| "detaching the old root")?;
    chdir("/").step(|| "entering /")
}

/// --no-pivot: move the rootfs over "/" and chroot (for ramfs roots, where pivot_root fails).
/// Before that, every full procfs and sysfs mount of the host's namespace copy outside the
/// rootfs goes (or, where it cannot be unmounted, is covered by a tmpfs): with chroot those
/// stay in the mount namespace, and the kernel lets a process mount a fresh procfs (with no
/// masked paths) wherever a full, uncovered one exists. runc does the same.
pub fn move_root(rootfs: &Path) -> Result<(), SysError> {
    for mountpoint in host_pseudo_filesystems(rootfs)? {
        hide_mount(&mountpoint)?;
    }
    chdir(rootfs).step(|| format!("entering {}", rootfs.display()))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .step(|| "moving the rootfs to /")?;
    chroot(".").step(|| "chroot into the rootfs")?;
    chdir("/").step(|| "entering /")
}

/// The mount points of whole procfs and sysfs mounts outside `rootfs`, deepest last.
fn host_pseudo_filesystems(rootfs: &Path) -> Result<Vec<std::path::PathBuf>, SysError> {
    let info =
        std::fs::read_to_string("/proc/self/mountinfo").step(|| "reading /proc/self/mountinfo")?;
    Ok(info
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let fstype = right.split(' ').next()?;
            let (root, mountpoint) = (f.get(3)?, Path::new(f.get(4)?));
            let full = *root == "/" && (fstype == "proc" || fstype == "sysfs");
            (full && !mountpoint.starts_with(rootfs)).then(|| mountpoint.to_path_buf())
        })
        .collect())
}

fn hide_mount(mountpoint: &Path) -> Result<(), SysError> {
    // Unmounting must not propagate to the host.
    match mount(
        None::<&str>,
        mountpoint,
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    ) {
        // Gone with a parent already detached.
        Err(nix::Error::ENOENT) => return Ok(()),
        other => other.step(|| format!("making {} a slave", mountpoint.display()))?,
    }
    match umount2(mountpoint, MntFlags::MNT_DETACH) {
        Ok(()) => Ok(()),
        Err(nix::Error::EINVAL | nix::Error::EPERM) => mount(
            Some("tmpfs"),
            mountpoint,
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .step(|| format!("covering {}", mountpoint.display())),
        Err(e) => Err(e).step(|| format!("unmounting {}", mountpoint.display())),
    }
}

/// `root.readonly`: remount "/" read-only, keeping its other flags.
pub fn make_readonly() -> Result<(), SysError> {
    let fd = sys::openat(resolve::cwd(), c"/", libc::O_PATH | libc::O_DIRECTORY, 0)
        .step(|| "opening /")?;
    let flags = locked_flags(&fd)? | MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    mount(
        None::<&str>,
        &fd_path(fd.as_fd()),
        None::<&str>,
        flags,
        None::<&str>,
    )
    .step(|| "remounting / read-only")
}

/// How many mounts sit exactly on `path` now (0 when it is no mount point).
pub fn mounts_on(path: &Path) -> usize {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| Path::new(&unescape_mountinfo(mp)) == path)
        .count()
}

/// mountinfo writes a space, tab, newline and backslash in a path as octal escapes.
fn unescape_mountinfo(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// A container in the host's mount namespace (the config has none of its own): its rootfs is
/// bound onto itself, with no change of propagation anywhere (that would change the host's
/// mounts; runc makes the host's "/" rslave here), so that every mount of the config lands
/// under one mount `delete` can take off.
pub fn prepare_in_host_namespace(rootfs: &Path) -> Result<(), SysError> {
    bind_onto_itself(rootfs)
}

/// Enter the rootfs of a container in the host's mount namespace: chroot, as runc does
/// (pivot_root would change the host's root).
pub fn enter_by_chroot(rootfs: &Path) -> Result<(), SysError> {
    chdir(rootfs).step(|| format!("entering {}", rootfs.display()))?;
    chroot(".").step(|| "chroot into the rootfs")?;
    chdir("/").step(|| "entering /")
}

/// `delete` of a container in the host's mount namespace: detach the mounts husk added on
/// its rootfs (the topmost ones, down to the `before` that were there already), and with
/// them every mount under them.
pub fn unmount_added(rootfs: &Path, before: usize) -> Result<(), SysError> {
    while mounts_on(rootfs) > before {
        umount2(rootfs, MntFlags::MNT_DETACH)
            .step(|| format!("unmounting the container's mounts on {}", rootfs.display()))?;
    }
    Ok(())
}
