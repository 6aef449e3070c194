//! `linux.personality`: the execution domain of the container's processes (personality(2)).

use oci_spec::runtime::{LinuxPersonality, LinuxPersonalityDomain};

use crate::error::{fail, StepContext, SysError};
use crate::sys;

const PER_LINUX: libc::c_ulong = 0x0000;
const PER_LINUX32: libc::c_ulong = 0x0008;

pub fn apply(p: &LinuxPersonality) -> Result<(), SysError> {
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        // The spec defines no flag values yet.
        return Err(fail(
            "linux.personality.flags",
            "no flags are defined; must be empty",
        ));
    }
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    sys::personality(persona).step(|| format!("linux.personality.domain {:?}", p.domain()))
}
