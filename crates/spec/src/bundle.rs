//! Loading a bundle directory: `config.json` read through oci-spec, validated, rootfs resolved.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::validate::{validate, Violations};

/// A bundle whose config.json parsed and passed validation.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute, canonical bundle directory.
    pub dir: PathBuf,
    /// The parsed config.
    pub spec: Spec,
    /// `root.path`, made absolute against the bundle directory (not canonicalised: the rootfs is
    /// opened by file descriptor later, never re-resolved by string).
    pub rootfs: PathBuf,
    /// Deprecated-but-accepted constructs, to be logged as warnings.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot read config: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {json_path}: {message}")]
    Parse {
        file: PathBuf,
        json_path: String,
        message: String,
    },
    #[error("{file}: {violations}")]
    Invalid {
        file: PathBuf,
        violations: Violations,
    },
    #[error("root.path: rootfs {path} does not exist or is not a directory")]
    NoRootfs { path: PathBuf },
}

/// Largest config.json husk reads; a bigger one is a mistake or an attack, not a container.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

impl Bundle {
    /// Load and validate `<dir>/config.json`.
    pub fn load(dir: &Path) -> Result<Self, BundleError> {
        let dir = std::fs::canonicalize(dir).map_err(|source| BundleError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let file = dir.join("config.json");
        let (spec, mut warnings) = parse_config_file(&file)?;
        warnings.extend(validate(&spec).map_err(|violations| BundleError::Invalid {
            file: file.clone(),
            violations,
        })?);
        let root = spec
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .unwrap_or_default();
        let rootfs = if root.is_absolute() {
            root
        } else {
            dir.join(root)
        };
        if !rootfs.is_dir() {
            return Err(BundleError::NoRootfs { path: rootfs });
        }
        let mut spec = spec;
        destinations_inside_the_rootfs(&mut spec, &rootfs);
        Ok(Bundle {
            dir,
            spec,
            rootfs,
            warnings,
        })
    }
}

/// A mount destination written as a host path inside the rootfs (`<rootfs>/mnt`) means that
/// path in the container (`/mnt`): runc reads it so, and configs written for runc use it.
fn destinations_inside_the_rootfs(spec: &mut Spec, rootfs: &Path) {
    let canonical = std::fs::canonicalize(rootfs).ok();
    let Some(mounts) = spec.mounts_mut().as_mut() else {
        return;
    };
    for m in mounts {
        let inside = [Some(rootfs), canonical.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|r| m.destination().strip_prefix(r).ok().map(Path::to_path_buf));
        if let Some(rel) = inside {
            m.set_destination(Path::new("/").join(rel));
        }
    }
}

/// Parse a config file, naming the JSON path of a type error; with the warnings of what was
/// read as runc reads it (lenient.rs).
pub fn parse_config_file(file: &Path) -> Result<(Spec, Vec<String>), BundleError> {
    let f = File::open(file).map_err(|source| BundleError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_CONFIG_BYTES {
        return Err(BundleError::Parse {
            file: file.to_path_buf(),
            json_path: ".".into(),
            message: format!("file is {len} bytes, larger than the {MAX_CONFIG_BYTES} husk reads"),
        });
    }
    parse_config_noting(BufReader::new(f)).map_err(|(json_path, message)| BundleError::Parse {
        file: file.to_path_buf(),
        json_path,
        message,
    })
}

/// Parse config JSON from a reader; the error is (JSON path, message).
pub fn parse_config_reader<R: std::io::Read>(r: R) -> Result<Spec, (String, String)> {
    parse_config_noting(r).map(|(spec, _)| spec)
}

/// As parse_config_reader, with what was read as runc reads it (lenient.rs).
pub fn parse_config_noting<R: std::io::Read>(
    mut r: R,
) -> Result<(Spec, Vec<String>), (String, String)> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)
        .map_err(|e| (".".to_string(), e.to_string()))?;
    let notes = relax_json(&mut bytes);
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let mut spec: Spec = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        (path.clone(), in_runcs_words(&path, message))
    })?;
    de.end().map_err(|e| (".".to_string(), e.to_string()))?;
    if crate::pids::has_pids_without_limit(&bytes, crate::pids::At::Config) {
        if let Some(r) = spec
            .linux_mut()
            .as_mut()
            .and_then(|l| l.resources_mut().as_mut())
        {
            r.set_pids(None);
        }
    }
    Ok((spec, notes))
}

/// Rewrite `bytes` as runc would read them, when anything needs it (lenient.rs). JSON that
/// does not parse is left for the typed parse to report with its line and column.
fn relax_json(bytes: &mut Vec<u8>) -> Vec<String> {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Vec::new();
    };
    let notes = crate::lenient::relax(&mut value, crate::lenient::Root::Config);
    let renamed = crate::lenient::spec_names(&mut value, crate::lenient::Root::Config);
    if renamed || !notes.is_empty() {
        if let Ok(relaxed) = serde_json::to_vec(&value) {
            *bytes = relaxed;
        }
    }
    notes
}

/// A type error where runc's words are what scripts match: an unparsable memory policy is an
/// "invalid memory policy mode" or "flag".
fn in_runcs_words(path: &str, message: String) -> String {
    match path {
        "linux.memoryPolicy" | "linux.memoryPolicy.mode" => {
            format!("invalid memory policy mode: {message}")
        }
        p if p.starts_with("linux.memoryPolicy.flags") => {
            format!("invalid memory policy flag: {message}")
        }
        _ => message,
    }
}
