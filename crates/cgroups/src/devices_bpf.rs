//! The device list on cgroup v2: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE,
//! generated from the rules and attached to the container's cgroup (the kernel has no
//! devices.allow file on v2). The program follows runc's devicefilter: rules are checked
//! last to first, the first match returns its verdict, and no match denies.
//!
//! Loading needs no RLIMIT_MEMLOCK raise: since Linux 5.11 BPF memory is charged to the
//! memory cgroup, and these machines cannot raise the limit anyway.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::devices::DeviceRule;
use crate::hierarchy::CgroupError;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

// bpf_cgroup_dev_ctx: access_type = (access << 16) | type, then major, then minor.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// One eBPF instruction, as the kernel reads it.
#[derive(Clone, Copy)]
struct Insn {
    code: u8,
    regs: u8, // dst in the low nibble, src in the high one
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

// Opcodes used (class | op | source).
const LDX_MEM_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JMP_JNE_K: u8 = 0x55;
const JMP_JNE_X: u8 = 0x5d;
const JMP_EXIT: u8 = 0x95;

/// The program for `rules` (in config order: a later rule overrides an earlier one).
fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),        // r2 = ctx->access_type
        insn(ALU32_AND_K, 2, 0, 0, 0xffff), // r2 = type
        insn(LDX_MEM_W, 3, 1, 0, 0),        // r3 = ctx->access_type
        insn(ALU32_RSH_K, 3, 0, 0, 16),     // r3 = access
        insn(LDX_MEM_W, 4, 1, 4, 0),        // r4 = major
        insn(LDX_MEM_W, 5, 1, 8, 0),        // r5 = minor
    ];
    for rule in rules.iter().rev() {
        let block = rule_block(rule);
        let unconditional = block.len() == 2;
        p.extend(block);
        if unconditional {
            // It matches every access: whatever follows is unreachable, and the verifier
            // refuses unreachable instructions.
            return p;
        }
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, 0)); // nothing matched: deny
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

/// The checks of one rule; each failed check jumps past the block (to the next rule).
fn rule_block(rule: &DeviceRule) -> Vec<Insn> {
    // Jumps are filled with their target once the block's length is known.
    let mut checks: Vec<Insn> = Vec::new();
    let kind = match rule.kind {
        'c' => Some(DEV_CHAR),
        'b' => Some(DEV_BLOCK),
        _ => None,
    };
    if let Some(k) = kind {
        checks.push(insn(JMP_JNE_K, 2, 0, 0, k));
    }
    let access = rule.access.chars().fold(0, |a, c| {
        a | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    });
    if access != ACC_READ | ACC_WRITE | ACC_MKNOD {
        // The requested access must be within the rule's: (r3 & access) == r3.
        checks.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
        checks.push(insn(ALU32_AND_K, 1, 0, 0, access));
        checks.push(insn(JMP_JNE_X, 1, 3, 0, 0));
    }
    if rule.kind != 'a' {
        if let Some(major) = rule.major.filter(|m| *m >= 0) {
            checks.push(insn(JMP_JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor.filter(|m| *m >= 0) {
            checks.push(insn(JMP_JNE_K, 5, 0, 0, minor as i32));
        }
    }
    checks.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(rule.allow)));
    checks.push(insn(JMP_EXIT, 0, 0, 0, 0));
    let len = checks.len();
    for (i, c) in checks.iter_mut().enumerate() {
        if c.code == JMP_JNE_K || c.code == JMP_JNE_X {
            c.off = (len - i - 1) as i16;
        }
    }
    checks
}

fn encode(prog: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prog.len() * 8);
    for i in prog {
        out.push(i.code);
        out.push(i.regs);
        out.extend_from_slice(&i.off.to_le_bytes());
        out.extend_from_slice(&i.imm.to_le_bytes());
    }
    out
}

fn bpf(cmd: libc::c_long, attr: &mut [u64; 16]) -> std::io::Result<i64> {
    // SAFETY: `attr` is a zeroed, 8-byte-aligned 128-byte bpf_attr that lives across the
    // call; the pointers stored in it (by the callers) point to buffers that outlive it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(attr),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn apply_error(dir: &Path, what: &str, source: std::io::Error) -> CgroupError {
    CgroupError::Apply {
        field: "linux.resources.devices".into(),
        path: dir.to_path_buf(),
        value: what.into(),
        source,
    }
}

/// Load the program for `rules` and attach it to the cgroup directory `dir`.
pub(crate) fn attach(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    let cgroup = std::fs::File::open(dir).map_err(|e| apply_error(dir, "opening the cgroup", e))?;
    let prog = load(dir, rules)?;
    attach_fd(dir, &cgroup, &prog)
}

/// Replace the device program of `dir` with one for `rules`, without a moment when no
/// program holds: the new one is attached first (programs attached together must all allow
/// an access), then the ones that were there are detached.
pub(crate) fn replace(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    let cgroup = std::fs::File::open(dir).map_err(|e| apply_error(dir, "opening the cgroup", e))?;
    let old = attached(dir, &cgroup)?;
    let prog = load(dir, rules)?;
    attach_fd(dir, &cgroup, &prog)?;
    for id in old {
        let mut attr = [0u64; 16];
        attr[0] = u64::from(id);
        let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)
            .map_err(|e| apply_error(dir, "opening the old device program", e))?;
        // SAFETY: a successful BPF_PROG_GET_FD_BY_ID returns a new descriptor nothing owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let mut attr = [0u64; 16];
        attr[0] = u64::from(cgroup.as_raw_fd() as u32) | (u64::from(fd.as_raw_fd() as u32) << 32);
        attr[1] = u64::from(BPF_CGROUP_DEVICE);
        bpf(BPF_PROG_DETACH, &mut attr)
            .map_err(|e| apply_error(dir, "detaching the old device program", e))?;
    }
    Ok(())
}

fn load(dir: &Path, rules: &[DeviceRule]) -> Result<OwnedFd, CgroupError> {
    let insns = encode(&program(rules));
    let license = CString::new("Apache-2.0").unwrap_or_default();
    let mut attr = [0u64; 16];
    // prog_type, insn_cnt | insns | license (u32 fields packed two to a u64, little endian).
    attr[0] = u64::from(BPF_PROG_TYPE_CGROUP_DEVICE) | (((insns.len() / 8) as u64) << 32);
    attr[1] = insns.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    let prog = bpf(BPF_PROG_LOAD, &mut attr)
        .map_err(|e| apply_error(dir, "loading the device program", e))?;
    // SAFETY: a successful BPF_PROG_LOAD returns a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(prog as i32) })
}

fn attach_fd(dir: &Path, cgroup: &std::fs::File, prog: &OwnedFd) -> Result<(), CgroupError> {
    let mut attr = [0u64; 16];
    // target_fd, attach_bpf_fd | attach_type, attach_flags.
    attr[0] = u64::from(cgroup.as_raw_fd() as u32) | (u64::from(prog.as_raw_fd() as u32) << 32);
    attr[1] = u64::from(BPF_CGROUP_DEVICE) | (u64::from(BPF_F_ALLOW_MULTI) << 32);
    bpf(BPF_PROG_ATTACH, &mut attr)
        .map_err(|e| apply_error(dir, "attaching the device program", e))?;
    Ok(())
}

/// The ids of the device programs attached to the cgroup itself.
fn attached(dir: &Path, cgroup: &std::fs::File) -> Result<Vec<u32>, CgroupError> {
    let mut ids = [0u32; 64];
    let mut attr = [0u64; 16];
    // target_fd, attach_type | query_flags, attach_flags | prog_ids | prog_cnt.
    attr[0] = u64::from(cgroup.as_raw_fd() as u32) | (u64::from(BPF_CGROUP_DEVICE) << 32);
    attr[2] = ids.as_mut_ptr() as u64;
    attr[3] = ids.len() as u64;
    bpf(BPF_PROG_QUERY, &mut attr)
        .map_err(|e| apply_error(dir, "listing the device programs", e))?;
    let count = (attr[3] & 0xffff_ffff) as usize;
    Ok(ids[..count.min(ids.len())].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the generated program on one access, as the kernel would: a tiny interpreter for
    /// the opcodes `program` emits.
    fn run(prog: &[Insn], kind: i32, access: i32, major: i32, minor: i32) -> i64 {
        let ctx = [((access << 16) | kind) as u32, major as u32, minor as u32];
        let mut r = [0i64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0x0f) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = i64::from(ctx[(i.off / 4) as usize]),
                ALU32_AND_K => r[dst] = i64::from((r[dst] as u32) & (i.imm as u32)),
                ALU32_RSH_K => r[dst] = i64::from((r[dst] as u32) >> i.imm),
                ALU32_MOV_X => r[dst] = i64::from(r[src] as u32),
                ALU64_MOV_K => r[dst] = i64::from(i.imm),
                JMP_JNE_K if r[dst] != i64::from(i.imm) => pc += i.off as usize,
                JMP_JNE_X if r[dst] != r[src] => pc += i.off as usize,
                JMP_JNE_K | JMP_JNE_X => {}
                JMP_EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    fn rule(
        allow: bool,
        kind: char,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    #[test]
    fn later_rules_win_and_nothing_matched_is_denied() {
        let p = program(&[
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(true, 'c', Some(5), None, "r"),
            rule(false, 'c', Some(5), Some(1), "rwm"),
        ]);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1);
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 1, 3), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 5, 0), 1);
        assert_eq!(
            run(&p, DEV_CHAR, ACC_WRITE, 5, 0),
            0,
            "only read was allowed"
        );
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 5, 1), 0, "the later deny wins");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 0), 0);
        let all = program(&[rule(true, 'a', None, None, "rwm")]);
        assert_eq!(run(&all, DEV_BLOCK, ACC_MKNOD, 8, 0), 1);
        assert_eq!(run(&program(&[]), DEV_CHAR, ACC_READ, 1, 3), 0);
        // A match-all rule ends the program: nothing unreachable after it.
        let p = program(&[
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
        ]);
        assert_eq!(p.last().unwrap().code, JMP_EXIT);
        assert_eq!(p.iter().filter(|i| i.code == JMP_EXIT).count(), 2);
    }
}
