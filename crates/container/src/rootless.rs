//! Rootless containers: husk run by a user without privilege, as runc's rootless mode.
//!
//! - A new user namespace is required (every other namespace is made inside it).
//! - The id maps are written directly when they map only the caller's own id (the kernel
//!   allows that, with setgroups denied), and through the setuid `newuidmap`/`newgidmap`
//!   when they map subordinate ranges granted in /etc/subuid and /etc/subgid.
//! - A cgroup is used only where the user may create one (a delegated cgroup v2 subtree);
//!   otherwise the container has none, and asking for resources is an error.
//!
//! What needs more is handled where it happens: devices are bind-mounted from the host
//! (devices.rs), sysfs is bound when it cannot be mounted and locked mount flags are kept
//! (mounts.rs).

use std::fs;
use std::path::Path;
use std::process::Command;

use nix::unistd::{getegid, geteuid};
use oci_spec::runtime::{Linux, LinuxIdMapping, Spec};

use crate::error::StepContext;
use crate::namespaces::NamespacePlan;
use crate::Error;

/// Is husk running without root?
pub fn is_rootless() -> bool {
    !geteuid().is_root()
}

/// How one of the two maps gets written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// Only the caller's own id: written to /proc/<pid>/{uid,gid}_map directly.
    Direct,
    /// Subordinate ranges: through the setuid helper (newuidmap/newgidmap).
    Helper(&'static str),
}

/// How the uid and gid maps of a new user namespace get written, decided (and /etc/subuid
/// and /etc/subgid read) once, by `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapWriters {
    uid: Writer,
    gid: Writer,
}

/// Everything rootless that can be refused is refused here, before anything is made. For a
/// new user namespace, says how its maps will be written.
pub fn check(spec: &Spec, plan: &NamespacePlan) -> Result<Option<MapWriters>, Error> {
    let linux = spec.linux().as_ref().expect("validated");
    if !plan.has_userns() {
        return Err(Error::Rootless(format!(
            "linux.namespaces: husk runs as uid {} without privilege, so the container needs \
             a \"user\" namespace (`husk spec --rootless` writes a config with one)",
            geteuid()
        )));
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if crate::idmapped_mounts::wanted(m) {
            return Err(Error::Rootless(format!(
                "mounts[{i}] ({}): an idmapped mount needs CAP_SYS_ADMIN over the host \
                 filesystem it maps, which only root has; run husk as root or drop \
                 idmap/ridmap and the mount's mappings",
                m.destination().display()
            )));
        }
    }
    if !plan.new_user {
        return Ok(None); // a joined user namespace comes with its maps
    }
    let uid_writer = writer("uid", linux.uid_mappings().as_deref().unwrap_or_default())?;
    let gid_writer = writer("gid", linux.gid_mappings().as_deref().unwrap_or_default())?;
    let extra_gids = spec
        .process()
        .as_ref()
        .and_then(|p| p.user().additional_gids().clone())
        .unwrap_or_default();
    if gid_writer == Writer::Direct && !extra_gids.is_empty() {
        return Err(Error::Rootless(
            "process.user.additionalGids: a user namespace whose gid map an unprivileged user \
             writes directly has setgroups denied; map subordinate gids from /etc/subgid, or \
             drop additionalGids"
                .into(),
        ));
    }
    Ok(Some(MapWriters {
        uid: uid_writer,
        gid: gid_writer,
    }))
}

/// Write the maps of the intermediate `pid`'s new user namespace as an unprivileged user.
pub fn write_id_maps(pid: i32, linux: &Linux, writers: MapWriters) -> Result<(), Error> {
    let uid = linux.uid_mappings().clone().unwrap_or_default();
    let gid = linux.gid_mappings().clone().unwrap_or_default();
    // setgroups must be denied before an unprivileged write of gid_map.
    if writers.gid == Writer::Direct {
        let path = format!("/proc/{pid}/setgroups");
        fs::write(&path, "deny").step(|| format!("writing deny to {path}"))?;
    }
    write_one(pid, "uid", &uid, writers.uid)?;
    write_one(pid, "gid", &gid, writers.gid)
}

fn write_one(pid: i32, kind: &str, maps: &[LinuxIdMapping], w: Writer) -> Result<(), Error> {
    match w {
        Writer::Direct => {
            let text = crate::namespaces::map_text(maps);
            let path = format!("/proc/{pid}/{kind}_map");
            fs::write(&path, &text).step(|| format!("writing {path} ({})", text.trim()))?;
            Ok(())
        }
        Writer::Helper(helper) => {
            let mut cmd = Command::new(helper);
            cmd.arg(pid.to_string());
            for m in maps {
                cmd.args([
                    m.container_id().to_string(),
                    m.host_id().to_string(),
                    m.size().to_string(),
                ]);
            }
            let out = cmd.output().map_err(|e| {
                Error::Rootless(format!(
                    "linux.{kind}Mappings: running {helper}: {e} (install Debian's uidmap package)"
                ))
            })?;
            if !out.status.success() {
                return Err(Error::Rootless(format!(
                    "linux.{kind}Mappings: {helper} {pid} ... failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            Ok(())
        }
    }
}

/// Decide how a map is written, and refuse one the user may not write at all.
fn writer(kind: &'static str, maps: &[LinuxIdMapping]) -> Result<Writer, Error> {
    let own = if kind == "uid" {
        geteuid().as_raw()
    } else {
        getegid().as_raw()
    };
    let field = format!("linux.{kind}Mappings");
    if let [only] = maps {
        if only.host_id() == own && only.size() == 1 {
            return Ok(Writer::Direct);
        }
    }
    let file = if kind == "uid" {
        "/etc/subuid"
    } else {
        "/etc/subgid"
    };
    let granted = subordinate_ranges(Path::new(file));
    for m in maps {
        let (start, end) = (
            u64::from(m.host_id()),
            u64::from(m.host_id()) + u64::from(m.size()),
        );
        let own_only = start == u64::from(own) && end == start + 1;
        let covered = granted.iter().any(|&(s, n)| start >= s && end <= s + n);
        if !own_only && !covered {
            let grants = if granted.is_empty() {
                "grants this user nothing".to_string()
            } else {
                format!(
                    "grants this user only {}",
                    granted
                        .iter()
                        .map(|(s, n)| format!("{s}-{}", s + n - 1))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(Error::Rootless(format!(
                "{field} maps {start}-{}, but {file} {grants}: add a range or map only {kind} {own}",
                end - 1
            )));
        }
    }
    let helper = if kind == "uid" {
        "newuidmap"
    } else {
        "newgidmap"
    };
    Ok(Writer::Helper(helper))
}

/// The (start, count) ranges /etc/subuid or /etc/subgid grants the calling user, by name or
/// by number.
fn subordinate_ranges(file: &Path) -> Vec<(u64, u64)> {
    // newuidmap and newgidmap both look the user up by name or uid.
    let uid = geteuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name);
    let text = fs::read_to_string(file).unwrap_or_default();
    parse_subordinate(&text, uid.as_raw(), name.as_deref())
}

fn parse_subordinate(text: &str, id: u32, name: Option<&str>) -> Vec<(u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            let me = Some(who) == name || who == id.to_string();
            let (start, count) = (start.parse().ok()?, count.parse::<u64>().ok()?);
            (me && count > 0).then_some((start, count))
        })
        .collect()
}

/// Rootless husk may not make the container's cgroup (outside a delegated subtree): the
/// container goes without one, unless the config asks for resources, which the error names.
pub fn without_cgroup(linux: &Linux, e: &husk_cgroups::CgroupError) -> Result<(), Error> {
    let asked = requested_resources(linux);
    if let Some(first) = asked.first() {
        // runc's words first (clients and scripts match them), then what and why.
        let what = first.trim_start_matches("linux.resources.");
        return Err(Error::Rootless(format!(
            "cannot set {what} limit: container could not join or create cgroup: {}: husk \
             runs as uid {} and may not create the container's cgroup ({e}); remove these \
             resources or give this user a delegated cgroup",
            asked.join(", "),
            geteuid()
        )));
    }
    if let Some(path) = linux.cgroups_path() {
        // A placement the config asked for is not dropped silently (runc refuses too).
        // runc's words (unable to apply cgroup configuration ... permission denied) too.
        return Err(Error::Rootless(format!(
            "linux.cgroupsPath {}: unable to apply cgroup configuration: husk runs as uid {} \
             and may not create it ({e}: permission denied); remove cgroupsPath or give this \
             user a delegated cgroup there",
            path.display(),
            geteuid()
        )));
    }
    let own_pidns = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Pid);
    if !own_pidns {
        tracing::warn!(
            "rootless container in the host's pid namespace without a cgroup of its own: \
             processes its init leaves behind cannot be tracked by kill --all or delete. \
             Such configuration is strongly discouraged (runc's words)"
        );
    } else {
        tracing::debug!("rootless: no cgroup for the container ({e})");
    }
    Ok(())
}

/// A rootless container's cgroup made without the hierarchies this user may not write
/// (Cgroup::create_where_permitted): a limit that needs one of their controllers is refused,
/// in runc's words, with what and why.
pub fn check_dropped_controllers(linux: &Linux, dropped: &[String]) -> Result<(), Error> {
    const NEEDS: &[(&str, &[&str])] = &[
        ("memory", &["memory"]),
        ("cpu", &["cpu", "cpuset"]),
        ("pids", &["pids"]),
        ("blockIO", &["blkio", "io"]),
        ("hugepageLimits", &["hugetlb"]),
        ("network", &["net_cls", "net_prio"]),
        ("rdma", &["rdma"]),
        ("unified", &["unified"]),
    ];
    for field in requested_resources(linux) {
        let name = field.trim_start_matches("linux.resources.");
        let controllers = NEEDS
            .iter()
            .find(|(f, _)| *f == name)
            .map_or(&[][..], |n| n.1);
        if let Some(c) = controllers.iter().find(|c| dropped.iter().any(|d| d == *c)) {
            return Err(Error::Rootless(format!(
                "cannot set {name} limit: container could not join or create cgroup: {field}: \
                 the {c} hierarchy is not delegated to uid {}; remove the limit or delegate it",
                geteuid()
            )));
        }
    }
    Ok(())
}

/// The `linux.resources` fields that need a cgroup (device rules are not among them: an
/// unprivileged user's container only has the host's nodes, bind-mounted).
fn requested_resources(linux: &Linux) -> Vec<String> {
    let Some(r) = linux.resources() else {
        return vec![];
    };
    let mut out = vec![];
    let mut field = |set: bool, name: &str| {
        if set {
            out.push(format!("linux.resources.{name}"));
        }
    };
    field(r.memory().is_some(), "memory");
    field(r.cpu().is_some(), "cpu");
    field(r.pids().is_some(), "pids");
    field(r.block_io().is_some(), "blockIO");
    field(
        r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
        "hugepageLimits",
    );
    field(r.network().is_some(), "network");
    field(r.rdma().as_ref().is_some_and(|h| !h.is_empty()), "rdma");
    field(
        r.unified().as_ref().is_some_and(|h| !h.is_empty()),
        "unified",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_match_by_name_or_id() {
        let text = "alice:100000:65536\n1001:300000:10\nbob:200000:65536\nbad line\n";
        assert_eq!(
            parse_subordinate(text, 1001, Some("alice")),
            vec![(100000, 65536), (300000, 10)]
        );
        assert!(parse_subordinate(text, 1002, Some("carol")).is_empty());
    }
}
