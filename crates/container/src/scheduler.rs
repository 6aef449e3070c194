//! `process.scheduler`: policy, nice, priority, flags and the deadline parameters, set with
//! sched_setattr(2) before privileges are dropped (real-time policies need CAP_SYS_NICE).

use oci_spec::runtime::{LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler};

use crate::error::{fail, StepContext, SysError};
use crate::sys::{self, SchedAttr};

pub fn attr_of(s: &Scheduler) -> Result<SchedAttr, SysError> {
    use LinuxSchedulerPolicy as P;
    let policy = match s.policy() {
        P::SchedOther => 0,
        P::SchedFifo => 1,
        P::SchedRr => 2,
        P::SchedBatch => 3,
        P::SchedIso => 4,
        P::SchedIdle => 5,
        P::SchedDeadline => 6,
    };
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(fail(
            "process.scheduler.nice",
            format!("{nice} is out of range -20..19"),
        ));
    }
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    Ok(SchedAttr {
        policy,
        flags,
        nice,
        priority: u32::try_from(s.priority().unwrap_or(0))
            .map_err(|_| fail("process.scheduler.priority", "must not be negative"))?,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..SchedAttr::default()
    })
}

/// `cpuset_cpus`: the container's `linux.resources.cpu.cpus`, which explains an EPERM (the
/// kernel refuses SCHED_DEADLINE to a task not allowed on every CPU) in runc's words.
pub fn apply(s: &Scheduler, cpuset_cpus: Option<&str>) -> Result<(), SysError> {
    let attr = attr_of(s)?;
    match sys::sched_setattr_self(attr) {
        Err(e)
            if e.raw_os_error() == Some(libc::EPERM)
                && cpuset_cpus.is_some_and(|c| !c.is_empty()) =>
        {
            Err(fail(
                format!("process.scheduler {:?}", s.policy()),
                "process scheduler can't be used together with AllowedCPUs \
                 (linux.resources.cpu.cpus: the kernel gives SCHED_DEADLINE only to a task \
                 allowed on every CPU)",
            ))
        }
        other => other.step(|| format!("process.scheduler {:?}", s.policy())),
    }
}
