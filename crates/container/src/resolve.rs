//! Paths inside the container's rootfs, opened only by file descriptor.
//!
//! Nearly every runc escape (CVE-2021-30465, CVE-2023-27561, CVE-2024-45310 ...) was a path
//! resolved by joining strings inside a rootfs the container controls: a symlink planted at a
//! mount destination sent the mount to the host. Here every path inside the rootfs is resolved
//! by openat2(RESOLVE_IN_ROOT), so `..` and symlinks (absolute or relative) cannot leave the
//! rootfs, and the resulting fd is what gets mounted on (through /proc/self/fd/N).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::Mode;

use crate::error::{StepContext, SysError};
use crate::sys;

/// The rootfs, held open.
pub struct Root {
    fd: OwnedFd,
    pub path: PathBuf,
}

/// A path for a syscall: one with a NUL byte is an error, never another path.
fn cstr(p: &Path) -> std::io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| {
        let what = format!("{}: a NUL byte in the path", p.display());
        std::io::Error::new(std::io::ErrorKind::InvalidInput, what)
    })
}

/// `/proc/self/fd/N` for an fd: the path through which mount(2) reaches exactly that file.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `dest` inside the container as a relative path (`/dev/pts` → `dev/pts`); `..` is kept for
/// RESOLVE_IN_ROOT to clamp at the root.
pub fn inner(dest: &Path) -> PathBuf {
    dest.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect()
}

const RESOLVE: u64 = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS;

impl Root {
    pub fn open(path: &Path) -> Result<Root, SysError> {
        let fd = cstr(path)
            .and_then(|c| sys::openat(cwd(), &c, libc::O_PATH | libc::O_DIRECTORY, 0))
            .step(|| format!("opening rootfs {}", path.display()))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Open `dest` (a path inside the container) with `flags`, never leaving the rootfs.
    pub fn open_path(&self, dest: &Path, flags: i32) -> std::io::Result<OwnedFd> {
        let rel = inner(dest);
        let rel = if rel.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            rel
        };
        sys::openat2(self.fd(), &cstr(&rel)?, flags, 0, RESOLVE)
    }

    /// An O_PATH fd on `dest`, following a final symlink only within the rootfs.
    pub fn lookup(&self, dest: &Path) -> std::io::Result<OwnedFd> {
        self.open_path(dest, libc::O_PATH)
    }

    /// Whether `dest` is absent or a directory itself: not a symlink or other file at its last
    /// component (its parents are resolved inside the rootfs).
    pub fn absent_or_directory(&self, dest: &Path) -> std::io::Result<bool> {
        let rel = inner(dest);
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Ok(true);
        };
        let parent = match self.open_path(parent, libc::O_PATH | libc::O_DIRECTORY) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(true),
            Err(e) => return Err(e),
        };
        match nix::sys::stat::fstatat(
            Some(parent.as_raw_fd()),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) => Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR),
            Err(nix::Error::ENOENT) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// Make every directory of `dest` inside the rootfs (like `mkdir -p`), returning an O_PATH
    /// fd on the last one. Symlinks on the way are followed inside the rootfs, and the
    /// directories they lead to are made too, as runc's MkdirAllInRoot does.
    pub fn mkdir_all(&self, dest: &Path, mode: u32) -> Result<OwnedFd, SysError> {
        let path = self.resolve_creating(dest, mode)?;
        if let (Some(parent), Some(name)) = (path.parent(), path.file_name()) {
            let parent = self.open_dir(parent)?;
            match nix::sys::stat::mkdirat(
                Some(parent.as_raw_fd()),
                name,
                Mode::from_bits_truncate(mode),
            ) {
                Ok(()) | Err(nix::Error::EEXIST) => {}
                Err(e) => {
                    return Err(e)
                        .step(|| format!("creating directory {} in the rootfs", path.display()))
                }
            }
        }
        self.open_path(&path, libc::O_PATH | libc::O_DIRECTORY)
            .step(|| format!("opening {} in the rootfs", path.display()))
    }

    /// Make sure a non-directory exists at `dest` (for bind-mounting a file), creating its
    /// parents, following symlinks inside the rootfs (a dangling one gets its target made);
    /// returns an O_PATH fd on it.
    pub fn mkfile(&self, dest: &Path) -> Result<OwnedFd, SysError> {
        if let Ok(fd) = self.lookup(dest) {
            return Ok(fd);
        }
        let path = self.resolve_creating(dest, 0o755)?;
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(crate::error::fail(
                format!("creating {}", dest.display()),
                "no file name",
            ));
        };
        let parent = self.open_dir(parent)?;
        let c_name = cstr(Path::new(name)).step(|| format!("creating {}", path.display()))?;
        match sys::openat(
            parent.as_fd(),
            &c_name,
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW,
            0o644,
        ) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => {
                return Err(e).step(|| format!("creating file {} in the rootfs", path.display()))
            }
        }
        self.lookup(&path)
            .step(|| format!("opening {} in the rootfs", path.display()))
    }

    /// An O_PATH fd on the directory `rel` (a path without symlinks, from `resolve_creating`).
    fn open_dir(&self, rel: &Path) -> Result<OwnedFd, SysError> {
        self.open_path(rel, libc::O_PATH | libc::O_DIRECTORY)
            .step(|| format!("opening {} in the rootfs", rel.display()))
    }

    /// `dest` resolved inside the rootfs as the kernel would resolve it there: symlinks
    /// followed (absolute ones from the rootfs, `..` never above it), the missing directories
    /// on the way made with `mode`. The last component is left to the caller: it may not
    /// exist. The result has no symlink in it, and every lookup is made by fd under the
    /// rootfs (RESOLVE_IN_ROOT), so nothing can lead outside.
    fn resolve_creating(&self, dest: &Path, mode: u32) -> Result<PathBuf, SysError> {
        let mut todo: Vec<std::ffi::OsString> =
            inner(dest).iter().rev().map(|c| c.to_owned()).collect();
        let mut cur = PathBuf::new();
        let mut links = 0;
        while let Some(name) = todo.pop() {
            if name == ".." {
                cur.pop();
                continue;
            }
            if name == "." || name.is_empty() {
                continue;
            }
            let parent = self.open_dir(&cur)?;
            let step = || format!("resolving {} in the rootfs", dest.display());
            let st = nix::sys::stat::fstatat(
                Some(parent.as_raw_fd()),
                name.as_os_str(),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            );
            match st {
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                    links += 1;
                    if links > 40 {
                        return Err(nix::Error::ELOOP).step(step);
                    }
                    let target = nix::fcntl::readlinkat(Some(parent.as_raw_fd()), name.as_os_str())
                        .step(step)?;
                    let target = Path::new(&target);
                    if target.is_absolute() {
                        cur = PathBuf::new();
                    }
                    todo.extend(inner(target).iter().rev().map(|c| c.to_owned()));
                }
                Ok(_) => cur.push(&name),
                Err(nix::Error::ENOENT) if todo.is_empty() => cur.push(&name),
                Err(nix::Error::ENOENT) => {
                    match nix::sys::stat::mkdirat(
                        Some(parent.as_raw_fd()),
                        name.as_os_str(),
                        Mode::from_bits_truncate(mode),
                    ) {
                        Ok(()) | Err(nix::Error::EEXIST) => {}
                        Err(e) => {
                            return Err(e).step(|| {
                                format!(
                                    "creating directory {} in the rootfs",
                                    cur.join(&name).display()
                                )
                            })
                        }
                    }
                    cur.push(&name);
                }
                Err(e) => return Err(e).step(step),
            }
        }
        Ok(cur)
    }
}

/// The current directory as a dirfd.
pub fn cwd() -> BorrowedFd<'static> {
    sys::at_fdcwd()
}
