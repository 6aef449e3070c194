//! Mounting the filesystem (husk opens /dev/fuse and mounts it itself, as root: no fusermount)
//! and running the daemon until SIGTERM or SIGINT.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::signal::{SigSet, Signal};

use crate::files::loadavg::Loads;
use crate::fs::ProcFs;
use crate::view::Hierarchies;

/// The f_type statfs gives for a FUSE filesystem.
const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("opening /dev/fuse: {0} (the fuse module must be loaded)")]
    DevFuse(io::Error),
    #[error("making the mount point {path}: {source}")]
    MountPoint { path: PathBuf, source: io::Error },
    #[error("mounting the procfs filesystem on {path}: {source}")]
    Mount { path: PathBuf, source: nix::Error },
    #[error("the FUSE session on {path}: {source}")]
    Session { path: PathBuf, source: io::Error },
}

fn is_fuse(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 == FUSE_SUPER_MAGIC)
}

/// A daemon answers at `path`: it is a FUSE mount and its files can be looked up.
pub fn is_live_mount(path: &Path) -> bool {
    is_fuse(path) && path.join("meminfo").metadata().is_ok()
}

/// A mount whose daemon died answers ENOTCONN: it goes before a new one is mounted.
fn clear_dead_mount(path: &Path) {
    let dead = match nix::sys::statfs::statfs(path) {
        Err(nix::errno::Errno::ENOTCONN) => true,
        Ok(_) => is_fuse(path) && !is_live_mount(path),
        Err(_) => false,
    };
    if dead {
        let _ = umount2(path, MntFlags::MNT_DETACH);
    }
}

/// Mount a FUSE filesystem at `path` and return the /dev/fuse end to serve it on.
pub fn mount_fuse(path: &Path) -> Result<OwnedFd, ServeError> {
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(ServeError::DevFuse)?;
    let data = format!(
        "fd={},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions",
        dev.as_raw_fd()
    );
    let data = CString::new(data).expect("no NUL in numbers");
    mount(
        Some("husk-procfs"),
        path,
        Some("fuse.husk-procfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(data.as_c_str()),
    )
    .map_err(|source| ServeError::Mount {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(OwnedFd::from(dev))
}

/// Mount the filesystem at `path` (a dead mount there is cleared first), serve it, call
/// `ready` once it answers, and serve until SIGTERM or SIGINT, then unmount.
pub fn serve(path: &Path, ready: impl FnOnce()) -> Result<(), ServeError> {
    std::fs::create_dir_all(path).map_err(|source| ServeError::MountPoint {
        path: path.to_path_buf(),
        source,
    })?;
    clear_dead_mount(path);
    let hierarchies = Hierarchies::of_host();
    leave_callers_cgroups(&hierarchies);
    // Blocked before any thread starts, so that every thread inherits the mask and the
    // signals wait for sigwait below.
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGTERM);
    stop.add(Signal::SIGINT);
    let _ = stop.thread_block();
    let fd = mount_fuse(path)?;
    let loads = Loads::default();
    loads.start_sampling();
    let fs = ProcFs::new(hierarchies, loads);
    let mut config = fuser::Config::default();
    config.acl = fuser::SessionACL::All;
    let session_error = |source| ServeError::Session {
        path: path.to_path_buf(),
        source,
    };
    let session =
        fuser::Session::from_fd(fs, fd, fuser::SessionACL::All, config).map_err(session_error)?;
    let background = session.spawn().map_err(session_error)?;
    ready();
    drop_startup_pages();
    let _ = stop.wait();
    let _ = umount2(path, MntFlags::MNT_DETACH);
    let _ = background.join();
    Ok(())
}

/// The daemon outlives the `create` that started it, whose cgroups may be a pod's or a
/// service's that is removed later: it moves to the root cgroup of each hierarchy (as a host
/// daemon such as lxcfs runs outside any container's). Where it cannot, it stays.
fn leave_callers_cgroups(h: &Hierarchies) {
    let me = std::process::id().to_string();
    for point in h.mount_points() {
        if let Err(e) = std::fs::write(point.join("cgroup.procs"), &me) {
            tracing::debug!("staying out of {}'s root cgroup: {e}", point.display());
        }
    }
}

/// Starting up (the command line, logging, the mount, the remounts) faulted in much of husk's
/// binary (the kernel maps 64 KiB around each fault), code the daemon never runs again: the
/// binary's resident read-only pages are given back (MADV_PAGEOUT: clean file pages, dropped
/// at no cost), and only the code that serves reads comes back as it runs.
fn drop_startup_pages() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    for line in maps.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(range), Some(perms), Some(path)) = (f.first(), f.get(1), f.get(5)) else {
            continue;
        };
        if Path::new(path) != exe || perms.contains('w') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: the range is one of this process's own read-only file mappings, as the
        // kernel lists it; MADV_PAGEOUT only drops resident pages, which fault back in from
        // the file when touched, so no memory the program uses changes.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT);
        }
    }
}
