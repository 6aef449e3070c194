//! The cgroup directories themselves: making each level (controllers enabled, cpuset
//! inherited), removing them with their sub-cgroups, and collecting the pids inside.

use super::*;

/// Create the missing levels of `h.rel`. A level may vanish between two mkdirs, or between
/// its mkdir and the first write into it (another container's delete removing the shared
/// `husk/` parent it found empty; a write into a removed cgroup fails with ENODEV): start
/// again.
pub(super) fn create_levels(h: &mut Hierarchy) -> Result<(), CgroupError> {
    let mut attempts = 0;
    loop {
        match create_levels_once(h) {
            Err(e) if level_vanished(&e) && attempts < 5 => attempts += 1,
            other => return other,
        }
    }
}

pub(super) fn level_vanished(e: &CgroupError) -> bool {
    match e {
        CgroupError::Create { source, .. }
        | CgroupError::Write { source, .. }
        | CgroupError::Read { source, .. } => {
            source.kind() == ErrorKind::NotFound || source.raw_os_error() == Some(libc_enodev())
        }
        _ => false,
    }
}

pub(super) fn create_levels_once(h: &mut Hierarchy) -> Result<(), CgroupError> {
    let comps: Vec<_> = h.rel.components().collect();
    let mut dir = h.mount.clone();
    let mut created = 0;
    for (i, c) in comps.iter().enumerate() {
        if h.v2 {
            // A v2 cgroup has only the controllers its parent enables for its children.
            enable_subtree_controllers(&dir);
        }
        dir.push(c);
        match fs::create_dir(&dir) {
            Ok(()) => {
                if created == 0 {
                    created = comps.len() - i;
                }
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(source) => {
                h.created_levels = created.saturating_sub(comps.len() - i);
                return Err(CgroupError::Create { path: dir, source });
            }
        }
        // Every level, new or found: another create may have made a shared parent an instant
        // ago and not yet given it cpus. Filled top down, so each parent is ready first.
        if !h.v2 && h.has("cpuset") {
            inherit_cpuset(&dir)?;
        }
    }
    h.created_levels = created;
    if h.default_path && created > 0 {
        h.created_levels = created.max(2);
    }
    Ok(())
}

/// Enable in `dir`'s `cgroup.subtree_control` every controller `dir` has. One at a time, and
/// failures only logged: a limit that needs a controller that could not be enabled fails
/// later with an error naming the limit.
pub(super) fn enable_subtree_controllers(dir: &Path) {
    let Ok(available) = fs::read_to_string(dir.join("cgroup.controllers")) else {
        return;
    };
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    for c in available.split_whitespace() {
        if enabled.split_whitespace().any(|e| e == c) {
            continue;
        }
        if let Err(e) = write(&dir.join("cgroup.subtree_control"), &format!("+{c}")) {
            tracing::debug!("cannot enable the {c} controller: {e}");
        }
    }
}

/// A new v1 cpuset cgroup starts with no cpus and no mems, and takes no process until it has
/// some: give it its parent's.
pub(super) fn inherit_cpuset(dir: &Path) -> Result<(), CgroupError> {
    let parent = dir.parent().unwrap_or(dir);
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let value = read(&parent.join(file))?;
        if read(&dir.join(file))?.trim().is_empty() {
            write(&dir.join(file), value.trim())?;
        }
    }
    Ok(())
}

/// The container's own cgroup, with the sub-cgroups the container made in it (a container
/// with its cgroup mounted writable may), deepest first, as runc removes them.
pub(super) fn rmdir_with_subcgroups(dir: &Path) -> Result<(), CgroupError> {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rmdir_with_subcgroups(&e.path())?;
            }
        }
    }
    rmdir_retrying(dir)
}

pub(super) fn rmdir_retrying(dir: &Path) -> Result<(), CgroupError> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc_ebusy()) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(source) => {
                return Err(CgroupError::Remove {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

pub(super) fn libc_ebusy() -> i32 {
    nix::errno::Errno::EBUSY as i32
}

pub(super) fn libc_enodev() -> i32 {
    nix::errno::Errno::ENODEV as i32
}

pub(super) fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    let procs = dir.join("cgroup.procs");
    match fs::read_to_string(&procs) {
        Ok(text) => out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok())),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CgroupError::Read {
                path: procs,
                source,
            })
        }
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            collect_pids(&e.path(), out)?;
        }
    }
    Ok(())
}
