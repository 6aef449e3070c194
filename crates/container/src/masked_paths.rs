//! `linux.maskedPaths` and `linux.readonlyPaths`, applied after pivot_root.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::mount::MsFlags;

use crate::error::{StepContext, SysError};
use crate::mounts::{locked_flags, MountCalls};
use crate::resolve::{fd_path, Root};

/// Make `path` read-only: bind it onto itself, then remount read-only (keeping locked flags).
/// A path that does not exist is skipped, as the spec allows.
pub fn readonly(calls: &dyn MountCalls, root: &Root, path: &Path) -> Result<(), SysError> {
    let Ok(fd) = root.lookup(path) else {
        return Ok(());
    };
    let p = fd_path(fd.as_fd());
    calls
        .mount(
            Some(&p),
            &p,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .step(|| format!("bind-mounting readonly path {}", path.display()))?;
    let fd = root
        .lookup(path)
        .step(|| format!("opening {}", path.display()))?;
    let flags = locked_flags(&fd)?
        | MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_REC;
    calls
        .mount(
            None,
            &fd_path(fd.as_fd()),
            None::<&str>,
            flags,
            None::<&str>,
        )
        .step(|| format!("remounting {} read-only", path.display()))
}

/// Hide every path of `linux.maskedPaths`, each once (a path listed twice is masked once):
/// a file under /dev/null; a directory under a read-only empty tmpfs, one tmpfs shared by all
/// of them (bound onto the second and later ones), as runc does.
pub fn mask_all(
    calls: &dyn MountCalls,
    root: &Root,
    dev_null: &Path,
    paths: &[String],
) -> Result<(), SysError> {
    let mut done: Vec<&str> = Vec::new();
    let mut shared_tmpfs: Option<OwnedFd> = None;
    for p in paths {
        if done.contains(&p.as_str()) {
            continue;
        }
        done.push(p);
        mask(calls, root, dev_null, Path::new(p), &mut shared_tmpfs)?;
    }
    Ok(())
}

/// Hide `path`: a read-only empty tmpfs over a directory (the first one mounted, the others a
/// bind of it, held open in `shared_tmpfs`), /dev/null over anything else. A path that does
/// not exist needs no mask.
fn mask(
    calls: &dyn MountCalls,
    root: &Root,
    dev_null: &Path,
    path: &Path,
    shared_tmpfs: &mut Option<OwnedFd>,
) -> Result<(), SysError> {
    let Ok(fd) = root.lookup(path) else {
        return Ok(());
    };
    let is_dir = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd))
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .unwrap_or(false);
    let target = fd_path(fd.as_fd());
    if !is_dir {
        return calls
            .mount(
                Some(dev_null),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .step(|| format!("masking {}", path.display()));
    }
    match shared_tmpfs {
        Some(first) => calls
            .mount(
                Some(&fd_path(first.as_fd())),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .step(|| format!("masking directory {}", path.display())),
        None => {
            calls
                .mount(
                    Some(Path::new("tmpfs")),
                    &target,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    None::<&str>,
                )
                .step(|| format!("masking directory {}", path.display()))?;
            // The tmpfs itself, reopened (fd still names the directory under it).
            let tmpfs = root
                .lookup(path)
                .step(|| format!("opening the mask of {}", path.display()))?;
            *shared_tmpfs = Some(tmpfs);
            Ok(())
        }
    }
}

/// Open the container's /dev/null for masking and check it is the real null device (char 1:3):
/// a rootfs whose /dev/null is a symlink or another file must not get that file bind-mounted
/// over the masked paths (CVE-2025-31133).
pub fn open_dev_null(root: &Root) -> Result<std::os::fd::OwnedFd, SysError> {
    let fd = root
        .lookup(Path::new("/dev/null"))
        .step(|| "opening /dev/null in the container")?;
    let st =
        nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd)).step(|| "stat /dev/null")?;
    let is_null =
        st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == nix::sys::stat::makedev(1, 3);
    if !is_null {
        return Err(crate::error::fail(
            "checking /dev/null before masking",
            "it is not the null character device (1:3); refusing to use it",
        ));
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mounts::recording::Recorder;

    /// A scratch rootfs with `dirs` and `files`, and what masking `masked` and making
    /// `readonly` read-only call, in order. Needs no privilege.
    fn plan(
        dirs: &[&str],
        files: &[&str],
        masked: &[&str],
        readonly_paths: &[&str],
    ) -> Vec<String> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let scratch = std::env::temp_dir().join(format!("husk-mask-{}-{n}", std::process::id()));
        for d in dirs {
            std::fs::create_dir_all(scratch.join(d.trim_start_matches('/'))).unwrap();
        }
        for f in files {
            let p = scratch.join(f.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let root = Root::open(&scratch).unwrap();
        let recorder = Recorder::new(&scratch);
        for p in readonly_paths {
            readonly(&recorder, &root, Path::new(p)).unwrap();
        }
        let masked: Vec<String> = masked.iter().map(|s| s.to_string()).collect();
        mask_all(&recorder, &root, Path::new("/null"), &masked).unwrap();
        let _ = std::fs::remove_dir_all(&scratch);
        recorder.calls.into_inner()
    }

    #[test]
    fn plan_masked_files_get_dev_null_and_directories_share_one_read_only_tmpfs() {
        let calls = plan(
            &["/proc/acpi", "/proc/scsi"],
            &["/proc/kcore", "/proc/keys"],
            &[
                "/proc/kcore",
                "/proc/acpi",
                "/proc/keys",
                "/proc/scsi",
                "/proc/kcore",
                "/nothere",
            ],
            &[],
        );
        assert_eq!(calls.len(), 4, "each existing path once: {calls:?}");
        assert_eq!(calls[0], "mount /null /proc/kcore - bind -");
        assert_eq!(calls[1], "mount tmpfs /proc/acpi tmpfs ro -");
        assert_eq!(calls[2], "mount /null /proc/keys - bind -");
        // The second directory gets a bind of the first one's tmpfs, not a tmpfs of its own.
        assert_eq!(calls[3], "mount /proc/acpi /proc/scsi - bind -");
    }

    #[test]
    fn plan_read_only_paths_are_bound_onto_themselves_then_remounted_read_only() {
        let calls = plan(
            &["/proc/sys", "/proc/bus"],
            &[],
            &[],
            &["/proc/sys", "/gone", "/proc/bus"],
        );
        assert_eq!(calls.len(), 4, "{calls:?}");
        assert_eq!(calls[0], "mount /proc/sys /proc/sys - bind|rec -");
        assert!(
            calls[1].starts_with("mount - /proc/sys - remount|bind|rec|ro"),
            "{calls:?}"
        );
        assert_eq!(calls[2], "mount /proc/bus /proc/bus - bind|rec -");
        assert!(
            calls[3].starts_with("mount - /proc/bus - remount|bind|rec|ro"),
            "{calls:?}"
        );
    }
}
