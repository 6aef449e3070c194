//! `linux.seccomp` checked from inside: Docker's default profile, each rule's own action and
//! operator, SCMP_ACT_NOTIFY answered by an agent, flags, and bad filters refused. Needs root.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;

use husk_e2e::*;

fn docker_profile() -> Value {
    serde_json::from_str(include_str!("fixtures/docker-default.json")).unwrap()
}

fn with_seccomp(args: &[&str], seccomp: Value) -> TestBundle {
    let mut b = TestBundle::busybox(args);
    b.config["linux"]["seccomp"] = seccomp;
    b.write();
    b
}

/// A bundle that may do what Docker's profile denies: CAP_SYS_ADMIN in every set, so that
/// unshare and mount succeed without a filter, and only the filter can refuse them.
fn sys_admin_bundle(args: &[&str], seccomp: Option<Value>) -> TestBundle {
    let mut b = TestBundle::busybox(args);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_ADMIN"));
    }
    if let Some(seccomp) = seccomp {
        b.config["linux"]["seccomp"] = seccomp;
    }
    b.write();
    b
}

const DENIED_BY_DOCKER: &str = "grep -E '^Seccomp:' /proc/self/status; ls / >/dev/null && echo ls-ok; \
     unshare -m true 2>&1 && echo unshare-ok; mount -t tmpfs t /tmp 2>&1 && echo mount-ok; echo done";

#[test]
fn docker_default_profile_runs_busybox_and_blocks_what_it_denies() {
    skip_unless_root!();
    let h = Husk::new();
    // Without the filter, the same process may unshare and mount: what fails below fails
    // because of the profile, not for want of a capability.
    let b = sys_admin_bundle(&["sh", "-c", DENIED_BY_DOCKER], None);
    let (code, out, err) = h.run_bundle(&b, &unique("nofilter"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Seccomp:\t0"), "no filter: {out}");
    assert!(
        out.contains("unshare-ok") && out.contains("mount-ok"),
        "{out}"
    );

    let b = sys_admin_bundle(&["sh", "-c", DENIED_BY_DOCKER], Some(docker_profile()));
    let id = unique("docker");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Seccomp:\t2"), "filter mode: {out}");
    assert!(out.contains("ls-ok"), "{out}");
    assert!(
        out.contains("unshare(0x20000): Operation not permitted") && !out.contains("unshare-ok"),
        "unshare gets the profile's EPERM: {out}"
    );
    assert!(
        out.contains("mount: permission denied") && !out.contains("mount-ok"),
        "{out}"
    );

    // An exec'd process is under the same filter, with the same capability.
    let b = sys_admin_bundle(&["sleep", "100"], Some(docker_profile()));
    let id = unique("dockerexec");
    h.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let out = h.run(&["exec", &id, "unshare", "-m", "true"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Operation not permitted")
            || text(&out.stdout).contains("Operation not permitted"),
        "{} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn each_rule_keeps_its_action_and_arguments_select_it() {
    skip_unless_root!();
    let h = Husk::new();
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 511, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 2, "value": 511, "op": "SCMP_CMP_EQ"}]},
            {"names": ["sethostname"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["sync"], "action": "SCMP_ACT_TRAP"},
            {"names": ["getcwd"], "action": "SCMP_ACT_LOG"},
            {"names": ["not_a_syscall_here"], "action": "SCMP_ACT_ERRNO"}
        ]
    });
    // Each applet runs as its own process: the shell reports how it ended.
    let script = "mkdir /tmp/d 2>&1; touch /tmp/f; chmod 755 /tmp/f && echo chmod-755-ok; \
                  chmod 777 /tmp/f 2>&1; pwd; \
                  hostname h2; echo hostname-status=$?; \
                  sync; echo sync-status=$?";
    let mut b = with_seccomp(&["sh", "-c", script], profile);
    b.config["root"]["readonly"] = json!(false);
    b.write();
    let id = unique("actions");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Permission denied"),
        "mkdir gets errnoRet 13: {out}"
    );
    assert!(
        out.contains("chmod-755-ok"),
        "chmod 755 is not selected: {out}"
    );
    assert!(
        out.contains("Operation not permitted"),
        "chmod 777 gets the default errno EPERM: {out}"
    );
    assert!(out.contains("\n/\nhostname"), "LOG allows getcwd: {out}");
    // SIGSYS (31): KILL_PROCESS and TRAP both end the process with it.
    assert!(out.contains("hostname-status=159"), "{out}");
    assert!(out.contains("sync-status=159"), "{out}");
}

#[test]
fn notify_sends_the_fd_to_the_agent_which_answers_the_syscall() {
    skip_unless_root!();
    let h = Husk::new();
    let dir = TempDir::new("husk-agent");
    let socket = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": socket,
        "listenerMetadata": "agent-metadata-42",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let b = with_seccomp(
        &[
            "sh",
            "-c",
            "mkdir /tmp/n && echo mkdir-said-ok; test -d /tmp/n || echo but-nothing-made",
        ],
        profile,
    );
    let id = unique("notify");
    // The agent: take the fd and the state, then answer each notification with success
    // without doing anything.
    let agent = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let (fd, message) = receive_fd(&stream);
        let state: Value = serde_json::from_slice(&message).unwrap();
        let mut answered = 0;
        loop {
            #[repr(C)]
            struct Notif {
                id: u64,
                pid: u32,
                flags: u32,
                nr: i32,
                arch: u32,
                ip: u64,
                args: [u64; 6],
            }
            #[repr(C)]
            struct Resp {
                id: u64,
                val: i64,
                error: i32,
                flags: u32,
            }
            // SAFETY (test): seccomp_notif is plain integers; all-zero is a valid value.
            let mut req: Notif = unsafe { std::mem::zeroed() };
            const RECV: libc::c_ulong = 0xc050_2100;
            const SEND: libc::c_ulong = 0xc018_2101;
            // SAFETY (test): `req` is a correctly sized seccomp_notif.
            if unsafe { libc::ioctl(fd.as_raw_fd(), RECV, &mut req) } < 0 {
                break; // the container is gone
            }
            let resp = Resp {
                id: req.id,
                val: 0,
                error: 0,
                flags: 0,
            };
            // SAFETY (test): `resp` is a correctly sized seccomp_notif_resp.
            if unsafe { libc::ioctl(fd.as_raw_fd(), SEND, &resp) } == 0 {
                answered += 1;
            }
        }
        let mut rest = Vec::new();
        let _ = (&stream).read_to_end(&mut rest);
        (state, answered)
    });
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mkdir-said-ok"), "{out}");
    assert!(
        out.contains("but-nothing-made"),
        "the agent, not the kernel, answered: {out}"
    );
    let (state, answered) = agent.join().unwrap();
    assert!(answered >= 1);
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "agent-metadata-42");
    assert_eq!(state["state"]["id"], id);
    assert!(state["pid"].as_i64().unwrap() > 1);
}

#[test]
fn a_bad_filter_is_refused_by_name_and_nothing_is_left() {
    skip_unless_root!();
    let h = Husk::new();
    for (seccomp, want) in [
        (
            json!({"defaultAction": "SCMP_ACT_BOGUS"}),
            "linux.seccomp.defaultAction",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]}),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0]",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "listenerPath",
        ),
    ] {
        let b = with_seccomp(&["true"], seccomp);
        let id = unique("badseccomp");
        let (code, _, err) = h.run_bundle(&b, &id);
        assert_ne!(code, 0);
        assert!(err.contains(want), "want {want:?} in: {err}");
        h.assert_no_trace(&id);
    }
}

/// Several conditions on one argument match any of them (runc and libseccomp read such an
/// entry as OR): chmod to 0700 or to 0755 is refused, to 0644 is not. Read as AND, no mode
/// could match both and nothing would be refused.
#[test]
fn conditions_on_the_same_argument_match_either_value() {
    skip_unless_root!();
    let either = |index: u32| {
        json!([{"index": index, "value": 0o700, "op": "SCMP_CMP_EQ"},
               {"index": index, "value": 0o755, "op": "SCMP_CMP_EQ"}])
    };
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": either(1)},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "args": either(2)}
        ]
    });
    let script = "touch /tmp/f; for m in 700 755 644; do chmod $m /tmp/f 2>/dev/null && echo $m-ok || echo $m-refused; done";
    let mut b = with_seccomp(&["sh", "-c", script], profile);
    b.config["root"]["readonly"] = json!(false);
    b.write();
    let (code, out, err) = Husk::new().run_bundle(&b, &unique("or"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "700-refused\n755-refused\n644-ok\n");
}

/// runc's -ENOSYS stub: under a deny-by-default profile, a syscall numbered above every one
/// the profile names gets ENOSYS (what an older kernel says, so programs fall back), while
/// an unlisted syscall within the profile's range still gets the default action (EPERM).
#[test]
fn syscalls_newer_than_the_profile_get_enosys_and_older_ones_the_default() {
    skip_unless_root!();
    let mut b = TestBundle::busybox(&["/syscalls", "1000", "246"]);
    compile_static(&b.rootfs(), "syscalls", SYSCALL_PROBE);
    b.config["linux"]["seccomp"] = docker_profile();
    b.write();
    let (code, out, err) = Husk::new().run_bundle(&b, &unique("enosys"));
    assert_eq!(code, 0, "{err}");
    // 1000: no such syscall, above the profile's largest; 246: kexec_load, not allowed.
    assert_eq!(out, "1000:38\n246:1\n", "{err}");
}

/// runc's flags: SPEC_ALLOW when `flags` is absent, none for `"flags": []`, the listed ones
/// otherwise; what husk loaded is in its debug log, as runc's.
#[test]
fn filter_flags_default_to_spec_allow_and_follow_the_list() {
    skip_unless_root!();
    let cases = [
        (None, 4),
        (Some(json!([])), 0),
        (Some(json!(["SECCOMP_FILTER_FLAG_LOG"])), 2),
        (
            Some(json!([
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
            ])),
            6,
        ),
    ];
    for (flags, expect) in cases {
        let mut profile = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
        });
        if let Some(f) = flags.clone() {
            profile["flags"] = f;
        }
        let b = with_seccomp(&["sh", "-c", "mkdir /dev/shm/x 2>&1; true"], profile);
        let h = Husk::new();
        let log = h.root.path().join("debug.log");
        let out = h.run(&[
            "--debug",
            "--log",
            log.to_str().unwrap(),
            "run",
            "--bundle",
            b.path().to_str().unwrap(),
            &unique("flags"),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("Operation not permitted"),
            "the filter is on: {}",
            text(&out.stdout)
        );
        let log = std::fs::read_to_string(&log).unwrap();
        assert!(
            log.contains(&format!("seccomp filter flags: {expect}\"")),
            "flags {flags:?}: {log}"
        );
    }
}

/// A filter that sends `write` to the agent is refused in runc's words: the init itself
/// writes before it execs, and would wait on an agent that may be waiting on it.
#[test]
fn notify_on_write_is_refused_and_nothing_is_left() {
    skip_unless_root!();
    let dir = TempDir::new("husk-agent");
    let socket = dir.path().join("agent.sock");
    let _listener = UnixListener::bind(&socket).unwrap();
    let b = with_seccomp(
        &["true"],
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": socket,
            "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    );
    let h = Husk::new();
    let id = unique("notifywrite");
    let (code, _, err) = h.run_bundle(&b, &id);
    assert_ne!(code, 0);
    assert!(
        err.contains("SCMP_ACT_NOTIFY cannot be used for the write syscall"),
        "{err}"
    );
    h.assert_no_trace(&id);
}

/// startContainer hooks run in the container after its filter is loaded, as runc runs them:
/// a hook may not make a syscall the container may not.
#[test]
fn start_container_hooks_run_under_the_containers_filter() {
    skip_unless_root!();
    let mut b = with_seccomp(
        &["true"],
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]
        }),
    );
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]);
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "mkdir /dev/shm/foo"]}]});
    b.write();
    let h = Husk::new();
    let id = unique("hookfilter");
    let (code, _, err) = h.run_bundle(&b, &id);
    assert_ne!(code, 0);
    assert!(err.contains("error running startContainer hook"), "{err}");
    assert!(err.contains("bad system call"), "{err}");
    h.assert_no_trace(&id);
}

/// A static i386 program (int $0x80 system calls): getpid must answer (else exit 99), then
/// mkdir("/tmp/i386-dir"), and exit with its errno (0 when the directory was made). Built
/// with binutils' `as --32` and `ld -m elf_i386`, no 32-bit C library needed.
const I386_PROBE: &str = "
    .data
path: .asciz \"/tmp/i386-dir\"
    .text
    .globl _start
_start:
    movl $20, %eax
    int $0x80
    cmpl $0, %eax
    jg 1f
    movl $99, %ebx
    movl $1, %eax
    int $0x80
1:
    movl $39, %eax
    movl $path, %ebx
    movl $0755, %ecx
    int $0x80
    negl %eax
    movl %eax, %ebx
    movl $1, %eax
    int $0x80
";

/// The i386 probe in a busybox bundle's /bin (a writable rootfs, for its mkdir), run as the
/// container's process under `seccomp`.
fn i386_bundle(seccomp: Value) -> TestBundle {
    let dir = TempDir::new("i386-probe");
    let (src, obj) = (dir.path().join("probe.s"), dir.path().join("probe.o"));
    std::fs::write(&src, I386_PROBE).unwrap();
    let mut b = TestBundle::busybox(&["/bin/i386-probe"]);
    let exe = b.rootfs().join("bin/i386-probe");
    for (tool, args) in [
        (
            "as",
            vec!["--32", "-o", obj.to_str().unwrap(), src.to_str().unwrap()],
        ),
        (
            "ld",
            vec![
                "-m",
                "elf_i386",
                "-static",
                "-o",
                exe.to_str().unwrap(),
                obj.to_str().unwrap(),
            ],
        ),
    ] {
        let out = std::process::Command::new(tool)
            .args(&args)
            .output()
            .expect("binutils");
        assert!(out.status.success(), "{tool}: {}", text(&out.stderr));
    }
    b.config["root"]["readonly"] = json!(false);
    b.config["linux"]["seccomp"] = seccomp;
    b.write();
    b
}

#[test]
fn a_32_bit_program_gets_the_profiles_rules_for_its_own_architecture() {
    skip_unless_root!();
    let h = Husk::new();
    let profile = |archs: Value| {
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": archs,
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
        })
    };
    // i386's mkdir is its own number (39, not x86_64's 83): the X86 section denies it.
    let b = i386_bundle(profile(json!([
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32"
    ])));
    let (code, _, err) = h.run_bundle(&b, &unique("i386"));
    assert_eq!(code, 13, "the profile's errno for i386's mkdir: {err}");
    assert!(!b.rootfs().join("tmp/i386-dir").exists());
    // features says which architectures husk filters.
    let features: Value = serde_json::from_str(&h.ok(&["features"])).unwrap();
    assert_eq!(
        features["linux"]["seccomp"]["archs"],
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    );
    // Not listed: i386 gets the default action (here: allowed).
    let b = i386_bundle(profile(json!(["SCMP_ARCH_X86_64"])));
    let (code, _, err) = h.run_bundle(&b, &unique("i386"));
    assert_eq!(code, 0, "{err}");
    assert!(b.rootfs().join("tmp/i386-dir").is_dir());
}

#[test]
fn a_32_bit_program_runs_under_dockers_default_profile() {
    skip_unless_root!();
    let h = Husk::new();
    // Docker's profile lists SCMP_ARCH_X86: an i386 getpid and mkdir are allowed, as for a
    // 64-bit program (they were killed, the filter knowing x86_64 alone).
    let b = i386_bundle(docker_profile());
    let (code, _, err) = h.run_bundle(&b, &unique("i386-docker"));
    assert_eq!(code, 0, "{err}");
    assert!(b.rootfs().join("tmp/i386-dir").is_dir());
}
