//! A recorder of mount calls for unit tests (the seam `MountCalls` opens).

use super::*;

/// Records the calls instead of making them: each as one line, with targets as paths in
/// the container (the fd's path, readlink'd, less the rootfs).
pub(crate) struct Recorder {
    pub rootfs: PathBuf,
    pub calls: std::cell::RefCell<Vec<String>>,
}

impl Recorder {
    pub fn new(rootfs: &Path) -> Recorder {
        Recorder {
            rootfs: std::fs::canonicalize(rootfs).unwrap(),
            calls: Default::default(),
        }
    }

    fn inside(&self, target: &Path) -> String {
        let real = std::fs::read_link(target).unwrap_or_else(|_| target.to_path_buf());
        let rel = real.strip_prefix(&self.rootfs).unwrap_or(&real);
        format!("/{}", rel.display())
    }
    fn fd_inside(&self, fd: BorrowedFd<'_>) -> String {
        self.inside(&fd_path(fd))
    }
}

impl MountCalls for Recorder {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        let source = match source {
            Some(s) if s.starts_with("/proc/self/fd") => self.inside(s),
            Some(s) => s.display().to_string(),
            None => "-".into(),
        };
        let line = format!(
            "mount {source} {} {} {} {}",
            self.inside(target),
            fstype.unwrap_or("-"),
            flag_list(flags),
            data.unwrap_or("-")
        );
        self.calls.borrow_mut().push(line);
        Ok(())
    }
    fn mount_setattr(&self, fd: BorrowedFd<'_>, set: u64, clear: u64) -> std::io::Result<()> {
        let line = format!(
            "setattr {} set={set:#x} clear={clear:#x}",
            self.fd_inside(fd)
        );
        self.calls.borrow_mut().push(line);
        Ok(())
    }
    fn move_mount(&self, _: BorrowedFd<'_>, onto: BorrowedFd<'_>) -> std::io::Result<()> {
        let line = format!("move {}", self.fd_inside(onto));
        self.calls.borrow_mut().push(line);
        Ok(())
    }
}

/// Mount flags by name, in a fixed order.
pub(crate) fn flag_list(flags: MsFlags) -> String {
    use MsFlags as F;
    let names = [
        (F::MS_REMOUNT, "remount"),
        (F::MS_BIND, "bind"),
        (F::MS_REC, "rec"),
        (F::MS_RDONLY, "ro"),
        (F::MS_NOSUID, "nosuid"),
        (F::MS_NODEV, "nodev"),
        (F::MS_NOEXEC, "noexec"),
        (F::MS_NOATIME, "noatime"),
        (F::MS_RELATIME, "relatime"),
        (F::MS_STRICTATIME, "strictatime"),
        (F::MS_PRIVATE, "private"),
        (F::MS_SLAVE, "slave"),
        (F::MS_SHARED, "shared"),
        (MS_NOSYMFOLLOW, "nosymfollow"),
        (F::MS_I_VERSION, "iversion"),
    ];
    let list: Vec<&str> = names
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    if list.is_empty() {
        "0".into()
    } else {
        list.join("|")
    }
}
