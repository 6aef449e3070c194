//! The BPF that husk writes itself around seccompiler's filters: the dispatch on the
//! architecture, ranges of consecutive syscall numbers, and the chaining of one filter per
//! action into one program.

use seccompiler::{sock_filter, BpfProgram};

use super::{arch, Action};

pub(super) const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub(super) const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
pub(super) const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub(super) const SECCOMP_RET_ACTION_FULL: u32 = 0xffff_0000;
/// The TRACE data that marks a NOTIFY return in seccompiler's output.
pub(super) const NOTIFY_MARKER: u32 = 0xfeed;
pub(super) const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
pub(super) const BPF_JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub(super) const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub(super) const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K

/// Jump to the native section, or to i386's, by seccomp_data.arch; any other architecture
/// gets `default`. The sections follow, native first.
pub(super) fn dispatch(
    native_len: usize,
    i386_len: Option<usize>,
    default: &Action,
) -> Vec<sock_filter> {
    let ins = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    let len = if i386_len.is_some() { 6 } else { 4 };
    let mut out = vec![
        ins(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
        ins(JEQ_K, 0, 1, native_audit_arch()),
        ins(BPF_JA, 0, 0, (len - 3) as u32),
    ];
    if i386_len.is_some() {
        out.push(ins(JEQ_K, 0, 1, arch::AUDIT_ARCH_I386));
        out.push(ins(BPF_JA, 0, 0, (len - 5 + native_len) as u32));
    }
    out.push(ins(BPF_RET_K, 0, 0, default.ret()));
    out
}

/// AUDIT_ARCH_* of the architecture husk runs on.
pub(super) fn native_audit_arch() -> u32 {
    #[cfg(target_arch = "x86_64")]
    return 0xc000_003e;
    #[cfg(target_arch = "aarch64")]
    return 0xc000_00b7;
    #[cfg(target_arch = "riscv64")]
    return 0xc000_00f3;
}

/// `ret` for every number in `numbers` (sorted), a range of consecutive ones at a time; the
/// others fall through past the end.
pub(super) fn ranges(numbers: &[i64], ret: u32) -> Vec<sock_filter> {
    const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
    let ins = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    let mut out = Vec::new();
    if numbers.is_empty() {
        return out;
    }
    out.push(ins(LD_W_ABS, 0, 0, 0)); // seccomp_data.nr
    let mut i = 0;
    while i < numbers.len() {
        let lo = numbers[i];
        let mut hi = lo;
        while i + 1 < numbers.len() && numbers[i + 1] == hi + 1 {
            i += 1;
            hi += 1;
        }
        let (lo, hi) = (lo as u32, hi as u32);
        if lo == hi {
            out.push(ins(JEQ_K, 0, 1, lo));
        } else {
            out.push(ins(JGE_K, 0, 2, lo));
            out.push(ins(JGT_K, 1, 0, hi));
        }
        out.push(ins(BPF_RET_K, 0, 0, ret));
        i += 1;
    }
    out
}

/// Chain the filters into one program: in every filter but the last, "allow" jumps to the
/// start of the next one. The NOTIFY marker becomes SECCOMP_RET_USER_NOTIF.
pub(super) fn chain(parts: Vec<BpfProgram>, notify: bool) -> Vec<sock_filter> {
    if parts.is_empty() {
        return vec![sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ALLOW,
        }];
    }
    let last = parts.len() - 1;
    let mut out = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let len = part.len();
        for (pc, mut ins) in part.into_iter().enumerate() {
            if ins.code == BPF_RET_K {
                if i != last && ins.k == SECCOMP_RET_ALLOW {
                    ins = sock_filter {
                        code: BPF_JA,
                        jt: 0,
                        jf: 0,
                        k: (len - pc - 1) as u32,
                    };
                } else if notify && ins.k == SECCOMP_RET_TRACE | NOTIFY_MARKER {
                    ins.k = SECCOMP_RET_USER_NOTIF;
                }
            }
            out.push(ins);
        }
    }
    out
}
