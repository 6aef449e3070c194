//! `linux.seccomp`: the spec's filter as one BPF program, built with seccompiler.
//!
//! seccompiler gives one match action per filter. The spec gives each rule its own action, so
//! husk builds one seccompiler filter per distinct action (rules of that action match it,
//! everything else "allows"), orders them as the kernel ranks actions (KILL_PROCESS first,
//! LOG last), and chains them into one program: each filter's ALLOW becomes a jump to the next
//! filter. The last filter holds every rule's syscall and conditions: a syscall that matched
//! none gets `defaultAction`. So the highest-ranked action among the matching rules wins, as
//! with libseccomp, and the whole program is loaded by one seccomp(2) call, late, just before
//! exec. SCMP_ACT_NOTIFY has no seccompiler action: it is generated as a TRACE with a marker
//! and rewritten to SECCOMP_RET_USER_NOTIF.
//!
//! The program starts with a dispatch on the architecture: a section of chained filters for
//! the native one (x32's numbers in it), one for i386 when the profile lists it (arch.rs), and
//! `defaultAction` for any other. bpf.rs writes that dispatch, the ranges and the chaining;
//! listener.rs hands the notify fd to `listenerPath`'s agent.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use crate::error::{StepContext, SysError};
use crate::sys;

mod arch;
mod bpf;
mod listener;
pub use arch::supported as supported_architectures;
use arch::Abi;
use bpf::*;
pub use listener::{connect_listener, send_to_listener};

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("linux.seccomp.syscalls[{index}].args[{arg}]: {why}")]
    Arg {
        index: usize,
        arg: usize,
        why: String,
    },
    #[error("linux.seccomp: {0}")]
    Invalid(String),
    #[error("linux.seccomp: building the filter: {0}")]
    Build(String),
}

pub const FLAG_LOG: u32 = 2;
pub const FLAG_SPEC_ALLOW: u32 = 4;
pub const FLAG_NEW_LISTENER: u32 = 8;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// An action as husk generates it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Plain(SeccompAction),
    Notify,
}

impl Action {
    fn from_spec(a: LinuxSeccompAction, errno: Option<u32>) -> Action {
        use LinuxSeccompAction as A;
        let errno = errno.unwrap_or(libc::EPERM as u32);
        Action::Plain(match a {
            A::ScmpActKill | A::ScmpActKillThread => SeccompAction::KillThread,
            A::ScmpActKillProcess => SeccompAction::KillProcess,
            A::ScmpActTrap => SeccompAction::Trap,
            A::ScmpActErrno => SeccompAction::Errno(errno),
            A::ScmpActTrace => SeccompAction::Trace(errno),
            A::ScmpActLog => SeccompAction::Log,
            A::ScmpActAllow => SeccompAction::Allow,
            A::ScmpActNotify => return Action::Notify,
        })
    }
    /// What seccompiler generates for it.
    fn generated(&self) -> SeccompAction {
        match self {
            Action::Plain(a) => a.clone(),
            Action::Notify => SeccompAction::Trace(NOTIFY_MARKER),
        }
    }
    /// The kernel's return value: its rank is the signed value of the action bits.
    fn ret(&self) -> u32 {
        match self {
            Action::Plain(a) => u32::from(a.clone()),
            Action::Notify => SECCOMP_RET_USER_NOTIF,
        }
    }
    fn rank(&self) -> i32 {
        (self.ret() & SECCOMP_RET_ACTION_FULL) as i32
    }
}

/// The rules of one syscall: always, or when one of these condition sets holds.
#[derive(Debug, Clone)]
enum Chain {
    Always,
    When(Vec<SeccompRule>),
}

impl Chain {
    fn add(&mut self, rule: Option<SeccompRule>) {
        match (self, rule) {
            (Chain::Always, _) => {}
            (this, None) => *this = Chain::Always,
            (Chain::When(v), Some(r)) => v.push(r),
        }
    }
}

type Rules = BTreeMap<i64, Chain>;

fn add(rules: &mut Rules, nr: i64, rule: Option<SeccompRule>) {
    match rules.get_mut(&nr) {
        Some(chain) => chain.add(rule),
        None => {
            let chain = match rule {
                None => Chain::Always,
                Some(r) => Chain::When(vec![r]),
            };
            rules.insert(nr, chain);
        }
    }
}

/// The compiled filter and how to load it.
#[derive(Debug, Clone)]
pub struct SeccompPlan {
    pub program: Vec<sock_filter>,
    pub flags: u32,
    pub notify: bool,
    pub listener: Option<Listener>,
}

/// Where the notify fd goes (`listenerPath`), with `listenerMetadata`.
#[derive(Debug, Clone)]
pub struct Listener {
    pub path: PathBuf,
    pub metadata: String,
}

fn target_arch() -> TargetArch {
    #[cfg(target_arch = "aarch64")]
    return TargetArch::aarch64;
    #[cfg(target_arch = "riscv64")]
    return TargetArch::riscv64;
    #[cfg(target_arch = "x86_64")]
    return TargetArch::x86_64;
}

/// The config's rules grouped by action, and every rule together (for the default filter,
/// which must let through what some rule decides), with the syscall numbers of `abis`.
fn rules_by_action(
    s: &LinuxSeccomp,
    abis: &[Abi],
) -> Result<(Vec<(Action, Rules)>, Rules), SeccompError> {
    let mut by_action: Vec<(Action, Rules)> = Vec::new();
    let mut every_rule: Rules = BTreeMap::new();
    for (index, sc) in s.syscalls().iter().flatten().enumerate() {
        let action = Action::from_spec(sc.action(), sc.errno_ret());
        if action == Action::Notify && sc.names().iter().any(|n| n == "write") {
            // The init would wait on an agent that may need the init's own writes (runc
            // refuses it in the same words).
            return Err(SeccompError::Invalid(format!(
                "syscalls[{index}]: SCMP_ACT_NOTIFY cannot be used for the write syscall"
            )));
        }
        let rules = rules_of(index, sc.args().as_deref().unwrap_or_default())?;
        let slot = match by_action.iter().position(|(a, _)| *a == action) {
            Some(i) => i,
            None => {
                by_action.push((action.clone(), BTreeMap::new()));
                by_action.len() - 1
            }
        };
        for (name, abi) in sc
            .names()
            .iter()
            .flat_map(|n| abis.iter().map(move |a| (n, *a)))
        {
            let Some(nr) = arch::number(abi, name) else {
                tracing::debug!("seccomp: syscall {name:?} is unknown on {abi:?}; skipped");
                continue;
            };
            for rule in &rules {
                add(&mut by_action[slot].1, i64::from(nr), rule.clone());
                add(&mut every_rule, i64::from(nr), rule.clone());
            }
        }
    }
    Ok((by_action, every_rule))
}

/// The whole program: a dispatch on the architecture, then a section for the native one (with
/// x32's numbers in it when listed: x32 shares x86_64's audit architecture) and one for
/// i386 when listed; a syscall of an architecture not listed gets `defaultAction` (as the
/// issue of runtime-spec asks; libseccomp's "bad arch" action). Refused by name when over
/// the kernel's BPF_MAXINSNS (rather than as EINVAL at load).
fn program_of(
    s: &LinuxSeccomp,
    default: &Action,
    notify: bool,
) -> Result<BpfProgram, SeccompError> {
    let listed = arch::listed(s);
    let mut native_abis = vec![Abi::Native];
    if listed.x32 {
        native_abis.push(Abi::X32);
    }
    let native = section(s, default, &native_abis, notify)?;
    let i386 = match listed.i386 {
        true => Some(section(s, default, &[Abi::I386], notify)?),
        false => None,
    };
    let mut program = dispatch(native.len(), i386.as_ref().map(Vec::len), default);
    program.extend(native);
    program.extend(i386.into_iter().flatten());
    if program.len() > 4096 {
        return Err(SeccompError::Invalid(format!(
            "the filter compiles to {} BPF instructions, more than the kernel's 4096",
            program.len()
        )));
    }
    Ok(program)
}

/// One architecture's section: one filter per action, highest-ranked first, the default
/// filter last, chained behind the ENOSYS stub.
fn section(
    s: &LinuxSeccomp,
    default: &Action,
    abis: &[Abi],
    notify: bool,
) -> Result<Vec<sock_filter>, SeccompError> {
    let (mut by_action, every_rule) = rules_by_action(s, abis)?;
    by_action.retain(|(a, _)| *a != Action::Plain(SeccompAction::Allow));
    by_action.sort_by_key(|(a, _)| a.rank());
    let mut parts: Vec<BpfProgram> = Vec::new();
    for (action, rules) in by_action {
        parts.push(build(rules, SeccompAction::Allow, action.generated())?);
    }
    if *default != Action::Plain(SeccompAction::Allow) {
        parts.push(build(
            every_rule,
            default.generated(),
            SeccompAction::Allow,
        )?);
    }
    let mut program = enosys_stub(s, default, abis[0]);
    program.extend(chain(parts, notify));
    Ok(program)
}

/// seccomp(2)'s flags. Without a `flags` field, SPEC_ALLOW, as runc sets it: a filtered
/// process keeps the kernel's default speculative-store-bypass handling instead of seccomp's
/// forced mitigation. `"flags": []` means none.
fn filter_flags(s: &LinuxSeccomp, notify: bool) -> u32 {
    let mut flags = if s.flags().is_none() {
        FLAG_SPEC_ALLOW
    } else {
        0
    };
    for f in s.flags().iter().flatten() {
        flags |= match f {
            // Accepted and left out, as runc does: the init loads its filter while it is
            // single-threaded, so there are no other threads to synchronise.
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => 0,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv if notify => {
                FLAG_WAIT_KILLABLE_RECV
            }
            // Without a listener the kernel refuses it; it has nothing to apply to.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    if notify {
        flags |= FLAG_NEW_LISTENER;
    }
    flags
}

fn condition(a: &oci_spec::runtime::LinuxSeccompArg) -> Result<SeccompCondition, String> {
    use LinuxSeccompOperator as O;
    let (op, value) = match a.op() {
        O::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
        O::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
        O::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
        O::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
        O::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
        O::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
        // libseccomp: (arg & value) == valueTwo.
        O::ScmpCmpMaskedEq => (
            SeccompCmpOp::MaskedEq(a.value()),
            a.value_two().unwrap_or(0),
        ),
    };
    let index = u8::try_from(a.index()).map_err(|_| "index must be 0..5".to_string())?;
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value).map_err(|e| e.to_string())
}

impl SeccompPlan {
    /// Compile `linux.seccomp` for this host's architecture.
    pub fn compile(s: &LinuxSeccomp) -> Result<SeccompPlan, SeccompError> {
        let default = Action::from_spec(s.default_action(), s.default_errno_ret());
        let (by_action, _) = rules_by_action(s, &[Abi::Native])?;
        let has_notify_rules = by_action.iter().any(|(a, _)| *a == Action::Notify);
        if default == Action::Notify && has_notify_rules {
            return Err(SeccompError::Invalid(
                "SCMP_ACT_NOTIFY as both defaultAction and a rule's action is not supported".into(),
            ));
        }
        let notify = default == Action::Notify || has_notify_rules;
        let listener = s.listener_path().as_ref().map(|p| Listener {
            path: p.clone(),
            metadata: s.listener_metadata().clone().unwrap_or_default(),
        });
        if notify && listener.is_none() {
            return Err(SeccompError::Invalid(
                "SCMP_ACT_NOTIFY needs listenerPath".into(),
            ));
        }
        let program = program_of(s, &default, notify)?;
        Ok(SeccompPlan {
            program,
            flags: filter_flags(s, notify),
            notify,
            listener,
        })
    }

    /// Load the program (needs no_new_privs or CAP_SYS_ADMIN); the notify fd if it has one.
    /// A flag this kernel lacks (WAIT_KILLABLE_RECV before 5.19) is dropped, as libseccomp does.
    pub fn load(&self) -> Result<Option<OwnedFd>, SysError> {
        match sys::seccomp_load(&self.program, self.flags) {
            Err(e)
                if e.raw_os_error() == Some(libc::EINVAL)
                    && self.flags & FLAG_WAIT_KILLABLE_RECV != 0 =>
            {
                tracing::debug!("seccomp: the kernel lacks WAIT_KILLABLE_RECV; loading without");
                sys::seccomp_load(&self.program, self.flags & !FLAG_WAIT_KILLABLE_RECV)
            }
            r => r,
        }
        .step(|| {
            format!(
                "linux.seccomp: loading the filter ({} instructions)",
                self.program.len()
            )
        })
    }
}

/// The rules of one syscall entry: none for no conditions (always), else one rule with all of
/// them (ANDed). When one argument has several conditions, each condition is a rule of its own
/// (ORed), as runc and libseccomp read such an entry: `arg0 == 100, arg0 == 9001` matches
/// either value.
fn rules_of(
    index: usize,
    args: &[oci_spec::runtime::LinuxSeccompArg],
) -> Result<Vec<Option<SeccompRule>>, SeccompError> {
    let mut conditions = Vec::new();
    for (arg, a) in args.iter().enumerate() {
        conditions.push(condition(a).map_err(|why| SeccompError::Arg { index, arg, why })?);
    }
    if conditions.is_empty() {
        return Ok(vec![None]);
    }
    let new_rule = |c: Vec<SeccompCondition>| {
        SeccompRule::new(c).map_err(|e| SeccompError::Build(e.to_string()))
    };
    let mut indices: Vec<usize> = args.iter().map(|a| a.index()).collect();
    indices.sort_unstable();
    let repeats = indices.windows(2).any(|w| w[0] == w[1]);
    if repeats {
        conditions
            .into_iter()
            .map(|c| new_rule(vec![c]).map(Some))
            .collect()
    } else {
        Ok(vec![Some(new_rule(conditions)?)])
    }
}

/// runc's -ENOSYS stub: a syscall numbered above every syscall the profile names, in the
/// section's ABI, gets ENOSYS instead of the default action, so that a program probing for a
/// syscall newer than the profile falls back as it would on an older kernel (glibc's clone3,
/// say). x32's numbers (bit 30) go past it to the rules. Not when the default already allows,
/// or already is ENOSYS.
fn enosys_stub(s: &LinuxSeccomp, default: &Action, abi: Abi) -> Vec<sock_filter> {
    let allows = matches!(
        default,
        Action::Plain(SeccompAction::Allow | SeccompAction::Log)
    );
    if allows || s.default_errno_ret() == Some(libc::ENOSYS as u32) {
        return vec![];
    }
    let largest = s
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|sc| sc.names().iter())
        .filter_map(|name| arch::number(abi, name))
        .max();
    let Some(largest) = largest else {
        return vec![];
    };
    const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
    const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    let ins = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    vec![
        ins(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        ins(JSET_K, 2, 0, arch::X32_SYSCALL_BIT),
        ins(JGT_K, 0, 1, largest),
        ins(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
    ]
}

/// One filter: `matched` for the syscalls of `rules` (under their conditions), `mismatch` for
/// the rest. The syscalls without conditions, most of a profile, go first as ranges of
/// consecutive numbers (two comparisons a range, where seccompiler spends one a syscall:
/// Docker's profile fits the kernel's 4096 instructions with three architectures); those
/// with conditions follow, as seccompiler builds them.
fn build(
    rules: Rules,
    mismatch: SeccompAction,
    matched: SeccompAction,
) -> Result<BpfProgram, SeccompError> {
    let mut always = Vec::new();
    let mut conditional = BTreeMap::new();
    for (nr, chain) in rules {
        match chain {
            Chain::Always => always.push(nr),
            Chain::When(r) => {
                conditional.insert(nr, r);
            }
        }
    }
    let mut program = ranges(&always, u32::from(matched.clone()));
    let filter = SeccompFilter::new(conditional, mismatch, matched, target_arch())
        .map_err(|e| SeccompError::Build(e.to_string()))?;
    let mut rest: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| SeccompError::Build(e.to_string()))?;
    // seccompiler starts each filter with its own architecture check (load, compare, kill);
    // the dispatch has checked it once for the whole section.
    let check = rest.get(..3).map(|p| (p[0].code, p[0].k, p[2].code));
    if check != Some((LD_W_ABS, 4, BPF_RET_K)) {
        return Err(SeccompError::Build(
            "seccompiler's filter does not start with its architecture check".into(),
        ));
    }
    program.extend(rest.drain(3..));
    Ok(program)
}

/// Load the filter where the spec puts it and hand its notify fd to the agent. With
/// no_new_privs the caller loads it after dropping privileges (the last step before exec);
/// without, before (loading then needs CAP_SYS_ADMIN), as runc does.
pub fn install(
    plan: &SeccompPlan,
    listener: Option<&UnixStream>,
    state: &husk_spec::ContainerState,
    pid: i32,
) -> Result<(), SysError> {
    let notify_fd = plan.load()?;
    if let (Some(fd), Some(socket), Some(l)) = (notify_fd, listener, &plan.listener) {
        send_to_listener(
            socket,
            std::os::fd::AsFd::as_fd(&fd),
            pid,
            &l.metadata,
            state,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: serde_json::Value) -> SeccompPlan {
        let s: LinuxSeccomp = serde_json::from_value(json).unwrap();
        SeccompPlan::compile(&s).unwrap()
    }

    fn run(prog: &[sock_filter], nr: u32, args: [u64; 6]) -> u32 {
        run_arch(prog, 0xc000_003e, nr, args) // AUDIT_ARCH_X86_64
    }

    /// A tiny interpreter for the subset of classic BPF seccompiler emits, to check the
    /// composed program's answers without loading it.
    fn run_arch(prog: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u32; 16];
        data[0] = nr;
        data[1] = arch;
        for (i, a) in args.iter().enumerate() {
            data[4 + 2 * i] = *a as u32;
            data[5 + 2 * i] = (*a >> 32) as u32;
        }
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let ins = &prog[pc];
            match ins.code {
                0x20 => acc = data[ins.k as usize / 4], // LD W ABS
                0x54 => acc &= ins.k,                   // ALU AND K
                0x05 => pc += ins.k as usize,           // JA
                0x15 | 0x25 | 0x35 | 0x45 => {
                    let t = match ins.code {
                        0x15 => acc == ins.k,
                        0x25 => acc > ins.k,
                        0x35 => acc >= ins.k,
                        _ => acc & ins.k != 0,
                    };
                    pc += if t { ins.jt } else { ins.jf } as usize;
                }
                0x06 => return ins.k,
                c => panic!("unexpected BPF opcode {c:#x}"),
            }
            pc += 1;
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn each_rule_keeps_its_action_and_the_highest_ranked_wins() {
        let p = plan(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["write"], "action": "SCMP_ACT_KILL_PROCESS",
                 "args": [{"index": 0, "value": 99, "op": "SCMP_CMP_EQ"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_NOTIFY"},
                {"names": ["getuid"], "action": "SCMP_ACT_LOG"},
                {"names": ["no_such_syscall"], "action": "SCMP_ACT_ALLOW"}
            ],
            "listenerPath": "/run/agent.sock"
        }));
        let errno = |e: u32| 0x0005_0000 | e;
        assert_eq!(run(&p.program, 0, [0; 6]), SECCOMP_RET_ALLOW); // read
        assert_eq!(run(&p.program, 1, [1, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW); // write(1)
        assert_eq!(run(&p.program, 1, [99, 0, 0, 0, 0, 0]), 0x8000_0000); // write(99): kill
        assert_eq!(run(&p.program, 135, [8, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(run(&p.program, 135, [9, 0, 0, 0, 0, 0]), errno(38)); // default
        assert_eq!(
            run(&p.program, 56, [0x11, 0, 0, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        ); // clone
        assert_eq!(run(&p.program, 56, [0x1000_0000, 0, 0, 0, 0, 0]), errno(38)); // CLONE_NEWUSER
        assert_eq!(run(&p.program, 83, [0; 6]), errno(13)); // mkdir
        assert_eq!(run(&p.program, 39, [0; 6]), SECCOMP_RET_USER_NOTIF); // getpid
        assert_eq!(run(&p.program, 102, [0; 6]), 0x7ffc_0000); // getuid: log
        assert_eq!(run(&p.program, 165, [0; 6]), errno(38)); // mount: default
        assert!(p.notify && p.flags & FLAG_NEW_LISTENER != 0);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_operator_compares_as_libseccomp_does() {
        for (op, value, below, equal, above) in [
            ("SCMP_CMP_NE", 5u64, true, false, true),
            ("SCMP_CMP_LT", 5, true, false, false),
            ("SCMP_CMP_LE", 5, true, true, false),
            ("SCMP_CMP_EQ", 5, false, true, false),
            ("SCMP_CMP_GE", 5, false, true, true),
            ("SCMP_CMP_GT", 5, false, false, true),
        ] {
            let p = plan(serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["dup"], "action": "SCMP_ACT_ERRNO",
                              "args": [{"index": 0, "value": value, "op": op}]}]
            }));
            let hit = |x: u64| run(&p.program, 32, [x, 0, 0, 0, 0, 0]) != SECCOMP_RET_ALLOW;
            assert_eq!(
                (hit(4), hit(5), hit(1 << 33 | 5)),
                (below, equal, above),
                "{op}"
            );
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn each_listed_architecture_gets_the_rules_with_its_own_numbers() {
        let profile = |archs: serde_json::Value| {
            plan(serde_json::json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "architectures": archs,
                "syscalls": [
                    {"names": ["getpid", "exit", "readv"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
                ]
            }))
        };
        const I386: u32 = 0x4000_0003;
        const ARM: u32 = 0x4000_0028;
        const X32: u32 = 0x4000_0000;
        let (eperm, eacces, enosys) = (0x0005_0001, 0x0005_000d, 0x0005_0026);
        let p = profile(serde_json::json!([
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X32"
        ]));
        assert_eq!(run(&p.program, 39, [0; 6]), SECCOMP_RET_ALLOW); // getpid
        assert_eq!(run(&p.program, 83, [0; 6]), eacces); // mkdir
        assert_eq!(run(&p.program, 32, [0; 6]), eperm); // dup: default
        assert_eq!(run(&p.program, 999, [0; 6]), enosys); // past the profile
        assert_eq!(run_arch(&p.program, I386, 20, [0; 6]), SECCOMP_RET_ALLOW); // getpid
        assert_eq!(run_arch(&p.program, I386, 39, [0; 6]), eacces); // mkdir
        assert_eq!(run_arch(&p.program, I386, 83, [0; 6]), eperm); // i386's 83: symlink
        assert_eq!(run(&p.program, X32 | 39, [0; 6]), SECCOMP_RET_ALLOW); // x32 getpid
        assert_eq!(run(&p.program, X32 | 83, [0; 6]), eacces); // x32 mkdir
        assert_eq!(run(&p.program, X32 | 515, [0; 6]), SECCOMP_RET_ALLOW); // x32 readv
        assert_eq!(run(&p.program, X32 | 19, [0; 6]), eperm); // x86_64's readv number
        assert_eq!(run_arch(&p.program, ARM, 39, [0; 6]), eperm); // not listed: default
                                                                  // Native only: the others get the default action.
        let p = profile(serde_json::json!(["SCMP_ARCH_X86_64"]));
        assert_eq!(run_arch(&p.program, I386, 39, [0; 6]), eperm);
        assert_eq!(run_arch(&p.program, I386, 20, [0; 6]), eperm);
        assert_eq!(run(&p.program, X32 | 83, [0; 6]), eperm);
        assert_eq!(run(&p.program, 83, [0; 6]), eacces);
    }

    #[test]
    fn notify_without_a_listener_is_an_error() {
        let s: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        }))
        .unwrap();
        let e = SeccompPlan::compile(&s).unwrap_err().to_string();
        assert!(e.contains("listenerPath"), "{e}");
    }

    #[test]
    fn docker_default_profile_compiles_within_the_kernel_limit() {
        let text = include_str!("../../../tests/fixtures/docker-default.json");
        let s: LinuxSeccomp = serde_json::from_str(text).unwrap();
        let p = SeccompPlan::compile(&s).unwrap();
        assert!(p.program.len() < 4096, "{} instructions", p.program.len());
    }
}
