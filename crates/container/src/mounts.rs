//! `mounts`: each entry mounted in order, its destination resolved inside the rootfs by fd
//! (see resolve.rs) and the mount made on that fd, never on a path string.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use husk_cgroups::Cgroup;
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Mount;

use crate::error::{fail, StepContext, SysError};
use crate::resolve::{fd_path, Root};
use crate::sys;

/// A mount's options, split into what goes where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for mount(2).
    pub flags: MsFlags,
    /// Flags the options clear by name (`rw`, `dev`, `exec`...): a bind mount must not get
    /// them back from its source (see `remount_bind_flags`).
    pub cleared: MsFlags,
    /// Propagation changes, applied after the mount, in order.
    pub propagation: Vec<MsFlags>,
    /// mount_setattr(AT_RECURSIVE) attributes to set and clear (`rro`, `rnosuid`...).
    pub rec_set: u64,
    pub rec_clear: u64,
    /// Options the kernel's filesystem parses (`mode=755`, `size=65536k`).
    pub data: Vec<String>,
    /// `idmap` / `ridmap` were asked for.
    pub idmap: bool,
    /// `tmpcopyup` (runc's): a tmpfs starts with a copy of the directory it covers.
    pub tmpcopyup: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: vec![],
            rec_set: 0,
            rec_clear: 0,
            data: vec![],
            idmap: false,
            tmpcopyup: false,
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

/// Parse `options` the way runc does; unknown options are filesystem data.
pub fn parse_options(options: &[String]) -> MountOptions {
    use MsFlags as F;
    let mut o = MountOptions::default();
    for opt in options {
        let (set, clear): (MsFlags, MsFlags) = match opt.as_str() {
            "defaults" => (F::empty(), F::empty()),
            "ro" => (F::MS_RDONLY, F::empty()),
            "rw" => (F::empty(), F::MS_RDONLY),
            "nosuid" => (F::MS_NOSUID, F::empty()),
            "suid" => (F::empty(), F::MS_NOSUID),
            "nodev" => (F::MS_NODEV, F::empty()),
            "dev" => (F::empty(), F::MS_NODEV),
            "noexec" => (F::MS_NOEXEC, F::empty()),
            "exec" => (F::empty(), F::MS_NOEXEC),
            "sync" => (F::MS_SYNCHRONOUS, F::empty()),
            "async" => (F::empty(), F::MS_SYNCHRONOUS),
            "dirsync" => (F::MS_DIRSYNC, F::empty()),
            "remount" => (F::MS_REMOUNT, F::empty()),
            "mand" => (F::MS_MANDLOCK, F::empty()),
            "nomand" => (F::empty(), F::MS_MANDLOCK),
            "atime" => (F::empty(), F::MS_NOATIME),
            "noatime" => (F::MS_NOATIME, F::empty()),
            "diratime" => (F::empty(), F::MS_NODIRATIME),
            "nodiratime" => (F::MS_NODIRATIME, F::empty()),
            "relatime" => (F::MS_RELATIME, F::empty()),
            "norelatime" => (F::empty(), F::MS_RELATIME),
            "strictatime" => (F::MS_STRICTATIME, F::empty()),
            "nostrictatime" => (F::empty(), F::MS_STRICTATIME),
            "lazytime" => (F::MS_LAZYTIME, F::empty()),
            "nolazytime" => (F::empty(), F::MS_LAZYTIME),
            "nosymfollow" => (MS_NOSYMFOLLOW, F::empty()),
            "symfollow" => (F::empty(), MS_NOSYMFOLLOW),
            "iversion" => (F::MS_I_VERSION, F::empty()),
            "noiversion" => (F::empty(), F::MS_I_VERSION),
            "silent" => (F::MS_SILENT, F::empty()),
            "loud" => (F::empty(), F::MS_SILENT),
            "bind" => (F::MS_BIND, F::empty()),
            "rbind" => (F::MS_BIND | F::MS_REC, F::empty()),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                o.propagation.push(propagation_flag(opt).expect("listed"));
                continue;
            }
            "idmap" | "ridmap" => {
                o.idmap = true;
                continue;
            }
            "tmpcopyup" => {
                o.tmpcopyup = true;
                continue;
            }
            other => {
                if let Some((set, clear)) = recursive_attr(other) {
                    // A later option wins over an earlier one, as for the flags above
                    // (`rnosymfollow,rsymfollow` clears it). The atime mask stays in
                    // `rec_clear` beside an atime value: that is how the kernel is told to
                    // change it.
                    o.rec_set = (o.rec_set & !clear) | set;
                    o.rec_clear = (o.rec_clear & !set) | clear;
                } else {
                    o.data.push(other.to_string());
                }
                continue;
            }
        };
        o.flags.insert(set);
        o.flags.remove(clear);
        o.cleared.remove(set);
        o.cleared.insert(clear);
    }
    o
}

/// MS_NOSYMFOLLOW (Linux 5.10), which nix does not name.
const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW);
/// The atime "enum" (mutually exclusive), and with nodiratime every atime flag.
const ATIME_ENUM: MsFlags = MsFlags::MS_NOATIME
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME);
const ATIME: MsFlags = ATIME_ENUM.union(MsFlags::MS_NODIRATIME);
/// The flags the kernel locks (MNT_LOCK_*) on mounts a user namespace inherits.
const LOCKABLE: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NOSUID)
    .union(ATIME);

/// `private`, `rslave`... as mount(2) flags.
pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    use MsFlags as F;
    Some(match name {
        "private" => F::MS_PRIVATE,
        "rprivate" => F::MS_PRIVATE | F::MS_REC,
        "shared" => F::MS_SHARED,
        "rshared" => F::MS_SHARED | F::MS_REC,
        "slave" => F::MS_SLAVE,
        "rslave" => F::MS_SLAVE | F::MS_REC,
        "unbindable" => F::MS_UNBINDABLE,
        "runbindable" => F::MS_UNBINDABLE | F::MS_REC,
        _ => return None,
    })
}

/// The recursive mount attributes of runtime-spec 1.1 (`rro`, `rnoexec`...): (set, clear).
fn recursive_attr(name: &str) -> Option<(u64, u64)> {
    use crate::sys::*;
    Some(match name {
        "rro" => (MOUNT_ATTR_RDONLY, 0),
        "rrw" => (0, MOUNT_ATTR_RDONLY),
        "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
        "rsuid" => (0, MOUNT_ATTR_NOSUID),
        "rnodev" => (MOUNT_ATTR_NODEV, 0),
        "rdev" => (0, MOUNT_ATTR_NODEV),
        "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
        "rexec" => (0, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
        "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
        "rnorelatime" => (0, 0),
        "rnoatime" => (MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME),
        "ratime" => (0, MOUNT_ATTR_NOATIME),
        "rstrictatime" => (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
        "rnostrictatime" => (0, 0),
        "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
        "rsymfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// What mounting needs beyond the entry itself.
pub struct MountContext<'a> {
    pub root: &'a Root,
    pub bundle: &'a Path,
    pub in_userns: bool,
    pub new_cgroupns: bool,
    pub cgroup: Option<&'a Cgroup>,
    /// Asks husk for the source of `mounts[index]` (idmapped_mounts.rs).
    pub source_from_husk: &'a dyn Fn(usize) -> Result<OwnedFd, SysError>,
    /// Whether husk can open a bind source the init cannot reach (not when rootless).
    pub husk_opens_sources: bool,
    /// The kernel, or a recorder in tests.
    pub calls: &'a dyn MountCalls,
}

/// The calls that change the mount table, as this module makes them: the kernel's
/// (`KERNEL`), or in unit tests a recorder, so that the order and flags of every mount a config
/// produces are checked in milliseconds, without root. Paths inside the rootfs are resolved
/// for real either way (an unprivileged temporary directory serves as a rootfs).
pub trait MountCalls {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    fn mount_setattr(&self, fd: BorrowedFd<'_>, set: u64, clear: u64) -> std::io::Result<()>;
    fn move_mount(&self, from: BorrowedFd<'_>, onto: BorrowedFd<'_>) -> std::io::Result<()>;
}

/// The kernel: mount(2), mount_setattr(2) (recursive), move_mount(2).
pub struct Kernel;

pub static KERNEL: Kernel = Kernel;

impl MountCalls for Kernel {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        mount(source, target, fstype, flags, data)
    }
    fn mount_setattr(&self, fd: BorrowedFd<'_>, set: u64, clear: u64) -> std::io::Result<()> {
        sys::mount_setattr(fd, true, set, clear)
    }
    fn move_mount(&self, from: BorrowedFd<'_>, onto: BorrowedFd<'_>) -> std::io::Result<()> {
        sys::move_mount_onto(from, onto)
    }
}

impl MountContext<'_> {
    fn mount<S: AsRef<Path> + ?Sized>(
        &self,
        source: Option<&S>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        let source = source.map(|s| s.as_ref());
        self.calls.mount(source, target, fstype, flags, data)
    }
}

/// The destination as an absolute container path (a relative one is taken from "/").
pub fn destination(m: &Mount) -> PathBuf {
    Path::new("/").join(m.destination())
}

/// Mount `mounts[index]`. An idmapped mount comes made, detached, from husk (see
/// idmapped_mounts.rs) and is moved onto its destination.
pub fn mount_entry(ctx: &MountContext<'_>, index: usize, m: &Mount) -> Result<(), SysError> {
    let dest = destination(m);
    let typ = m.typ().clone().unwrap_or_default();
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    if crate::idmapped_mounts::wanted(m) {
        let tree = (ctx.source_from_husk)(index)?;
        attach_idmapped(ctx, &tree, &dest, &opts)?;
        return apply_after(ctx, &dest, &opts);
    }
    if typ == "cgroup"
        || typ == "cgroup2"
            && ctx
                .cgroup
                .is_some_and(|c| c.mode != husk_cgroups::Mode::Unified)
    {
        return mount_cgroup(ctx, &dest, &opts);
    }
    if opts.is_bind() || typ == "bind" {
        bind_mount(ctx, index, m, &dest, &opts)?;
    } else {
        if typ == "proc" || typ == "sysfs" {
            ordinary_directory(ctx, &dest, &typ)?;
        }
        let existed = ctx.root.lookup(&dest).is_ok();
        let target = ctx.root.mkdir_all(&dest, 0o755)?;
        let source = m.source().clone().unwrap_or_else(|| PathBuf::from(&typ));
        let mut data = opts.data.clone();
        let copy_up = opts.tmpcopyup;
        if typ == "tmpfs" && existed && !data.iter().any(|d| d.starts_with("mode=")) {
            // As runc: a tmpfs over a directory keeps that directory's mode (without mode=,
            // the tmpfs default, 1777, would open it to everyone).
            data.push(format!("mode={:o}", mode_of(&target)?));
        }
        let mut flags = opts.flags.difference(MsFlags::MS_REMOUNT);
        if dest == Path::new("/dev") {
            // A read-only /dev is made read-only once the devices are in it (init.rs).
            flags.remove(MsFlags::MS_RDONLY);
        }
        if copy_up && typ == "tmpfs" {
            tmpfs_copying_up(ctx, &target, &dest, flags, &data)?;
            return apply_after(ctx, &dest, &opts);
        }
        let data = data.join(",");
        let res = ctx.mount(
            Some(&source),
            &fd_path(target.as_fd()),
            Some(typ.as_str()),
            flags,
            (!data.is_empty()).then_some(data.as_str()),
        );
        match res {
            Err(nix::Error::EPERM) if typ == "sysfs" && ctx.in_userns => {
                // A user namespace without its own network namespace may not mount sysfs:
                // bind the host's /sys instead, as runc does.
                ctx.mount(
                    Some("/sys"),
                    &fd_path(target.as_fd()),
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .step(|| format!("bind-mounting /sys on {}", dest.display()))?;
                remount(ctx, &dest, flags | MsFlags::MS_BIND)?;
            }
            other => other.step(|| format!("mounting {typ} on {}", dest.display()))?,
        }
    }
    apply_after(ctx, &dest, &opts)
}

/// procfs and sysfs only on an ordinary directory: an image whose /proc is a symlink would
/// otherwise get them mounted where the link points, and the masks and read-only paths meant
/// for /proc would miss them (runc refuses it the same way).
fn ordinary_directory(ctx: &MountContext<'_>, dest: &Path, typ: &str) -> Result<(), SysError> {
    match ctx.root.absent_or_directory(dest) {
        Ok(true) => Ok(()),
        Ok(false) => Err(fail(
            format!("mounting {typ} on {}", dest.display()),
            format!("filesystem {typ:?} must be mounted on ordinary directory"),
        )),
        Err(e) => Err(e).step(|| format!("checking {} in the rootfs", dest.display())),
    }
}

fn mode_of(fd: &OwnedFd) -> Result<u32, SysError> {
    let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(fd)).step(|| "stat")?;
    Ok(st.st_mode & 0o7777)
}

/// `tmpcopyup` (runc's): the tmpfs starts with a copy of what the directory held. It is made
/// detached, filled from the directory, then moved over it.
fn tmpfs_copying_up(
    ctx: &MountContext<'_>,
    target: &OwnedFd,
    dest: &Path,
    flags: MsFlags,
    data: &[String],
) -> Result<(), SysError> {
    let tmpfs =
        sys::detached_tmpfs(data).step(|| format!("making the tmpfs for {}", dest.display()))?;
    crate::copy_tree::copy(&fd_path(target.as_fd()), &fd_path(tmpfs.as_fd()))
        .step(|| format!("tmpcopyup: copying {} into its tmpfs", dest.display()))?;
    ctx.calls
        .move_mount(tmpfs.as_fd(), target.as_fd())
        .step(|| format!("moving the tmpfs onto {}", dest.display()))?;
    if !flags.is_empty() {
        remount(ctx, dest, flags)?;
    }
    Ok(())
}

fn attach_idmapped(
    ctx: &MountContext<'_>,
    tree: &OwnedFd,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), SysError> {
    let is_dir = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(tree))
        .step(|| format!("stat of the idmapped mount for {}", dest.display()))?
        .st_mode
        & libc::S_IFMT
        == libc::S_IFDIR;
    let target = if is_dir {
        ctx.root.mkdir_all(dest, 0o755)?
    } else {
        ctx.root.mkfile(dest)?
    };
    ctx.calls
        .move_mount(tree.as_fd(), target.as_fd())
        .step(|| format!("moving the idmapped mount onto {}", dest.display()))?;
    remount_bind_flags(ctx, dest, opts)
}

/// A bind mount takes its flags (ro, nosuid...) only from a remount after it is made. As
/// runc (and unlike `mount --bind -o`), the mount gets exactly the flags asked for, the rest
/// cleared, once any flag is named (set or cleared). Where the kernel refuses that because
/// the source's flags are locked (a mount inherited into a user namespace), the locked ones
/// are kept, unless the options cleared one by name or asked for another atime: that
/// cannot be honoured, and is an error rather than a mount other than the one asked for.
fn remount_bind_flags(
    ctx: &MountContext<'_>,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), SysError> {
    let asked = (opts.flags).difference(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if asked.is_empty() && opts.cleared.is_empty() {
        return Ok(());
    }
    let fd = ctx
        .root
        .lookup(dest)
        .step(|| format!("opening {}", dest.display()))?;
    let step = || {
        format!(
            "error mounting {}: setting the bind mount's flags",
            dest.display()
        )
    };
    let source_flags = mount_flags(&fd).step(step)?;
    let remount_with = |flags: MsFlags| {
        ctx.mount(
            None::<&str>,
            &fd_path(fd.as_fd()),
            None::<&str>,
            flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
            None::<&str>,
        )
    };
    let Err(refused) = remount_with(asked) else {
        return Ok(());
    };
    let locked = source_flags & LOCKABLE;
    let words = |e: nix::Error| crate::error::errno_text(&e.into());
    let cannot_clear = locked & opts.cleared;
    if !cannot_clear.is_empty() {
        let why = format!("cannot clear locked flags {}", flag_names(cannot_clear));
        return Err(fail(step(), format!("{why}: {}", words(refused))));
    }
    if !(asked & ATIME).is_empty() && asked & ATIME != source_flags & ATIME {
        let why = format!(
            "cannot change locked atime flags {}",
            flag_names(locked & ATIME)
        );
        return Err(fail(step(), format!("{why}: {}", words(refused))));
    }
    remount_with(asked | locked).map_err(|e| {
        let why = format!(
            "remount with locked flags {} re-applied",
            flag_names(locked)
        );
        fail(step(), format!("{why}: {}", words(e)))
    })
}

/// The mount flags of the mount `fd` is on, from statfs: MS_STRICTATIME (which the kernel
/// does not report) when no other atime mode is set.
fn mount_flags(fd: &impl AsFd) -> Result<MsFlags, nix::Error> {
    use nix::sys::statvfs::{fstatvfs, FsFlags};
    const ST_NOSYMFOLLOW: u64 = 0x2000;
    let f = fstatvfs(fd)?.flags();
    let mut out = MsFlags::empty();
    for (st, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_SYNCHRONOUS, MsFlags::MS_SYNCHRONOUS),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        (FsFlags::from_bits_retain(ST_NOSYMFOLLOW), MS_NOSYMFOLLOW),
    ] {
        if f.contains(st) {
            out |= ms;
        }
    }
    if (out & ATIME_ENUM).is_empty() {
        out |= MsFlags::MS_STRICTATIME;
    }
    Ok(out)
}

/// Mount flags by their option names ("ro, nosuid").
fn flag_names(flags: MsFlags) -> String {
    use MsFlags as F;
    [
        (F::MS_RDONLY, "ro"),
        (F::MS_NOSUID, "nosuid"),
        (F::MS_NODEV, "nodev"),
        (F::MS_NOEXEC, "noexec"),
        (F::MS_NOATIME, "noatime"),
        (F::MS_NODIRATIME, "nodiratime"),
        (F::MS_RELATIME, "relatime"),
        (F::MS_STRICTATIME, "strictatime"),
    ]
    .iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, n)| *n)
    .collect::<Vec<_>>()
    .join(", ")
}

/// A mount's source on the host: relative ones are from the bundle, as runc reads them.
pub fn source_of(m: &Mount, bundle: &Path) -> PathBuf {
    let source = m.source().clone().unwrap_or_default();
    if source.is_absolute() {
        source
    } else {
        bundle.join(source)
    }
}

/// The host source of `m` when it is a bind mount (its type or its options say so, as
/// `mount_entry` decides).
pub fn bind_source(m: &Mount, bundle: &Path) -> Option<PathBuf> {
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    (opts.is_bind() || m.typ().as_deref() == Some("bind")).then(|| source_of(m, bundle))
}

fn bind_mount(
    ctx: &MountContext<'_>,
    index: usize,
    m: &Mount,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), SysError> {
    let mut source = source_of(m, ctx.bundle);
    // A source the init cannot reach (under a 0700 directory, for the root of a new user
    // namespace) is opened by husk in our mount namespace, as runc does; mounted through
    // its fd.
    let opened;
    let is_dir = match std::fs::metadata(&source) {
        Err(e) if ctx.husk_opens_sources && e.raw_os_error() == Some(libc::EACCES) => {
            opened = (ctx.source_from_husk)(index)?;
            source = fd_path(opened.as_fd());
            let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&opened))
                .step(|| format!("bind mount source {}", source.display()))?;
            st.st_mode & libc::S_IFMT == libc::S_IFDIR
        }
        other => other
            .step(|| format!("bind mount source {}", source.display()))?
            .is_dir(),
    };
    let target = if is_dir {
        ctx.root.mkdir_all(dest, 0o755)?
    } else {
        ctx.root.mkfile(dest)?
    };
    let rec = opts.flags & MsFlags::MS_REC;
    ctx.mount(
        Some(&source),
        &fd_path(target.as_fd()),
        None::<&str>,
        MsFlags::MS_BIND | rec,
        None::<&str>,
    )
    .step(|| format!("bind-mounting {} on {}", source.display(), dest.display()))?;
    remount_bind_flags(ctx, dest, opts)
}

/// Remount the mount at `dest` with `flags`. In a user namespace the flags the kernel locked
/// (nosuid, nodev, noexec, atime) must be kept or the remount fails with EPERM.
fn remount(ctx: &MountContext<'_>, dest: &Path, mut flags: MsFlags) -> Result<(), SysError> {
    let fd = ctx
        .root
        .lookup(dest)
        .step(|| format!("opening {}", dest.display()))?;
    if ctx.in_userns {
        flags |= locked_flags(&fd)?;
    }
    ctx.mount(
        None::<&str>,
        &fd_path(fd.as_fd()),
        None::<&str>,
        flags | MsFlags::MS_REMOUNT,
        None::<&str>,
    )
    .step(|| format!("remounting {} with {:?}", dest.display(), flags))
}

/// A `/dev` mount asked read-only is mounted writable so its nodes and symlinks can be made;
/// this makes it read-only afterwards, as runc does.
pub fn finish_readonly_dev(ctx: &MountContext<'_>, mounts: &[Mount]) -> Result<(), SysError> {
    let Some(m) = mounts
        .iter()
        .rev()
        .find(|m| destination(m) == Path::new("/dev"))
    else {
        return Ok(());
    };
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    if opts.is_bind() || !opts.flags.contains(MsFlags::MS_RDONLY) {
        return Ok(());
    }
    let keep = opts.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    remount(ctx, Path::new("/dev"), keep | MsFlags::MS_RDONLY)
}

/// The flags of the mount `fd` is on that an unprivileged remount must keep: the lockable
/// ones it has (MS_STRICTATIME, which statfs cannot show, left for the kernel to keep).
pub fn locked_flags(fd: &impl AsFd) -> Result<MsFlags, SysError> {
    let flags = mount_flags(fd).step(|| "statvfs of a mount")?;
    Ok(flags & LOCKABLE.difference(MsFlags::MS_STRICTATIME))
}

/// Propagation changes and recursive attributes, on the new mount at `dest`.
fn apply_after(ctx: &MountContext<'_>, dest: &Path, opts: &MountOptions) -> Result<(), SysError> {
    if opts.propagation.is_empty() && opts.rec_set == 0 && opts.rec_clear == 0 {
        return Ok(());
    }
    let fd = ctx
        .root
        .lookup(dest)
        .step(|| format!("opening {}", dest.display()))?;
    for p in &opts.propagation {
        ctx.mount(
            None::<&str>,
            &fd_path(fd.as_fd()),
            None::<&str>,
            *p,
            None::<&str>,
        )
        .step(|| format!("setting propagation {:?} on {}", p, dest.display()))?;
    }
    if opts.rec_set != 0 || opts.rec_clear != 0 {
        ctx.calls
            .mount_setattr(fd.as_fd(), opts.rec_set, opts.rec_clear)
            .step(|| format!("setting recursive attributes on {}", dest.display()))?;
    }
    Ok(())
}

/// A `cgroup` mount. On a v2 host: cgroup2 (or, without a cgroup namespace of its own, a bind
/// of the container's cgroup). On v1 and hybrid hosts: a tmpfs with one directory per
/// hierarchy, each the container's own cgroup, and the cgroup2 mount at `unified` on hybrid.
fn mount_cgroup(ctx: &MountContext<'_>, dest: &Path, opts: &MountOptions) -> Result<(), SysError> {
    let base = opts.flags
        & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME);
    let ro = opts.flags.contains(MsFlags::MS_RDONLY);
    let Some(cg) = ctx.cgroup else {
        return Err(fail(
            format!("mounting cgroup on {}", dest.display()),
            "the container has no cgroup",
        ));
    };
    if cg.mode == husk_cgroups::Mode::Unified {
        let h = &cg.hierarchies[0];
        return mount_one_hierarchy(ctx, dest, h, base, ro);
    }
    let target = ctx.root.mkdir_all(dest, 0o755)?;
    ctx.mount(
        Some("tmpfs"),
        &fd_path(target.as_fd()),
        Some("tmpfs"),
        base,
        Some("mode=755"),
    )
    .step(|| format!("mounting tmpfs on {}", dest.display()))?;
    for h in &cg.hierarchies {
        let name = h.mount.file_name().map(PathBuf::from).unwrap_or_default();
        let sub = dest.join(&name);
        mount_one_hierarchy(ctx, &sub, h, base, ro)?;
        // Comounted controllers (`cpu,cpuacct`) also appear under each name, as on the host.
        let name = name.to_string_lossy().into_owned();
        if name.contains(',') {
            let dir = ctx
                .root
                .lookup(dest)
                .step(|| format!("opening {}", dest.display()))?;
            for part in name.split(',') {
                let _ = nix::unistd::symlinkat(
                    name.as_str(),
                    Some(std::os::fd::AsRawFd::as_raw_fd(&dir)),
                    part,
                );
            }
        }
    }
    if ro {
        remount(ctx, dest, base | MsFlags::MS_RDONLY)?;
    }
    Ok(())
}

fn mount_one_hierarchy(
    ctx: &MountContext<'_>,
    dest: &Path,
    h: &husk_cgroups::Hierarchy,
    base: MsFlags,
    ro: bool,
) -> Result<(), SysError> {
    let target = ctx.root.mkdir_all(dest, 0o755)?;
    let flags = if ro { base | MsFlags::MS_RDONLY } else { base };
    if ctx.new_cgroupns {
        let (fstype, data) = if h.v2 {
            ("cgroup2", String::new())
        } else {
            ("cgroup", h.controllers.join(","))
        };
        let res = ctx.mount(
            Some("cgroup"),
            &fd_path(target.as_fd()),
            Some(fstype),
            flags,
            (!data.is_empty()).then_some(data.as_str()),
        );
        match res {
            Ok(()) => return Ok(()),
            // v1 hierarchies cannot be mounted from a user namespace: bind instead.
            Err(nix::Error::EPERM) if ctx.in_userns => {}
            Err(e) => return Err(e).step(|| format!("mounting {fstype} on {}", dest.display())),
        }
    }
    let src = h.dir();
    ctx.mount(
        Some(&src),
        &fd_path(target.as_fd()),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .step(|| format!("bind-mounting {} on {}", src.display(), dest.display()))?;
    remount(ctx, dest, flags | MsFlags::MS_BIND)
}

/// A recorder of mount calls for unit tests (the seam `MountCalls` opens).
#[cfg(test)]
pub(crate) mod recording;

#[cfg(test)]
mod tests;
