//! Pausing and resuming every process of a container: v1 freezer.state, v2 cgroup.freeze.

use std::time::{Duration, Instant};

use crate::hierarchy::{Cgroup, CgroupError};
use crate::resources::{locate, Dir};

/// Whether the cgroup is frozen (paused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezerState {
    Thawed,
    Frozen,
}

fn freezer_dir(cg: &Cgroup) -> Result<Dir, CgroupError> {
    if let Some(h) = cg.hierarchies.iter().find(|h| !h.v2 && h.has("freezer")) {
        return Ok(Dir {
            path: h.dir(),
            v2: false,
        });
    }
    // cgroup.freeze is a core file of every non-root v2 cgroup (Linux 5.2), no controller to
    // enable. A kernel without it gets an error naming the file when asked to pause.
    if let Some(h) = cg.hierarchies.iter().find(|h| h.v2) {
        return Ok(Dir {
            path: h.dir(),
            v2: true,
        });
    }
    locate(cg, "freezer", "pause")
}

impl Cgroup {
    /// Freeze or thaw, and wait until the kernel reports it done.
    pub fn set_freezer(&self, state: FreezerState) -> Result<(), CgroupError> {
        let dir = freezer_dir(self)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if dir.v2 {
                let v = if state == FreezerState::Frozen { 1 } else { 0 };
                dir.set("freezer", "cgroup.freeze", v)?;
            } else {
                let v = if state == FreezerState::Frozen {
                    "FROZEN"
                } else {
                    "THAWED"
                };
                dir.set("freezer", "freezer.state", v)?;
            }
            // v1 may stay in FREEZING while a task is in an uninterruptible sleep: retry.
            for _ in 0..50 {
                if freezer_state_of(&dir)? == Some(state) {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            if Instant::now() > deadline {
                return Err(CgroupError::Invalid(format!(
                    "the freezer of {} did not reach {state:?} in 10 s",
                    dir.path.display()
                )));
            }
        }
    }

    /// The freezer's state; `Thawed` where there is no freezer at all.
    pub fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        let Ok(dir) = freezer_dir(self) else {
            return Ok(FreezerState::Thawed);
        };
        Ok(freezer_state_of(&dir)?.unwrap_or(FreezerState::Thawed))
    }
}

impl Cgroup {
    /// The first of the container's cgroups that is frozen or freezing (asked to be, on v2),
    /// in any hierarchy: on a hybrid host the v1 freezer and the cgroup2 tree's cgroup.freeze
    /// each hold a process that joins.
    pub(crate) fn frozen_dir(&self) -> Option<std::path::PathBuf> {
        self.hierarchies
            .iter()
            .map(|h| Dir {
                path: h.dir(),
                v2: h.v2,
            })
            .find(|dir| {
                if dir.v2 {
                    dir.read("cgroup.freeze").as_deref() == Some("1")
                } else {
                    matches!(
                        dir.read("freezer.state").as_deref(),
                        Some("FROZEN" | "FREEZING")
                    )
                }
            })
            .map(|dir| dir.path)
    }
}

/// None while a v1 freezer is still FREEZING, or a v2 one has not settled.
fn freezer_state_of(dir: &Dir) -> Result<Option<FreezerState>, CgroupError> {
    if dir.v2 {
        // Not frozen unless asked to be (the usual answer, from one file: `list` asks this of
        // every container); asked, frozen once cgroup.events says so.
        let wanted = dir.read("cgroup.freeze").unwrap_or_default() == "1";
        if !wanted {
            return Ok(Some(FreezerState::Thawed));
        }
        let Some(events) = dir.read("cgroup.events") else {
            return Ok(Some(FreezerState::Thawed));
        };
        let frozen = events.lines().any(|l| l.trim() == "frozen 1");
        Ok(match (wanted, frozen) {
            (true, true) => Some(FreezerState::Frozen),
            (false, false) => Some(FreezerState::Thawed),
            _ => None,
        })
    } else {
        Ok(match dir.read("freezer.state").as_deref() {
            Some("FROZEN") => Some(FreezerState::Frozen),
            Some("THAWED") | None => Some(FreezerState::Thawed),
            _ => None,
        })
    }
}
