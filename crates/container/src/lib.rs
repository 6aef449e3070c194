//! husk-container: the container lifecycle (create, start, kill, delete, state, run's wait)
//! and the process work that builds a container.
//!
//! One config section, one module: namespaces, mounts, devices, rootfs, masked_paths,
//! capabilities, rlimits, hooks, process. `create.rs` reads top to bottom; the forked side is
//! in `init.rs`. Only `sys` holds `unsafe`.
#![deny(unsafe_code)]

pub mod capabilities;
pub mod cgroup_driver;
pub mod checkpoint;
pub mod copy_tree;
pub mod cpu_affinity;
pub mod crash_point;
pub mod create;
pub mod delete;
pub mod devices;
pub mod error;
pub mod events;
pub mod exec;
pub mod exec_stub;
pub mod fd_socket;
pub mod features;
pub mod hooks;
pub mod idmapped_mounts;
pub mod inherited_fds;
pub mod init;
pub mod io_priority;
pub mod kill;
pub mod lsm;
pub mod masked_paths;
pub mod memory_policy;
pub mod mounts;
pub mod namespaces;
pub mod net_devices;
pub mod pause;
pub mod personality;
pub mod process;
pub mod process_info;
pub mod procfs;
pub mod resolve;
pub mod rlimits;
pub mod rootfs;
pub mod rootless;
pub mod scheduler;
pub mod sealed_exe;
pub mod seccomp;
pub mod spec;
pub mod start;
pub mod state;
pub mod sync;
pub mod sys;
pub mod terminal;
pub mod update;
pub mod wait;

pub use create::{create, CreateOptions, Created};
pub use delete::delete;
pub use events::events;
pub use exec::{exec, ExecOptions, Executed};
pub use kill::{kill, parse_signal};
pub use pause::{pause, resume};
pub use start::start;
pub use state::{StateError, Store};
pub use update::update;

/// Every failure of a lifecycle command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Bundle(#[from] husk_spec::BundleError),
    #[error("cgroup: {0}")]
    Cgroup(#[from] husk_cgroups::CgroupError),
    #[error(transparent)]
    Sys(#[from] error::SysError),
    #[error("talking to the container's init: {0}")]
    Sync(#[from] sync::SyncError),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(transparent)]
    Procfs(#[from] procfs::ProcfsError),
    /// What the forked init reported.
    #[error("container init: {0}")]
    Init(String),
    /// What the forked side of `exec` reported (runc's words).
    #[error("unable to start container process: {0}")]
    Process(String),
    #[error("{0}")]
    Terminal(&'static str),
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    /// Why `exec` cannot run in container `id` (the command line names the id).
    #[error("{why}")]
    CannotExec { id: String, why: &'static str },
    #[error("the process to exec is invalid: {0}")]
    BadProcess(husk_spec::Violations),
    #[error("{0}")]
    BadCgroup(String),
    #[error("{0}: not supported yet")]
    Unsupported(String),
    /// Resources that do not merge into a valid `linux.resources` (update).
    #[error("linux.resources: {0}")]
    BadResources(#[source] serde_json::Error),
    /// A security label husk does not apply (lsm.rs).
    #[error("{0}")]
    Lsm(String),
    #[error("the container has no cgroup (husk ran rootless, without a delegated cgroup): {what} need one")]
    NoCgroup { id: String, what: &'static str },
    /// What an unprivileged user cannot do, and what to change.
    #[error("rootless: {0}")]
    Rootless(String),
    #[error("the container is {status}: container not running")]
    NotRunning {
        id: String,
        status: husk_spec::Status,
    },
    #[error("cannot delete a container that is not stopped: {status}: container still running (use --force)")]
    StillRunning {
        id: String,
        status: husk_spec::Status,
    },
    #[error("cannot start a container that is {status}, not created")]
    CannotStart {
        id: String,
        status: husk_spec::Status,
    },
    #[error("the container is {status}: container not paused")]
    NotPaused {
        id: String,
        status: husk_spec::Status,
    },
    #[error("writing the output: {0}")]
    Output(#[source] std::io::Error),
    #[error("invalid signal {0:?}")]
    BadSignal(String),
    #[error("signalling the container: {source}")]
    Signal {
        id: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The forked side's report, for `exec`: about the process, not a container's init.
    pub(crate) fn of_exec(self) -> Error {
        match self {
            Error::Init(message) => Error::Process(message),
            other => other,
        }
    }
}
