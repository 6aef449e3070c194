//! `husk events`: the container's resource usage as runc's `{"type":"stats",...}` lines, once
//! (`--stats`) or every interval, with an `{"type":"oom",...}` line as soon as the kernel
//! OOM-kills one of its processes. The stream ends when the container stops.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use husk_cgroups::{OomWatcher, Stats};
use husk_spec::Status;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde::Serialize;

use crate::state::{status_of, Store};
use crate::Error;

/// One line of `husk events`.
#[derive(Serialize)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

/// Print (through `emit`) one stats event, or stream stats every `interval` plus OOM events.
pub fn events(
    store: &Store,
    id: &str,
    interval: Duration,
    stats_only: bool,
    mut emit: impl FnMut(&Event) -> std::io::Result<()>,
) -> Result<(), Error> {
    crate::state::validate_id(id)?;
    let stored = store.peek(id)?;
    let dir = store.root.join(id);
    let status = status_of(&dir, &stored);
    if status == Status::Stopped {
        return Err(Error::NotRunning {
            id: id.to_string(),
            status,
        });
    }
    let cg = stored.cgroup.clone().ok_or_else(|| Error::NoCgroup {
        id: id.to_string(),
        what: "events",
    })?;
    let stats_event = |cg: &husk_cgroups::Cgroup| Event {
        kind: "stats",
        id,
        data: Some(cg.stats()),
    };
    if stats_only {
        emit(&stats_event(&cg)).map_err(output_error)?;
        return Ok(());
    }
    let mut oom = OomWatcher::new(&cg)?;
    let pidfd = crate::sys::pidfd_open(stored.pid).ok();
    let mut next_stats = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next_stats {
            emit(&stats_event(&cg)).map_err(output_error)?;
            next_stats = now + interval;
        }
        let timeout = next_stats.saturating_duration_since(Instant::now());
        let mut fds = Vec::new();
        if let Some(w) = &oom {
            fds.push(PollFd::new(w.fd(), PollFlags::POLLIN));
        }
        if let Some(p) = &pidfd {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        let t = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, t) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => {
                return Err(Error::Signal {
                    id: id.to_string(),
                    source: e.into(),
                })
            }
        }
        if let Some(w) = &mut oom {
            for _ in 0..w.new_kills() {
                emit(&Event {
                    kind: "oom",
                    id,
                    data: None,
                })
                .map_err(output_error)?;
            }
        }
        if !crate::process_info::is_alive(stored.pid, stored.pid_start) {
            return Ok(());
        }
    }
}

fn output_error(e: std::io::Error) -> Error {
    Error::Output(e)
}
