//! `process.rlimits`.

use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use crate::error::{StepContext, SysError};
use crate::sys;

fn resource(t: PosixRlimitType) -> u32 {
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => libc::RLIMIT_CPU,
        T::RlimitFsize => libc::RLIMIT_FSIZE,
        T::RlimitData => libc::RLIMIT_DATA,
        T::RlimitStack => libc::RLIMIT_STACK,
        T::RlimitCore => libc::RLIMIT_CORE,
        T::RlimitRss => libc::RLIMIT_RSS,
        T::RlimitNproc => libc::RLIMIT_NPROC,
        T::RlimitNofile => libc::RLIMIT_NOFILE,
        T::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        T::RlimitAs => libc::RLIMIT_AS,
        T::RlimitLocks => libc::RLIMIT_LOCKS,
        T::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        T::RlimitNice => libc::RLIMIT_NICE,
        T::RlimitRtprio => libc::RLIMIT_RTPRIO,
        T::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// Set each limit. Raising a hard limit needs CAP_SYS_RESOURCE; the error says which limit.
pub fn apply(limits: &[PosixRlimit]) -> Result<(), SysError> {
    for l in limits {
        sys::setrlimit(resource(l.typ()), l.soft(), l.hard())
            .step(|| format!("setting {} to soft {} hard {}", l.typ(), l.soft(), l.hard()))?;
    }
    Ok(())
}
