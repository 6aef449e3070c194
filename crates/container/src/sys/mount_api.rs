//! The new mount API and mount namespaces: mount_setattr (idmapped and flag changes),
//! open_tree and move_mount, detached filesystems built with fsopen/fsconfig/fsmount (the
//! read-only overlay that seals husk's binary), and work done inside another mount namespace.

use super::*;

/// `struct mount_attr` for mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

pub const AT_RECURSIVE: u32 = 0x8000;
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

pub const MOUNT_ATTR_IDMAP: u64 = 0x100000;

/// mount_setattr(2) on the mount `fd` refers to (AT_EMPTY_PATH), recursively when asked.
pub fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, set: u64, clear: u64) -> io::Result<()> {
    mount_setattr_raw(
        fd,
        recursive,
        &MountAttr {
            attr_set: set,
            attr_clr: clear,
            propagation: 0,
            userns_fd: 0,
        },
    )
}

/// Give the detached mount `fd` the id mapping of user namespace `userns`
/// (MOUNT_ATTR_IDMAP), on its submounts too when `recursive`.
pub fn mount_setattr_idmap(
    fd: BorrowedFd<'_>,
    userns: BorrowedFd<'_>,
    recursive: bool,
) -> io::Result<()> {
    mount_setattr_raw(
        fd,
        recursive,
        &MountAttr {
            attr_set: MOUNT_ATTR_IDMAP,
            attr_clr: 0,
            propagation: 0,
            userns_fd: userns.as_raw_fd() as u64,
        },
    )
}

fn mount_setattr_raw(fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr) -> io::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: the empty path is a valid C string, `attr` is initialised and outlives the call,
    // and the size passed is its exact size.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// open_tree(OPEN_TREE_CLONE): a detached copy of the mount at `path` (with its submounts
/// when `recursive`), as for a bind mount that is not attached anywhere yet.
pub fn open_tree_clone(path: &CStr, recursive: bool) -> io::Result<OwnedFd> {
    use rustix::mount::OpenTreeFlags as F;
    let mut flags = F::OPEN_TREE_CLONE | F::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= F::AT_RECURSIVE;
    }
    Ok(rustix::mount::open_tree(rustix::fs::CWD, path, flags)?)
}

/// move_mount(2) of the detached mount `from` onto the file or directory `onto` (both by fd).
pub fn move_mount_onto(from: BorrowedFd<'_>, onto: BorrowedFd<'_>) -> io::Result<()> {
    use rustix::mount::MoveMountFlags as F;
    let flags = F::MOVE_MOUNT_F_EMPTY_PATH | F::MOVE_MOUNT_T_EMPTY_PATH;
    Ok(rustix::mount::move_mount(from, c"", onto, c"", flags)?)
}

/// move_mount(2) of the detached mount `from` onto the path `target`, for a forked child of a
/// threaded process: a raw call, no allocation. 0, or the errno.
pub fn move_mount_raw(from: RawFd, target: &CStr) -> i32 {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    // SAFETY: both strings are valid C strings that outlive the call; the fds are the
    // caller's.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if ret == 0 {
        0
    } else {
        errno()
    }
}

/// For a forked child of a threaded process: enter the mount namespace `ns`, make the
/// directory `root` its root, and move each detached mount onto its target path there, over
/// whatever was on it (unmounted first). Raw calls on what the caller made: no allocation.
/// 0, or the errno of the step that failed.
pub fn move_mounts_in_namespace(
    ns: BorrowedFd<'_>,
    root: BorrowedFd<'_>,
    moves: &[(OwnedFd, CString)],
) -> i32 {
    // SAFETY: plain system calls on valid fds and C strings; nothing is allocated.
    let entered = unsafe {
        libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNS) == 0
            && libc::fchdir(root.as_raw_fd()) == 0
            && libc::chroot(c".".as_ptr()) == 0
    };
    if !entered {
        return errno();
    }
    for (tree, target) in moves {
        // SAFETY: as above; a target with nothing on it fails with EINVAL, which is fine.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        let err = move_mount_raw(tree.as_raw_fd(), target);
        if err != 0 {
            return err;
        }
    }
    0
}

/// A detached, read-only overlayfs mount whose only layer is `lower` (fsopen + fsconfig +
/// fsmount): files opened through it can never be opened for writing (no upper layer), and
/// the mount is in no namespace's tree, so nothing needs unmounting.
pub fn readonly_overlay(lower: &CStr) -> io::Result<OwnedFd> {
    // Without an upper layer overlayfs wants two lower ones, the first hiding the second. As
    // runc does: an attached directory that is neither above nor below `lower` (overlapping
    // layers are refused), here /dev. Nothing of it shows through: only husk's own name is
    // opened, and `lower` has it. Where /dev cannot be a layer, an empty detached tmpfs,
    // named by its /proc/self/fd path; that works only since Linux 6.15 (Debian 12's 6.1
    // refuses it with EINVAL and a kernel log line, so it is not the first choice).
    overlay_of(&layers(lower, "/dev")?).or_else(|_| {
        let empty = detached_mount(c"tmpfs")?;
        overlay_of(&layers(
            lower,
            &format!("/proc/self/fd/{}", empty.as_raw_fd()),
        )?)
    })
}

/// overlayfs's lowerdir= value: `top` over `below`.
fn layers(top: &CStr, below: &str) -> io::Result<std::ffi::CString> {
    let joined = format!("{}:{below}", top.to_string_lossy());
    std::ffi::CString::new(joined).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// A new detached tmpfs with `options` (`mode=1777`, `size=64m`: each `key=value` or a bare
/// flag set through fsconfig), for tmpcopyup to fill before it is moved into place.
pub fn detached_tmpfs(options: &[String]) -> io::Result<OwnedFd> {
    let fs = fs_context(c"tmpfs")?;
    for opt in options {
        let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
        let c = |s: &str| {
            std::ffi::CString::new(s).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
        };
        fs_set(&fs, &c(key)?, &c(value)?)?;
    }
    fs_mount(&fs, 0)
}

/// A new detached mount of filesystem `fstype` with default options.
pub(super) fn detached_mount(fstype: &CStr) -> io::Result<OwnedFd> {
    let fs = fs_context(fstype)?;
    fs_mount(&fs, 0)
}

fn overlay_of(lower: &CStr) -> io::Result<OwnedFd> {
    const MOUNT_ATTR_RDONLY: u32 = 1;
    const MOUNT_ATTR_NODEV: u32 = 4;
    let fs = fs_context(c"overlay")?;
    fs_set(&fs, c"lowerdir", lower)?;
    // Without an upper layer the overlay is read-only; these keep it from needing features
    // (index, xino) that some lower filesystems lack.
    let _ = fs_set(&fs, c"xino", c"off");
    let _ = fs_set(&fs, c"index", c"off");
    fs_mount(&fs, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV)
}

/// fsopen(2): a filesystem context for `fstype`.
fn fs_context(fstype: &CStr) -> io::Result<OwnedFd> {
    Ok(rustix::mount::fsopen(
        fstype,
        rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC,
    )?)
}

/// fsconfig(FSCONFIG_SET_STRING): one option of a filesystem context.
fn fs_set(fs: &OwnedFd, key: &CStr, value: &CStr) -> io::Result<()> {
    Ok(rustix::mount::fsconfig_set_string(fs, key, value)?)
}

/// fsconfig(FSCONFIG_CMD_CREATE), then fsmount(2) with mount attributes `attrs`: the
/// detached mount.
fn fs_mount(fs: &OwnedFd, attrs: u32) -> io::Result<OwnedFd> {
    use rustix::mount::{FsMountFlags, MountAttrFlags};
    rustix::mount::fsconfig_create(fs)?;
    let attrs = MountAttrFlags::from_bits_retain(attrs);
    Ok(rustix::mount::fsmount(
        fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        attrs,
    )?)
}

/// Run `f` in the mount namespace `ns`, then come back to husk's own (and its working
/// directory, which setns resets). For the parent only, which is single-threaded: setns of a
/// mount namespace needs a process that shares its filesystem context with no other thread.
pub fn in_mount_namespace<T>(ns: BorrowedFd<'_>, f: impl FnOnce() -> T) -> io::Result<T> {
    let own: OwnedFd = std::fs::File::open("/proc/self/ns/mnt")?.into();
    let cwd = nix::fcntl::open(
        ".",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map(own_fd)?;
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNS)?;
    let out = f();
    if let Err(e) = nix::sched::setns(&own, nix::sched::CloneFlags::CLONE_NEWNS) {
        // husk cannot go on in the container's mount namespace: nothing it does after this
        // could be trusted to reach the host's files.
        eprintln!("husk: returning to the host's mount namespace: {e}");
        std::process::abort();
    }
    nix::unistd::fchdir(cwd.as_raw_fd())?;
    Ok(out)
}
