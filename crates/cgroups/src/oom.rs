//! Noticing that the kernel OOM-killed a process of the container: the `oom_kill` counter of
//! v1 memory.oom_control or v2 memory.events, with a file descriptor that becomes readable
//! when it may have changed (a v1 eventfd registered through cgroup.event_control, an inotify
//! watch on v2 memory.events), so that `husk events` sleeps in poll() rather than spinning.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::PathBuf;

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::hierarchy::{Cgroup, CgroupError};
use crate::resources::locate;
use crate::stats::flat_keyed;

enum Wakeup {
    V1 { eventfd: EventFd, _control: File },
    V2 { inotify: Inotify },
}

pub struct OomWatcher {
    counter_file: PathBuf,
    seen: u64,
    wakeup: Wakeup,
}

impl OomWatcher {
    /// Watch the container's memory cgroup; None when the host has no memory controller.
    pub fn new(cg: &Cgroup) -> Result<Option<OomWatcher>, CgroupError> {
        let Ok(dir) = locate(cg, "memory", "oom") else {
            return Ok(None);
        };
        let io = |path: &PathBuf| {
            let path = path.clone();
            move |source: std::io::Error| CgroupError::Read { path, source }
        };
        let (counter_file, wakeup) = if dir.v2 {
            let file = dir.path.join("memory.events");
            let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
                .map_err(|e| io(&file)(e.into()))?;
            inotify
                .add_watch(&file, AddWatchFlags::IN_MODIFY)
                .map_err(|e| io(&file)(e.into()))?;
            (file, Wakeup::V2 { inotify })
        } else {
            let file = dir.path.join("memory.oom_control");
            let control = File::open(&file).map_err(io(&file))?;
            let eventfd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
                .map_err(|e| io(&file)(e.into()))?;
            let registration = format!("{} {}", eventfd.as_raw_fd(), control.as_raw_fd());
            let event_control = dir.path.join("cgroup.event_control");
            std::fs::write(&event_control, &registration).map_err(|source| CgroupError::Write {
                path: event_control.clone(),
                value: registration.clone(),
                source,
            })?;
            (
                file,
                Wakeup::V1 {
                    eventfd,
                    _control: control,
                },
            )
        };
        let mut w = OomWatcher {
            counter_file,
            seen: 0,
            wakeup,
        };
        w.seen = w.count();
        Ok(Some(w))
    }

    /// The descriptor to poll for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match &self.wakeup {
            Wakeup::V1 { eventfd, .. } => eventfd.as_fd(),
            Wakeup::V2 { inotify } => inotify.as_fd(),
        }
    }

    fn count(&self) -> u64 {
        let text = std::fs::read_to_string(&self.counter_file).unwrap_or_default();
        flat_keyed(&text).get("oom_kill").copied().unwrap_or(0)
    }

    /// Drain the wakeup and say how many OOM kills happened since the last call.
    pub fn new_kills(&mut self) -> u64 {
        match &self.wakeup {
            Wakeup::V1 { eventfd, .. } => {
                let _ = eventfd.read();
            }
            Wakeup::V2 { inotify } => {
                let _ = inotify.read_events();
            }
        }
        let now = self.count();
        let new = now.saturating_sub(self.seen);
        self.seen = now;
        new
    }
}
