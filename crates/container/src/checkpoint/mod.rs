//! `husk checkpoint` and `husk restore`: a running container saved to disk by CRIU and
//! brought back under husk's state, as runc does (docs/checkpoint.md).
//!
//! CRIU is driven through its RPC (`criu swrk`, criu.rs), the messages encoded by hand
//! (proto.rs). What CRIU cannot see for itself husk tells it (externals.rs): the bind mounts
//! from the host, the masked files, the cgroup bind mounts, the namespaces joined by path.

pub mod criu;
mod dump;
mod externals;
pub mod proto;
mod restore;

use std::path::{Path, PathBuf};

pub use dump::{checkpoint, CheckpointOptions};
pub use restore::{restore, RestoreOptions};

use crate::error::SysError;

/// Why a checkpoint or restore failed before or inside CRIU.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(
        "cannot run CRIU ({path}): {source}: checkpoint and restore need CRIU 3.0 or newer \
         (criu.org) in PATH, or its path in --criu"
    )]
    NoCriu {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CRIU {have} is too old: {what} needs CRIU {need} or newer")]
    TooOld {
        have: String,
        need: String,
        what: String,
    },
    #[error("{what}: CRIU on this kernel cannot do it (criu check --feature {feature} fails)")]
    MissingFeature {
        what: &'static str,
        feature: &'static str,
    },
    #[error("criu failed: errno {errno}{}", if .message.is_empty() { String::new() } else { format!(": {}", .message) })]
    Failed { errno: i32, message: String },
    #[error("criu swrk exited before it answered")]
    Exited,
    #[error(transparent)]
    Decode(#[from] proto::DecodeError),
    #[error(transparent)]
    Sys(#[from] SysError),
    #[error("cannot checkpoint a container that is {0}: container not running")]
    NotRunning(husk_spec::Status),
    /// The image directory cannot be restored from, and why.
    #[error("{dir}: {why}")]
    BadImage { dir: PathBuf, why: String },
    #[error("{0}")]
    BadOption(String),
}

/// `--manage-cgroups-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupsMode {
    Soft,
    Full,
    Strict,
    Ignore,
}

impl CgroupsMode {
    pub fn parse(s: &str) -> Result<CgroupsMode, CheckpointError> {
        Ok(match s {
            "soft" => CgroupsMode::Soft,
            "full" => CgroupsMode::Full,
            "strict" => CgroupsMode::Strict,
            "ignore" => CgroupsMode::Ignore,
            other => {
                return Err(CheckpointError::BadOption(format!(
                    "--manage-cgroups-mode {other:?}: invalid manage-cgroups-mode value \
                     (soft, full, strict or ignore)"
                )))
            }
        })
    }

    /// criu_cg_mode.
    fn wire(self) -> u32 {
        match self {
            CgroupsMode::Ignore => 0,
            CgroupsMode::Soft => 3,
            CgroupsMode::Full => 4,
            CgroupsMode::Strict => 5,
        }
    }
}

/// The flags `checkpoint` and `restore` share.
#[derive(Debug, Clone, Default)]
pub struct CriuOptions {
    /// `--criu`: the CRIU binary (default `criu` from PATH).
    pub criu: Option<PathBuf>,
    /// `--image-path` (default `./checkpoint`).
    pub image_path: PathBuf,
    /// `--work-path`: where CRIU writes its log (default: the image directory).
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<CgroupsMode>,
    /// `--empty-ns`: CLONE_NEW* flags of namespaces CRIU neither saves nor restores.
    pub empty_ns: u32,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
}

/// `--empty-ns NAME`: runc's names (network) and the kernel's short ones.
pub fn empty_ns_flag(name: &str) -> Result<u32, CheckpointError> {
    use nix::sched::CloneFlags as F;
    let f = match name {
        "network" | "net" => F::CLONE_NEWNET,
        "ipc" => F::CLONE_NEWIPC,
        "uts" => F::CLONE_NEWUTS,
        "mount" | "mnt" => F::CLONE_NEWNS,
        "pid" => F::CLONE_NEWPID,
        "cgroup" => F::CLONE_NEWCGROUP,
        other => {
            return Err(CheckpointError::BadOption(format!(
                "--empty-ns {other:?}: not a namespace (network, ipc, uts, mount, pid, cgroup)"
            )))
        }
    };
    Ok(f.bits() as u32)
}

/// What husk writes beside CRIU's images: what was saved, of which container, so that
/// `restore` can tell an image directory it cannot use before CRIU runs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// "checkpoint" or "pre-dump".
    pub kind: String,
    /// The id of the container that was saved.
    pub id: String,
    /// Its rootfs (canonical).
    pub rootfs: PathBuf,
    /// The destinations of its external mounts, as CRIU was told them.
    pub external_mounts: Vec<String>,
}

/// husk's record in an image directory.
pub const IMAGE_RECORD: &str = "husk-checkpoint.json";
/// runc's record of the init's standard streams (fd 0, 1, 2 link targets).
pub const DESCRIPTORS: &str = "descriptors.json";

/// The CRIU log of a step, quoted in husk's log when CRIU fails (as runc does: each line
/// with "Error" and the five before it).
fn quote_criu_log(dir: &Path, file: &str) {
    let path = dir.join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut printed = 0usize;
    tracing::warn!("--- quoting {}", path.display());
    for (i, line) in lines.iter().enumerate() {
        if !line.contains("Error") {
            continue;
        }
        for (n, l) in lines
            .iter()
            .enumerate()
            .take(i + 1)
            .skip(i.saturating_sub(5).max(printed))
        {
            tracing::warn!("{}:{}", n + 1, l);
        }
        printed = i + 1;
    }
    tracing::warn!("---");
}
