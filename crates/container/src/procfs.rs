//! A /proc that knows the container's cgroup (husk-procfs, docs/procfs.md): which files a
//! container asks for (the `run.husk.procfs` annotation, or `--procfs` for every container),
//! the daemon that serves them (one per state root, at `<root>/@procfs`, started by the first
//! `create` that needs it), their bind mounts over the container's own files, and, when the
//! daemon starts again, those mounts made again in every running container.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use husk_procfs::ProcFile;
use oci_spec::runtime::Spec;

use crate::error::{StepContext, SysError};
use crate::resolve::Root;
use crate::state::Store;
use crate::sys;

pub const ANNOTATION: &str = "run.husk.procfs";
/// The daemon's mount point in the state root: '@' is not allowed in a container id.
const MOUNT_DIR: &str = "@procfs";
/// How long `create` waits for a daemon it started to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ProcfsError {
    #[error(
        "annotations[\"{ANNOTATION}\"]: {value:?} is not true, false or a list of the files \
         meminfo, cpuinfo, stat, uptime, loadavg, swaps, diskstats, cpu-online: {name:?}"
    )]
    BadAnnotation { value: String, name: String },
    #[error(
        "annotations[\"{ANNOTATION}\"]: rootless husk cannot serve /proc files (mounting FUSE \
         as a user needs fusermount3, which husk does not use)"
    )]
    Rootless,
    #[error(
        "annotations[\"{ANNOTATION}\"]: the served files are bound over the container's /proc: \
         it needs a mount namespace of its own (linux.namespaces)"
    )]
    NoMountNamespace,
    #[error("the procfs daemon ({log}) did not answer at {path} within {timeout:?}")]
    NotStarted {
        path: PathBuf,
        log: PathBuf,
        timeout: Duration,
    },
    #[error("starting the procfs daemon: {0}")]
    Spawn(#[source] std::io::Error),
}

/// The daemon's mount point for the state root `root`.
pub fn mount_point(root: &Path) -> PathBuf {
    root.join(MOUNT_DIR)
}

/// The files a container asks for: the annotation's, else all of them when `for_all`.
pub fn requested(spec: &Spec, for_all: bool) -> Result<Vec<ProcFile>, ProcfsError> {
    let value = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(ANNOTATION))
        .map(|v| v.trim().to_string());
    match value.as_deref() {
        None if for_all => Ok(ProcFile::ALL.to_vec()),
        None | Some("false") => Ok(Vec::new()),
        Some("true") => Ok(ProcFile::ALL.to_vec()),
        Some(list) => list
            .split(',')
            .map(|n| {
                ProcFile::by_name(n.trim()).ok_or_else(|| ProcfsError::BadAnnotation {
                    value: list.to_string(),
                    name: n.trim().to_string(),
                })
            })
            .collect(),
    }
}

/// The files a container gets and where their served copies are.
#[derive(Debug, Clone)]
pub struct Served {
    pub dir: PathBuf,
    pub files: Vec<ProcFile>,
}

impl Served {
    /// The files' names, as the state records them.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.files.iter().map(|f| f.name().to_string())
    }
}

/// For `create`: the files the container asks for, with the daemon answering for them
/// (started when it does not).
pub fn prepare(
    store: &Store,
    spec: &Spec,
    for_all: bool,
    rootless: bool,
    own_mount_namespace: bool,
) -> Result<Option<Served>, ProcfsError> {
    let files = requested(spec, for_all)?;
    if files.is_empty() {
        return Ok(None);
    }
    if rootless {
        return Err(ProcfsError::Rootless);
    }
    if !own_mount_namespace {
        return Err(ProcfsError::NoMountNamespace);
    }
    let dir = mount_point(&store.root);
    ensure_daemon(&store.root, &dir)?;
    Ok(Some(Served { dir, files }))
}

/// Start `husk procfs` for this state root when nothing answers at its mount point, and wait
/// until it does.
fn ensure_daemon(root: &Path, dir: &Path) -> Result<(), ProcfsError> {
    if husk_procfs::is_live_mount(dir) {
        return Ok(());
    }
    std::fs::create_dir_all(root).map_err(ProcfsError::Spawn)?;
    let log = root.join("@procfs.log");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(ProcfsError::Spawn)?;
    let mut cmd = std::process::Command::new("/proc/self/exe");
    std::os::unix::process::CommandExt::arg0(&mut cmd, "husk");
    cmd.arg("--root").arg(root).arg("procfs");
    cmd.stdin(std::process::Stdio::null())
        .stdout(out.try_clone().map_err(ProcfsError::Spawn)?)
        .stderr(out);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(ProcfsError::Spawn)?;
    let deadline = Instant::now() + START_TIMEOUT;
    while !husk_procfs::is_live_mount(dir) {
        // Another create may have started one first: this one then exits, and the other
        // answers.
        let _ = child.try_wait();
        if Instant::now() > deadline {
            return Err(ProcfsError::NotStarted {
                path: dir.to_path_buf(),
                log,
                timeout: START_TIMEOUT,
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Read-only, and nothing to run or to open as a device, like the masked and read-only paths.
const ATTRS: u64 = sys::MOUNT_ATTR_RDONLY
    | sys::MOUNT_ATTR_NOSUID
    | sys::MOUNT_ATTR_NODEV
    | sys::MOUNT_ATTR_NOEXEC;

/// A detached, read-only bind of the served copy of `file`.
fn served_tree(dir: &Path, file: ProcFile) -> Result<OwnedFd, SysError> {
    let source = dir.join(file.name());
    let c = crate::error::c_string(source.display(), source.as_os_str().as_encoded_bytes())?;
    let tree = sys::open_tree_clone(&c, false)
        .step(|| format!("{ANNOTATION}: opening {}", source.display()))?;
    sys::mount_setattr(tree.as_fd(), false, ATTRS, 0)
        .step(|| format!("{ANNOTATION}: making {} read-only", source.display()))?;
    Ok(tree)
}

/// In the init, before pivot_root (the served files are reachable by their host paths, and
/// the container's /proc and /sys are mounted): each file bound over the container's own.
pub fn bind_into(root: &Root, served: &Served) -> Result<(), SysError> {
    for file in &served.files {
        let tree = served_tree(&served.dir, *file)?;
        let target = root
            .lookup(Path::new(file.host_path()))
            .step(|| format!("{ANNOTATION}: {} in the container", file.host_path()))?;
        sys::move_mount_onto(tree.as_fd(), target.as_fd())
            .step(|| format!("{ANNOTATION}: mounting over {}", file.host_path()))?;
    }
    Ok(())
}

/// `husk procfs`: the daemon for this state root, until SIGTERM or SIGINT. Once it answers,
/// the running containers that had the files of a daemon before get them again.
pub fn serve(store: &Store) -> Result<(), husk_procfs::ServeError> {
    // One daemon per state root: two creates may each start one at once; the one that does
    // not get the lock leaves it to the other.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(store.root.join("@procfs.lock"))
        .map_err(|source| husk_procfs::ServeError::MountPoint {
            path: store.root.clone(),
            source,
        })?;
    let Ok(_held) = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
    else {
        tracing::warn!("another procfs daemon serves {}", store.root.display());
        return Ok(());
    };
    let pid_file = pid_file(&store.root);
    let served = husk_procfs::serve(&mount_point(&store.root), || {
        let _ = std::fs::write(&pid_file, format!("{}\n", std::process::id()));
        remount_running(store)
    });
    let _ = std::fs::remove_file(&pid_file);
    served
}

/// Where the daemon of a state root writes its pid, once it answers.
pub fn pid_file(root: &Path) -> PathBuf {
    root.join("@procfs.pid")
}

/// For a daemon that starts again: each running container's served files, which still name
/// the dead daemon's mount, bound again from the new one. A container that cannot be reached
/// is a warning; the others are still done.
pub fn remount_running(store: &Store) {
    let dir = mount_point(&store.root);
    for id in store.ids().unwrap_or_default() {
        let Ok(stored) = store.peek(&id) else {
            continue;
        };
        let files: Vec<ProcFile> = stored
            .procfs
            .iter()
            .filter_map(|n| ProcFile::by_name(n))
            .collect();
        if files.is_empty() {
            continue;
        }
        if !crate::process_info::is_alive(stored.pid, stored.pid_start) {
            continue;
        }
        let served = Served {
            dir: dir.clone(),
            files,
        };
        match remount_into(stored.pid, &served) {
            Ok(()) => tracing::info!("{id}: the served /proc files are mounted again"),
            Err(e) => tracing::warn!("{id}: mounting the served /proc files again: {e}"),
        }
    }
}

/// The served files moved over the container's, in the mount namespace of `pid`: a child
/// enters it (the daemon is multi-threaded: only a single-threaded process may), unmounts
/// the dead binds and moves the new ones in.
fn remount_into(pid: i32, served: &Served) -> Result<(), SysError> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .step(|| format!("opening the mount namespace of {pid}"))?;
    let root = std::fs::File::open(format!("/proc/{pid}/root"))
        .step(|| format!("opening the root of {pid}"))?;
    let mut moves = Vec::new();
    for file in &served.files {
        let target = CString::new(file.host_path()).expect("no NUL in a constant");
        moves.push((served_tree(&served.dir, *file)?, target));
    }
    sys::in_child(|| sys::move_mounts_in_namespace(ns.as_fd(), root.as_fd(), &moves))
        .step(|| format!("mounting the served files in the mount namespace of {pid}"))
}
