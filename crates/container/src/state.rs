//! The state store under `--root`: one directory per container holding `state.json` (written
//! atomically, by rename), `exec.fifo` while the container is `created`, and a per-container lock (flock on
//! the directory) so that two commands on one id never interleave.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use husk_cgroups::Cgroup;
use husk_spec::{ContainerState, Status};
use nix::fcntl::{Flock, FlockArg};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::process_info;

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("invalid container ID format: {0:?} (allowed: [A-Za-z0-9_+.-]+, not \".\" or \"..\")")]
    BadId(String),
    #[error("container with given ID already exists")]
    Exists(String),
    #[error("container does not exist")]
    NotExist(String),
    #[error("state root {path}: {source}")]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: corrupt state: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// What husk keeps about a container between commands. Only husk reads this file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub id: String,
    /// The init's host pid.
    pub pid: i32,
    /// The init's start time (field 22 of /proc/PID/stat), to tell it from a reused pid.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    /// The config the container was created from (hooks, namespaces, process).
    pub config: Spec,
    pub cgroup: Option<Cgroup>,
    /// Set while `create` is still making the container: the husk process doing it. If that
    /// process is gone and this is still set, create died half-way (the container is
    /// reported stopped and `delete` removes what was made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creating: Option<Creator>,
    /// A container in the host's mount namespace (none of its own): how many mounts were
    /// on its rootfs before create, so that `delete` takes off the ones husk added (the
    /// rootfs bind, and under it every mount of the config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_mounts_on_rootfs: Option<usize>,
    /// The /proc files served to it by husk's procfs daemon (procfs.rs), by name: a daemon
    /// that starts again mounts them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub procfs: Vec<String>,
}

/// The `husk create` process at work on a container (pid and start time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creator {
    pub pid: i32,
    pub start: u64,
}

impl Creator {
    /// This process.
    pub fn me() -> Option<Creator> {
        let pid = std::process::id() as i32;
        process_info::start_time(pid).map(|start| Creator { pid, start })
    }
}

impl Stored {
    pub fn annotations(&self) -> BTreeMap<String, String> {
        self.config
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    /// The public state, with status as it is now.
    pub fn public(&self, status: Status) -> ContainerState {
        ContainerState {
            oci_version: husk_spec::OCI_VERSION.to_string(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            annotations: self.annotations(),
            owner: self.owner.clone(),
        }
    }
}

/// runc's rule for container ids.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StateError::BadId(id.to_string()))
    }
}

/// The state root (`--root`).
#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
}

/// One container's directory, locked for as long as this value lives.
#[derive(Debug)]
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    _lock: Flock<File>,
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    fn ensure_root(&self) -> Result<(), StateError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|source| StateError::Root {
                path: self.root.clone(),
                source,
            })
    }

    /// Create and lock the directory for a new container; fails if the id exists.
    pub fn create(&self, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        self.ensure_root()?;
        let path = self.root.join(id);
        match fs::DirBuilder::new().mode(0o711).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_string()))
            }
            Err(source) => return Err(StateError::Io { path, source }),
        }
        let lock = lock_dir(&path).inspect_err(|_| {
            let _ = fs::remove_dir_all(&path);
        })?;
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            _lock: lock,
        })
    }

    /// Open and lock an existing container's directory.
    pub fn open(&self, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        let path = self.root.join(id);
        let lock = match lock_dir(&path) {
            Ok(l) => l,
            Err(StateError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                return Err(StateError::NotExist(id.to_string()))
            }
            Err(e) => return Err(e),
        };
        // A delete that held the lock before us may have removed the directory meanwhile.
        if !path.join(STATE_FILE).exists() && !path.exists() {
            return Err(StateError::NotExist(id.to_string()));
        }
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            _lock: lock,
        })
    }

    /// Ids of every container directory, sorted.
    pub fn ids(&self) -> Result<Vec<String>, StateError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(vec![]),
            Err(source) => {
                return Err(StateError::Root {
                    path: self.root.clone(),
                    source,
                })
            }
        };
        let mut ids: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| validate_id(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Read a container's state without taking its lock (for `list`, `state`).
    pub fn peek(&self, id: &str) -> Result<Stored, StateError> {
        validate_id(id)?;
        read_state(&self.root.join(id), id)
    }
}

fn lock_dir(path: &Path) -> Result<Flock<File>, StateError> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| StateError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| StateError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })
}

fn read_state(dir: &Path, id: &str) -> Result<Stored, StateError> {
    let path = dir.join(STATE_FILE);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(StateError::NotExist(id.to_string()))
        }
        Err(source) => return Err(StateError::Io { path, source }),
    };
    serde_json::from_slice(&text).map_err(|source| StateError::Corrupt { path, source })
}

impl ContainerDir {
    pub fn load(&self) -> Result<Stored, StateError> {
        read_state(&self.path, &self.id)
    }

    /// Write state.json atomically: a temporary file renamed over the old one, so a reader or
    /// a killed husk never sees half a file. Not fsync'd (as runc): the state root is a tmpfs
    /// (/run) whose contents mean nothing after a reboot, and an fsync costs milliseconds on a
    /// disk-backed --root.
    pub fn save(&self, stored: &Stored) -> Result<(), StateError> {
        let path = self.path.join(STATE_FILE);
        let tmp = self.path.join(".state.json.tmp");
        let io = |source| StateError::Io {
            path: tmp.clone(),
            source,
        };
        let data = serde_json::to_vec(stored).expect("state serialises");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&data).map_err(io)?;
        fs::rename(&tmp, &path).map_err(|source| StateError::Io { path, source })
    }

    /// The fd holding this directory's lock. A forked child must close its copy: the lock
    /// belongs to the open file, so a child that outlives a killed husk would keep it held.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self._lock.as_raw_fd()
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// The container's status now: stopped once the init is gone (or its pid was reused),
    /// created while the exec FIFO still exists, running otherwise.
    pub fn status(&self, stored: &Stored) -> Status {
        status_of(&self.path, stored)
    }

    /// Remove the directory and everything in it (the lock goes with it).
    pub fn remove(self) -> Result<(), StateError> {
        fs::remove_dir_all(&self.path).map_err(|source| StateError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// The status of a stored container whose directory is `dir`.
pub fn status_of(dir: &Path, stored: &Stored) -> Status {
    if let Some(c) = stored.creating {
        return if process_info::is_alive(c.pid, c.start) {
            Status::Creating
        } else {
            Status::Stopped
        };
    }
    if !process_info::is_alive(stored.pid, stored.pid_start) {
        return Status::Stopped;
    }
    let frozen = stored
        .cgroup
        .as_ref()
        .is_some_and(|cg| cg.freezer_state().ok() == Some(husk_cgroups::FreezerState::Frozen));
    if frozen {
        Status::Paused
    } else if dir.join(EXEC_FIFO).exists() {
        Status::Created
    } else {
        Status::Running
    }
}

/// The user name owning `dir`, as runc's `owner` field.
pub fn owner_of(dir: &Path) -> String {
    let uid = fs::metadata(dir).map(|m| m.uid()).unwrap_or(0);
    process_info::user_name(uid).unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_runc_rules() {
        for ok in ["a", "A-b_c+d.e", "123"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "ä", "a\0"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn create_twice_fails_with_runcs_words() {
        let root = std::env::temp_dir().join(format!("husk-state-test-{}", std::process::id()));
        let store = Store::new(&root);
        let d = store.create("x").unwrap();
        drop(d);
        let e = store.create("x").unwrap_err().to_string();
        assert!(e.contains("container with given ID already exists"), "{e}");
        assert!(store
            .open("nope")
            .unwrap_err()
            .to_string()
            .contains("container does not exist"));
        fs::remove_dir_all(&root).unwrap();
    }
}
