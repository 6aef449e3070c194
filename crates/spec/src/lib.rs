//! husk-spec: reading an OCI bundle and checking its config.json against the runtime spec
//! before anything is created, plus the JSON shapes husk prints (`state`).
//!
//! Every error names the JSON path it is about (`linux.uidMappings[0].size: must be > 0`).

pub mod bundle;
pub mod default_spec;
pub mod lenient;
pub mod pids;
pub mod state;
pub mod time;
pub mod validate;

pub use bundle::{Bundle, BundleError};
pub use state::{ContainerState, Status};
pub use validate::{validate, Violation, Violations};

/// The newest runtime-spec version husk implements.
pub const OCI_VERSION: &str = "1.3.0";
