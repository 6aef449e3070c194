//! A directory tree copied with its modes and owners, symlinks as symlinks, device nodes and
//! fifos made anew (cp -a without times), for `tmpcopyup`.

use std::io;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

/// Copy what `from` holds into `to` (an existing directory), and `from`'s mode and owner to
/// `to` itself.
pub fn copy(from: &Path, to: &Path) -> io::Result<()> {
    // Followed: `from` may be a /proc/self/fd/N path too, whose own owner and mode are the
    // magic link's, not the directory's.
    let meta = std::fs::metadata(from)?;
    copy_entries(from, to)?;
    // `to` may be a /proc/self/fd/N path: followed, to the directory it names (lchown would
    // change the magic link itself, which is refused in a user namespace).
    std::os::unix::fs::chown(to, Some(meta.uid()), Some(meta.gid()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
}

fn copy_entries(from: &Path, to: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = entry.metadata()?;
        let kind = meta.file_type();
        if kind.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_entries(&src, &dst)?;
        } else if kind.is_symlink() {
            symlink(std::fs::read_link(&src)?, &dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            let mode = nix::sys::stat::Mode::from_bits_truncate(meta.mode() & 0o7777);
            let kind = nix::sys::stat::SFlag::from_bits_truncate(meta.mode() & libc::S_IFMT);
            nix::sys::stat::mknod(&dst, kind, mode, meta.rdev())?;
        }
        set_owner_and_mode(&dst, &meta)?;
    }
    Ok(())
}

fn set_owner_and_mode(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.file_type().is_symlink() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    Ok(())
}
