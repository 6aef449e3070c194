//! `husk pause` / `husk resume`: freeze and thaw every process of the container through its
//! cgroup's freezer (v1 freezer.state, v2 cgroup.freeze).

use husk_cgroups::FreezerState;
use husk_spec::Status;

use crate::state::Store;
use crate::Error;

pub fn pause(store: &Store, id: &str) -> Result<(), Error> {
    set(store, id, FreezerState::Frozen)
}

pub fn resume(store: &Store, id: &str) -> Result<(), Error> {
    set(store, id, FreezerState::Thawed)
}

fn set(store: &Store, id: &str, wanted: FreezerState) -> Result<(), Error> {
    crate::state::validate_id(id)?;
    let dir = store.open(id)?;
    let stored = dir.load()?;
    let status = dir.status(&stored);
    // runc: pause needs a running (or created) container, resume a paused one.
    let ok = match wanted {
        FreezerState::Frozen => matches!(status, Status::Running | Status::Created),
        FreezerState::Thawed => status == Status::Paused,
    };
    if !ok {
        return Err(match wanted {
            FreezerState::Frozen => Error::NotRunning {
                id: id.to_string(),
                status,
            },
            FreezerState::Thawed => Error::NotPaused {
                id: id.to_string(),
                status,
            },
        });
    }
    let cg = stored.cgroup.as_ref().ok_or_else(|| Error::NoCgroup {
        id: id.to_string(),
        what: "pause and resume",
    })?;
    cg.set_freezer(wanted)?;
    Ok(())
}
