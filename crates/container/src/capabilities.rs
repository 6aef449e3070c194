//! `process.capabilities`: the bounding, effective, permitted, inheritable and ambient sets.

use std::str::FromStr;

use caps::{CapSet, Capability};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::error::{fail, StepContext, SysError};
use crate::sys::{self, CapSets};

/// The sets as masks; a capability this kernel does not know is left out (with a debug log),
/// as runc does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapPlan {
    pub bounding: u64,
    pub sets: CapSets,
    pub ambient: Vec<Capability>,
}

fn to_caps(set: &Option<Capabilities>, last_cap: u8) -> Result<Vec<Capability>, SysError> {
    let mut out = Vec::new();
    for c in set.iter().flatten() {
        let name = format!("CAP_{c}");
        let cap = Capability::from_str(&name).map_err(|e| fail(format!("capability {name}"), e))?;
        if cap.index() > last_cap {
            tracing::debug!("{name} is not known to this kernel; left out");
            continue;
        }
        out.push(cap);
    }
    Ok(out)
}

fn mask(caps: &[Capability]) -> u64 {
    caps.iter().fold(0, |m, c| m | c.bitmask())
}

impl CapPlan {
    pub fn from_spec(c: Option<&LinuxCapabilities>) -> Result<CapPlan, SysError> {
        let last = caps::runtime::procfs_all_supported(None)
            .map(|s| s.iter().map(|c| c.index()).max().unwrap_or(40))
            .unwrap_or(40);
        let Some(c) = c else {
            // No capabilities object: the process gets none.
            return Ok(CapPlan::default());
        };
        let ambient = to_caps(c.ambient(), last)?;
        Ok(CapPlan {
            bounding: mask(&to_caps(c.bounding(), last)?),
            sets: CapSets {
                effective: mask(&to_caps(c.effective(), last)?),
                permitted: mask(&to_caps(c.permitted(), last)?),
                inheritable: mask(&to_caps(c.inheritable(), last)?),
            },
            ambient,
        })
    }

    /// The ambient capabilities the kernel will not raise because they are not both permitted
    /// and inheritable: runc warns of each and goes on; so does husk, from the runtime's side,
    /// where the warning reaches the user (the init's stderr is the container's).
    pub fn warn_unraisable_ambient(&self) {
        let both = self.sets.permitted & self.sets.inheritable;
        for cap in &self.ambient {
            if both & cap.bitmask() == 0 {
                tracing::warn!(
                    "can't raise ambient capability {cap}: it is not in both the permitted and \
                     the inheritable set"
                );
            }
        }
    }

    /// Every capability asked for the effective, permitted, inheritable or ambient set is one
    /// this process can still have (it is in its bounding set): checked before the container
    /// is reported created, so that a capability that cannot be granted (husk's caller does
    /// not hold it) fails `create`, as the spec wants, not `start`.
    pub fn check_obtainable(&self) -> Result<(), SysError> {
        let bounding =
            caps::read(None, CapSet::Bounding).map_err(|e| fail("reading the bounding set", e))?;
        let have = mask(&bounding.into_iter().collect::<Vec<_>>());
        let sets = [
            ("effective", self.sets.effective),
            ("permitted", self.sets.permitted),
            ("inheritable", self.sets.inheritable),
            ("ambient", mask(&self.ambient)),
        ];
        for (set, wanted) in sets {
            let missing = wanted & !have;
            if missing != 0 {
                let names: Vec<String> = caps::all()
                    .into_iter()
                    .filter(|c| missing & c.bitmask() != 0)
                    .map(|c| c.to_string())
                    .collect();
                return Err(fail(
                    format!("process.capabilities.{set}"),
                    format!(
                        "{} cannot be granted: not in the bounding set husk runs with",
                        names.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Drop everything outside the bounding set (needs CAP_SETPCAP, so before the user switch).
    pub fn apply_bounding(&self) -> Result<(), SysError> {
        let all = caps::runtime::procfs_all_supported(None).unwrap_or_else(|_| caps::all());
        for cap in all {
            if self.bounding & cap.bitmask() == 0 {
                caps::drop(None, CapSet::Bounding, cap)
                    .map_err(|e| fail(format!("dropping {cap} from the bounding set"), e))?;
            }
        }
        Ok(())
    }

    /// Set effective, permitted and inheritable at once, then the ambient set (after the user
    /// switch, with keep-caps set across it).
    pub fn apply_sets(&self) -> Result<(), SysError> {
        sys::capset(self.sets).step(|| format!("setting capabilities {:?}", self.sets))?;
        caps::clear(None, CapSet::Ambient).map_err(|e| fail("clearing the ambient set", e))?;
        for cap in &self.ambient {
            // The kernel raises an ambient capability only if it is permitted and inheritable;
            // runc's default config lists ambient ones that are not inheritable, and runc
            // ignores that failure. So does husk (logged at debug level: this runs in the
            // container's init, whose stderr belongs to the container).
            if let Err(e) = caps::raise(None, CapSet::Ambient, *cap) {
                tracing::debug!("can't raise ambient capability {cap}: {e}");
            }
        }
        Ok(())
    }
}
