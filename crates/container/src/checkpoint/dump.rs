//! `husk checkpoint`: CRIU saves the running container's processes to the image directory;
//! the container is then deleted (its processes are gone), unless --leave-running or
//! --pre-dump keeps it.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use husk_spec::Status;
use nix::sched::CloneFlags;

use super::criu::{version_text, Criu};
use super::externals::{self, ExternalMount};
use super::proto::{Message, ReqType};
use super::{CheckpointError, CriuOptions, ImageRecord, DESCRIPTORS, IMAGE_RECORD};
use crate::error::StepContext;
use crate::state::{Store, Stored};
use crate::Error;

/// The flags of `husk checkpoint`.
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    pub id: String,
    pub criu: CriuOptions,
    /// `--parent-path`: the previous pre-dump, relative to the image directory.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub pre_dump: bool,
    /// `--page-server ADDRESS:PORT`.
    pub page_server: Option<(String, i32)>,
    /// `--status-fd`: written \0 once lazy pages are served.
    pub status_fd: Option<i32>,
    pub tcp_skip_in_flight: bool,
    pub link_remap: bool,
}

/// Checkpoint container `opts.id`.
pub fn checkpoint(store: &Store, opts: &CheckpointOptions) -> Result<(), Error> {
    let dir = store.open(&opts.id)?;
    let stored = dir.load()?;
    match dir.status(&stored) {
        Status::Running | Status::Paused => {}
        other => return Err(CheckpointError::NotRunning(other).into()),
    }
    if crate::rootless::is_rootless() {
        return Err(Error::Rootless(
            "checkpoint: CRIU needs root to save a container".into(),
        ));
    }
    // As runc: the image directory first (a --parent-path is resolved from it), then CRIU.
    let images = make_image_dir(&opts.criu.image_path)?;
    check_parent_path(&opts.criu.image_path, opts.parent_path.as_deref())?;
    let criu = Criu::new(opts.criu.criu.as_deref());
    let version = criu.version()?;
    check_features(&criu, opts)?;
    let work = open_work_dir(&opts.criu)?;
    let externals = dump_externals(&stored)?;
    let dirs = Dirs::of(&images, work.as_ref());
    let request = Request::new(&stored, opts, version, dirs, &externals)?;
    if !opts.pre_dump {
        write_records(&stored, opts, &externals.mounts)?;
    }
    let log_dir = opts
        .criu
        .work_path
        .as_deref()
        .unwrap_or(&opts.criu.image_path);
    let mut session = criu.spawn(Vec::new(), false)?;
    let result = session.request(&request.0, &mut |_, _| Ok(()));
    let _ = session.wait();
    if let Err(e) = result {
        super::quote_criu_log(log_dir, "dump.log");
        return Err(e);
    }
    if opts.pre_dump {
        write_records(&stored, opts, &externals.mounts)?;
    }
    drop(dir);
    if !opts.leave_running && !opts.pre_dump {
        // Its processes are gone: the container goes as runc's does (state, cgroup, hooks).
        crate::delete::delete(store, &opts.id, true)?;
    }
    Ok(())
}

/// A --parent-path must be a relative path to an existing directory beside the image
/// directory (CRIU resolves it from there).
fn check_parent_path(images: &Path, parent: Option<&Path>) -> Result<(), Error> {
    let Some(parent) = parent else {
        return Ok(());
    };
    if parent.is_absolute() {
        return Err(CheckpointError::BadOption(format!(
            "--parent-path {}: must be relative (to the image directory)",
            parent.display()
        ))
        .into());
    }
    let real = images.join(parent);
    if !real.is_dir() {
        return Err(CheckpointError::BadOption(format!(
            "invalid --parent-path {}: {} is not a directory of images",
            parent.display(),
            real.display()
        ))
        .into());
    }
    Ok(())
}

/// The image directory, made if missing (a container can be checkpointed again into it).
fn make_image_dir(path: &Path) -> Result<OwnedFd, Error> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .step(|| format!("--image-path: creating {}", path.display()))?;
    open_dir(path, "--image-path")
}

pub(super) fn open_dir(path: &Path, what: &str) -> Result<OwnedFd, Error> {
    let f = fs::File::open(path).step(|| format!("{what}: opening {}", path.display()))?;
    Ok(f.into())
}

pub(super) fn open_work_dir(o: &CriuOptions) -> Result<Option<OwnedFd>, Error> {
    let Some(work) = &o.work_path else {
        return Ok(None);
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(work)
        .step(|| format!("--work-path: creating {}", work.display()))?;
    open_dir(work, "--work-path").map(Some)
}

/// Pre-dump needs the kernel's memory tracking; lazy pages need userfaultfd. Asked of CRIU
/// before anything is saved.
fn check_features(criu: &Criu, opts: &CheckpointOptions) -> Result<(), Error> {
    if opts.pre_dump {
        let f = criu.features(true, false)?;
        if f.mem_track != Some(true) {
            return Err(CheckpointError::MissingFeature {
                what: "--pre-dump needs memory change tracking (soft-dirty)",
                feature: "mem_dirty_track",
            }
            .into());
        }
    }
    if opts.criu.lazy_pages {
        let f = criu.features(false, true)?;
        if f.lazy_pages != Some(true) {
            return Err(CheckpointError::MissingFeature {
                what: "--lazy-pages needs userfaultfd",
                feature: "uffd-noncoop",
            }
            .into());
        }
        if let Some(fd) = opts.status_fd {
            check_status_fd(fd)?;
        }
    }
    Ok(())
}

fn check_status_fd(fd: i32) -> Result<(), Error> {
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).map_err(|e| {
        CheckpointError::BadOption(format!("invalid --status-fd argument {fd}: {e}"))
    })?;
    if flags & (libc::O_WRONLY | libc::O_RDWR) == 0 {
        return Err(CheckpointError::BadOption(format!(
            "invalid --status-fd argument {fd}: not writable"
        ))
        .into());
    }
    Ok(())
}

/// What CRIU is told at dump beyond the container's processes.
struct DumpExternals {
    mounts: Vec<ExternalMount>,
    namespaces: Vec<String>,
}

fn dump_externals(stored: &Stored) -> Result<DumpExternals, Error> {
    let linux = stored.config.linux().as_ref();
    let masked: Vec<String> = linux
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| {
            let inside = format!("/proc/{}/root/{}", stored.pid, p.trim_start_matches('/'));
            fs::metadata(inside).is_ok_and(|m| !m.is_dir())
        })
        .collect();
    let mounts = externals::mounts(
        &stored.config,
        &stored.bundle,
        &stored.rootfs,
        stored.cgroup.as_ref(),
        &masked,
    );
    let mut namespaces = Vec::new();
    for (flag, path) in externals::joined_namespaces(&stored.config) {
        if flag != CloneFlags::CLONE_NEWNET && flag != CloneFlags::CLONE_NEWPID {
            continue;
        }
        let ino = fs::metadata(&path)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .step(|| format!("stat {}", path.display()))?;
        let (name, key) = (externals::ns_name(flag), externals::external_ns_key(flag));
        namespaces.push(format!("{name}[{ino}]:{key}"));
    }
    Ok(DumpExternals { mounts, namespaces })
}

/// The dump request (criu_req with its criu_opts).
struct Request(Message);

impl Request {
    fn new(
        stored: &Stored,
        opts: &CheckpointOptions,
        version: u32,
        dirs: Dirs,
        ext: &DumpExternals,
    ) -> Result<Request, Error> {
        let mut o = common_opts(&opts.criu, dirs, "dump.log");
        o.int32(2, stored.pid)
            .string(13, &stored.rootfs.to_string_lossy())
            .bool(3, opts.leave_running)
            .bool(46, opts.tcp_skip_in_flight)
            .bool(18, opts.link_remap);
        config_file(&mut o, &stored.config);
        for ns in &ext.namespaces {
            if version < 31100 {
                return Err(too_old(version, 31100, "a joined network or pid namespace"));
            }
            o.string(37, ns);
        }
        if let Some(freezer) = freezer_cgroup(stored, version) {
            o.string(44, &freezer.to_string_lossy());
        }
        if let Some((address, port)) = &opts.page_server {
            let mut ps = Message::new();
            ps.string(1, address).int32(2, *port);
            o.message(11, &ps);
        }
        if let Some(parent) = &opts.parent_path {
            o.string(14, &parent.to_string_lossy()).bool(15, true);
        }
        if opts.criu.lazy_pages {
            if let Some(fd) = opts.status_fd {
                o.int32(49, fd);
            }
        }
        if !opts.pre_dump {
            for m in &ext.mounts {
                let mut map = Message::new();
                map.string(1, &m.mountpoint).string(2, &m.key);
                o.message(23, &map);
            }
        }
        let kind = if opts.pre_dump {
            ReqType::PreDump
        } else {
            ReqType::Dump
        };
        let mut req = Message::new();
        req.uint32(1, kind as u32).message(2, &o);
        Ok(Request(req))
    }
}

/// The image and work directories, as fds of husk's own: CRIU opens them as
/// /proc/<requester>/fd/N, the requester being the process at the other end of its socket,
/// husk (runc passes its own fd numbers too).
#[derive(Clone, Copy)]
pub(super) struct Dirs {
    images: RawFd,
    work: Option<RawFd>,
}

impl Dirs {
    pub(super) fn of(images: &OwnedFd, work: Option<&OwnedFd>) -> Dirs {
        Dirs {
            images: images.as_raw_fd(),
            work: work.map(|w| w.as_raw_fd()),
        }
    }
}

/// The options both requests carry: the directories, the log, the cgroup mode and the shared
/// flags.
pub(super) fn common_opts(c: &CriuOptions, dirs: Dirs, log: &str) -> Message {
    let mut o = Message::new();
    o.int32(1, dirs.images).int32(9, 4).string(10, log);
    if let Some(work) = dirs.work {
        o.int32(17, work);
    }
    o.bool(24, true)
        .bool(12, true)
        .bool(7, c.shell_job)
        .bool(5, c.tcp_established)
        .bool(4, c.ext_unix_sk)
        .bool(8, c.file_locks)
        .bool(50, true)
        .bool(16, c.auto_dedup)
        .bool(48, c.lazy_pages);
    if c.empty_ns != 0 {
        o.uint32(38, c.empty_ns);
    }
    if let Some(mode) = c.manage_cgroups_mode {
        o.uint32(34, mode.wire());
    }
    o
}

/// The `org.criu.config` annotation names a container-specific CRIU config file (empty:
/// none); without it, /etc/criu/runc.conf as runc (CRIU ignores a missing file).
pub(super) fn config_file(o: &mut Message, spec: &oci_spec::runtime::Spec) {
    let annotation = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get("org.criu.config"));
    match annotation {
        Some(path) if path.is_empty() => {}
        Some(path) => {
            o.string(51, path);
        }
        None => {
            o.string(51, "/etc/criu/runc.conf");
        }
    }
}

pub(super) fn too_old(have: u32, need: u32, what: &str) -> Error {
    CheckpointError::TooOld {
        have: version_text(have),
        need: version_text(need),
        what: what.into(),
    }
    .into()
}

/// The cgroup CRIU freezes the container with: v1's freezer, or the cgroup v2 one (CRIU 3.14
/// and newer).
fn freezer_cgroup(stored: &Stored, version: u32) -> Option<PathBuf> {
    let cg = stored.cgroup.as_ref()?;
    if let Some(h) = cg
        .hierarchies
        .iter()
        .find(|h| !h.v2 && h.controllers.iter().any(|c| c == "freezer"))
    {
        return Some(h.dir());
    }
    if cg.mode == husk_cgroups::Mode::Unified && version >= 31400 {
        return Some(cg.hierarchies[0].dir());
    }
    None
}

/// descriptors.json (the init's stdio, for a restore to hand pipes back) and husk's record.
fn write_records(
    stored: &Stored,
    opts: &CheckpointOptions,
    mounts: &[ExternalMount],
) -> Result<(), Error> {
    let dir = &opts.criu.image_path;
    let fds: Vec<String> = (0..3)
        .map(|n| {
            fs::read_link(format!("/proc/{}/fd/{n}", stored.pid))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let json = serde_json::to_vec(&fds).expect("strings serialize");
    let path = dir.join(DESCRIPTORS);
    fs::write(&path, json).step(|| format!("writing {}", path.display()))?;
    let record = ImageRecord {
        kind: if opts.pre_dump {
            "pre-dump"
        } else {
            "checkpoint"
        }
        .into(),
        id: stored.id.clone(),
        rootfs: fs::canonicalize(&stored.rootfs).unwrap_or_else(|_| stored.rootfs.clone()),
        external_mounts: mounts.iter().map(|m| m.key.clone()).collect(),
    };
    let path = dir.join(IMAGE_RECORD);
    let json = serde_json::to_vec_pretty(&record).expect("record serializes");
    fs::write(&path, json).step(|| format!("writing {}", path.display()))?;
    Ok(())
}
