//! The architectures a filter covers (`linux.seccomp.architectures`): the host's own, and on
//! an x86_64 host the two other ABIs its kernel runs, i386 (SCMP_ARCH_X86: its own syscall
//! numbers, its own audit architecture) and x32 (SCMP_ARCH_X32: x86_64's audit architecture,
//! numbers with bit 30 set), as libseccomp adds them to one filter.

use std::str::FromStr;

use oci_spec::runtime::{Arch, LinuxSeccomp};

pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// x32's syscalls are x86_64's numbers (or x32's own, from 512) with this bit set.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// One ABI's syscall numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    Native,
    X32,
    I386,
}

/// The ABIs the filter covers beside the native one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Listed {
    pub x32: bool,
    pub i386: bool,
}

/// From `architectures`; the native one is always covered. One this host's kernel cannot run
/// (ARM on x86_64, say) can never be seen in a filter and is left out.
pub fn listed(s: &LinuxSeccomp) -> Listed {
    let mut l = Listed::default();
    for a in s.architectures().iter().flatten() {
        match a {
            Arch::ScmpArchX86 if cfg!(target_arch = "x86_64") => l.i386 = true,
            Arch::ScmpArchX32 if cfg!(target_arch = "x86_64") => l.x32 = true,
            _ => {}
        }
    }
    l
}

/// The names husk can filter for, as `features` lists them.
pub fn supported() -> Vec<&'static str> {
    if cfg!(target_arch = "x86_64") {
        vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    } else if cfg!(target_arch = "aarch64") {
        vec!["SCMP_ARCH_AARCH64"]
    } else {
        vec!["SCMP_ARCH_RISCV64"]
    }
}

/// The number of syscall `name` in `abi`, as the kernel sees it in seccomp_data.nr.
pub fn number(abi: Abi, name: &str) -> Option<u32> {
    match abi {
        Abi::Native => syscalls::Sysno::from_str(name).ok().map(|n| n.id() as u32),
        Abi::I386 => i386(name),
        Abi::X32 => x32(name).map(|n| n | X32_SYSCALL_BIT),
    }
}

#[cfg(target_arch = "x86_64")]
fn i386(name: &str) -> Option<u32> {
    syscalls::x86::Sysno::from_str(name)
        .ok()
        .map(|n| n.id() as u32)
}

#[cfg(not(target_arch = "x86_64"))]
fn i386(_name: &str) -> Option<u32> {
    None
}

/// x32 takes x86_64's numbers, except for the calls whose arguments differ for a 32-bit
/// process: those have numbers of x32's own from 512 (the kernel's syscall_64.tbl, "x32"
/// lines), and x86_64's number for them does not exist on x32.
fn x32(name: &str) -> Option<u32> {
    const OWN: [(&str, u32); 36] = [
        ("rt_sigaction", 512),
        ("rt_sigreturn", 513),
        ("ioctl", 514),
        ("readv", 515),
        ("writev", 516),
        ("recvfrom", 517),
        ("sendmsg", 518),
        ("recvmsg", 519),
        ("execve", 520),
        ("ptrace", 521),
        ("rt_sigpending", 522),
        ("rt_sigtimedwait", 523),
        ("rt_sigqueueinfo", 524),
        ("sigaltstack", 525),
        ("timer_create", 526),
        ("mq_notify", 527),
        ("kexec_load", 528),
        ("waitid", 529),
        ("set_robust_list", 530),
        ("get_robust_list", 531),
        ("vmsplice", 532),
        ("move_pages", 533),
        ("preadv", 534),
        ("pwritev", 535),
        ("rt_tgsigqueueinfo", 536),
        ("recvmmsg", 537),
        ("sendmmsg", 538),
        ("process_vm_readv", 539),
        ("process_vm_writev", 540),
        ("setsockopt", 541),
        ("getsockopt", 542),
        ("io_setup", 543),
        ("io_submit", 544),
        ("execveat", 545),
        ("preadv2", 546),
        ("pwritev2", 547),
    ];
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    match OWN.iter().find(|(n, _)| *n == name) {
        Some((_, nr)) => Some(*nr),
        None => number(Abi::Native, name),
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn each_abi_numbers_its_calls() {
        assert_eq!(number(Abi::Native, "mkdir"), Some(83));
        assert_eq!(number(Abi::I386, "mkdir"), Some(39));
        assert_eq!(number(Abi::X32, "mkdir"), Some(83 | X32_SYSCALL_BIT));
        assert_eq!(number(Abi::X32, "readv"), Some(515 | X32_SYSCALL_BIT));
        assert_eq!(number(Abi::I386, "socketcall"), Some(102));
        assert_eq!(number(Abi::Native, "socketcall"), None);
    }
}
