//! `process.ioPriority`: the process's I/O scheduling class and level (ioprio_set(2)).

use oci_spec::runtime::{IOPriorityClass, LinuxIOPriority};

use crate::error::{fail, StepContext, SysError};
use crate::sys;

const IOPRIO_CLASS_SHIFT: i32 = 13;

pub fn apply(p: &LinuxIOPriority) -> Result<(), SysError> {
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let level = p.priority();
    if !(0..=7).contains(&level) {
        return Err(fail(
            "process.ioPriority.priority",
            format!("{level} is out of range 0..7"),
        ));
    }
    sys::ioprio_set_self(class << IOPRIO_CLASS_SHIFT | level as i32)
        .step(|| format!("process.ioPriority {:?} {level}", p.class()))
}
