//! `linux.resources`: each section in its own module, written to the v1 file or the v2 file
//! of whichever hierarchy carries the controller on this host (on a hybrid host, memory may
//! be v1 while hugetlb is v2). A limit the host cannot apply is an error naming the field.

mod block_io;
mod cpu;
mod hugepage_limits;
mod memory;
mod network;
mod pids;
mod rdma;
mod unified;
mod unset;

pub use unset::without_unset_zeros;

use std::fmt::Display;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::hierarchy::{Cgroup, CgroupError};

/// Apply every resource of `r` except devices (see `Cgroup::apply_devices`), the zeros runc
/// reads as unset left out (unset.rs). `updating` is true for `husk update` (memory's
/// checkBeforeUpdate applies then).
/// With the systemd driver, the limits systemd knows go to it as unit properties first.
pub fn apply(cg: &Cgroup, r: &LinuxResources, updating: bool) -> Result<(), CgroupError> {
    let r = &without_unset_zeros(r);
    if let Some(unit) = &cg.systemd {
        unit.set_properties(r)?;
    }
    if let Some(m) = r.memory() {
        memory::apply(cg, m, updating)?;
    }
    if let Some(c) = r.cpu() {
        cpu::apply(cg, c)?;
    }
    if let Some(p) = r.pids() {
        pids::apply(cg, p)?;
    }
    if let Some(b) = r.block_io() {
        block_io::apply(cg, b)?;
    }
    if let Some(h) = r.hugepage_limits() {
        hugepage_limits::apply(cg, h)?;
    }
    if let Some(n) = r.network() {
        network::apply(cg, n)?;
    }
    if let Some(rd) = r.rdma() {
        rdma::apply(cg, rd)?;
    }
    if let Some(u) = r.unified() {
        unified::apply(cg, u)?;
    }
    Ok(())
}

/// The container's cgroup directory for one controller, and whether it is a v2 one.
pub(crate) struct Dir {
    pub path: PathBuf,
    pub v2: bool,
}

impl Dir {
    /// Write `value` to `file`, the error naming the config `field`. A file the kernel does
    /// not have is reported as a limit this host cannot apply.
    pub fn set(&self, field: &str, file: &str, value: impl Display) -> Result<(), CgroupError> {
        let path = self.path.join(file);
        let value = value.to_string();
        let result = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(value.as_bytes()));
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(CgroupError::Unsupported {
                field: field.to_string(),
                reason: format!("this kernel has no {file} (in {})", self.path.display()),
            }),
            Err(source) => Err(CgroupError::Apply {
                field: field.to_string(),
                path,
                value,
                source,
            }),
        }
    }

    /// Whether the kernel has `file` here.
    pub fn has(&self, file: &str) -> bool {
        self.path.join(file).exists()
    }

    /// The file's contents, trimmed. Read in page-sized chunks without a stat first: most
    /// cgroup files are a line, and `list` reads one for every container.
    pub fn read(&self, file: &str) -> Option<String> {
        use std::io::Read;
        let mut f = fs::File::open(self.path.join(file)).ok()?;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        String::from_utf8(out).ok().map(|s| s.trim().to_string())
    }
}

/// Where `controller` lives for this container: a v1 hierarchy carrying it, else the v2
/// hierarchy if the controller is enabled there.
pub(crate) fn locate(cg: &Cgroup, controller: &str, field: &str) -> Result<Dir, CgroupError> {
    if let Some(h) = cg.hierarchies.iter().find(|h| !h.v2 && h.has(controller)) {
        return Ok(Dir {
            path: h.dir(),
            v2: false,
        });
    }
    if let Some(h) = cg.hierarchies.iter().find(|h| h.v2 && h.has(controller)) {
        return Ok(Dir {
            path: h.dir(),
            v2: true,
        });
    }
    Err(CgroupError::NoController {
        field: field.to_string(),
        controller: controller.to_string(),
        where_: match cg.mode {
            crate::Mode::Legacy => " among the v1 hierarchies".into(),
            crate::Mode::Hybrid => " in a v1 hierarchy or enabled in the cgroup2 mount".into(),
            crate::Mode::Unified => " enabled in cgroup.controllers".into(),
        },
    })
}

/// -1 (or any negative) is "no limit": `max` on v2, -1 on v1.
pub(crate) fn limit_v2(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

pub(crate) fn dir_of(path: &Path) -> Dir {
    Dir {
        path: path.to_path_buf(),
        v2: true,
    }
}
