//! `husk delete`: a stopped container is removed; a created one is killed and removed (as runc
//! and crun do, which clients rely on); a running one only with --force. Poststop hooks run,
//! then the cgroup levels husk made and the state directory go.

use std::os::fd::AsFd;
use std::time::Duration;

use husk_spec::Status;
use nix::sys::signal::Signal;

use crate::crash_point::stage;
use crate::state::{StateError, Store};
use crate::{hooks, kill, sys, Error};

pub fn delete(store: &Store, id: &str, force: bool) -> Result<(), Error> {
    crate::state::validate_id(id)?;
    let dir = match store.open(id) {
        Ok(d) => d,
        Err(StateError::NotExist(_)) if force => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let stored = match dir.load() {
        Ok(s) => s,
        // A create that died before writing its state left only the directory.
        Err(StateError::NotExist(_) | StateError::Corrupt { .. }) if force => {
            dir.remove()?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let status = dir.status(&stored);
    hand_back_net_devices(&stored);
    match status {
        // A create that was killed half-way: its init may still be alive (we hold the lock,
        // so its creator is gone).
        Status::Stopped if stored.creating.is_some() => {
            if crate::process_info::is_alive(stored.pid, stored.pid_start) {
                kill::kill_and_wait(stored.pid);
            }
        }
        Status::Stopped => {}
        Status::Created => kill::kill_and_wait(stored.pid),
        _ if !force => {
            return Err(Error::StillRunning {
                id: id.to_string(),
                status,
            })
        }
        _ => {
            if let Some(cg) = &stored.cgroup {
                let _ = cg.signal_all(Signal::SIGKILL);
            }
            kill::kill_and_wait(stored.pid);
        }
    }
    if let Some(cg) = &stored.cgroup {
        // Processes that outlived the init (a shared pid namespace) go too.
        let _ = cg.signal_all(Signal::SIGKILL);
        wait_cgroup_empty(cg);
    }
    stage("delete-killed");
    if let Some(h) = stored
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststop().clone())
    {
        hooks::run_all_warning("poststop", &h, &stored.public(Status::Stopped));
    }
    if let Some(cg) = &stored.cgroup {
        cg.remove()?;
    }
    stage("delete-cgroup");
    if let Some(before) = stored.host_mounts_on_rootfs {
        crate::rootfs::unmount_added(&stored.rootfs, before)?;
    }
    dir.remove()?;
    Ok(())
}

/// `linux.netDevices` go back to the host's network namespace, under their own names, while
/// the init still holds the container's (net_devices.rs). Without a live init the kernel has
/// already done what there is to do. A device that cannot be handed back is a warning: the
/// container is deleted all the same.
fn hand_back_net_devices(stored: &crate::state::Stored) {
    let Some(devices) = crate::create::net_devices_of(&stored.config) else {
        return;
    };
    if !crate::process_info::is_alive(stored.pid, stored.pid_start) {
        return;
    }
    let moved = crate::net_devices::namespace_of(stored.pid)
        .and_then(|ns| crate::net_devices::move_back(devices, ns.as_fd()));
    if let Err(e) = moved {
        tracing::warn!("{e}");
    }
}

fn wait_cgroup_empty(cg: &husk_cgroups::Cgroup) {
    for pid in cg.pids().unwrap_or_default() {
        if let Ok(fd) = sys::pidfd_open(pid) {
            kill::wait_gone(&fd, Duration::from_secs(5));
            let _ = fd.as_fd();
        }
    }
}
