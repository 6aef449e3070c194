//! `hooks`: each hook run with its args and env, the container state on stdin, and its
//! timeout; its output kept for the error message if it fails. Hooks run inside the
//! container's namespaces are exec'd through husk's exec stub (exec_stub.rs).

use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use husk_spec::ContainerState;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::Hook;

use crate::exec_stub::ExecStub;
use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("error running {phase} hook #{index}: {path}: cannot run: {source}")]
    Spawn {
        phase: &'static str,
        index: usize,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("error running {phase} hook #{index}: {path}: {status}{output}")]
    Failed {
        phase: &'static str,
        index: usize,
        path: String,
        status: String,
        output: String,
    },
    #[error("error running {phase} hook #{index}: {path}: timed out after {secs}s")]
    Timeout {
        phase: &'static str,
        index: usize,
        path: String,
        secs: i64,
    },
}

/// Run `hooks` in order; the first failure stops the list. `stub`: exec each through husk's
/// exec stub (the hooks run by the container's init). A hook without `env` gets `env_if_unset`,
/// or, if None, husk's own environment, as runc's hooks get runc's (Go's exec with a nil Env).
pub fn run(
    phase: &'static str,
    hooks: &[Hook],
    state: &ContainerState,
    stub: Option<&ExecStub>,
    env_if_unset: Option<&[String]>,
) -> Result<(), HookError> {
    let json = serde_json::to_vec(state).expect("state serialises");
    for (index, hook) in hooks.iter().enumerate() {
        let env = hook_env(hook, env_if_unset);
        run_one(phase, index, hook, &json, stub, &env)?;
    }
    Ok(())
}

/// The environment `hook` runs with.
fn hook_env(hook: &Hook, env_if_unset: Option<&[String]>) -> Vec<String> {
    match (hook.env(), env_if_unset) {
        (Some(env), _) => env.clone(),
        (None, Some(env)) => env.to_vec(),
        (None, None) => std::env::vars_os()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect(),
    }
}

/// Run every hook of `hooks`, each failure logged as a warning: the spec's rule for poststop
/// ("the runtime MUST log a warning, but the remaining hooks and lifecycle continue").
pub fn run_all_warning(phase: &'static str, hooks: &[Hook], state: &ContainerState) {
    let json = serde_json::to_vec(state).expect("state serialises");
    for (index, hook) in hooks.iter().enumerate() {
        if let Err(e) = run_one(phase, index, hook, &json, None, &hook_env(hook, None)) {
            tracing::warn!("{e}");
        }
    }
}

fn run_one(
    phase: &'static str,
    index: usize,
    hook: &Hook,
    state: &[u8],
    stub: Option<&ExecStub>,
    env: &[String],
) -> Result<(), HookError> {
    let path = hook.path().display().to_string();
    let spawn_err = |source| HookError::Spawn {
        phase,
        index,
        path: path.clone(),
        source,
    };
    // stdout and stderr into one memfd, read back for the error of a failing hook.
    let output = nix::sys::memfd::memfd_create(
        c"husk-hook-output",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .map_err(|e| spawn_err(e.into()))?;
    let out_file = std::fs::File::from(output);
    let args = hook.args().clone().unwrap_or_default();
    let mut cmd = Command::new(hook.path());
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1))
        .env_clear()
        .envs(env.iter().filter_map(|e| e.split_once('=')))
        .stdin(Stdio::piped())
        .stdout(out_file.try_clone().map_err(spawn_err)?)
        .stderr(out_file.try_clone().map_err(spawn_err)?);
    if let Some(stub) = stub {
        through_stub(&mut cmd, stub, hook, &args, env).map_err(spawn_err)?;
    }
    let mut child = cmd.spawn().map_err(spawn_err)?;
    crate::crash_point::crash_point(&format!("hook-{phase}"));
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that exits without reading its stdin is not an error (EPIPE ignored).
        let _ = stdin.write_all(state);
    }
    let timeout = hook.timeout().filter(|t| *t > 0);
    if !exits_in_time(&child, timeout).map_err(spawn_err)? {
        let _ = child.kill();
        let _ = child.wait();
        let secs = timeout.unwrap_or(0);
        return Err(HookError::Timeout {
            phase,
            index,
            path,
            secs,
        });
    }
    let status = child.wait().map_err(spawn_err)?;
    if status.success() {
        return Ok(());
    }
    let status = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("signal: {}", signal_words(s)),
        _ => status.to_string(),
    };
    let output = output_of(out_file);
    Err(HookError::Failed {
        phase,
        index,
        path,
        status,
        output,
    })
}

/// Whether the hook exits within its timeout (none: it may take as long as it takes).
fn exits_in_time(child: &std::process::Child, timeout: Option<i64>) -> std::io::Result<bool> {
    let pidfd = sys::pidfd_open(child.id() as i32)?;
    let ms = timeout.map_or(PollTimeout::NONE, |t| {
        PollTimeout::try_from(Duration::from_secs(t as u64)).unwrap_or(PollTimeout::MAX)
    });
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, ms) {
            Err(nix::Error::EINTR) => continue,
            other => return Ok(other.unwrap_or(0) != 0),
        }
    }
}

/// The first 4 KiB of what a failed hook printed, as ": <text>" (empty if it printed nothing).
fn output_of(mut out_file: std::fs::File) -> String {
    let mut text = String::new();
    let _ = out_file.rewind();
    let _ = (&mut out_file).take(4096).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// Make `cmd` exec the hook through `stub`: the child, its stdio in place, execveats the stub
/// with the hook's path, argv and env. Everything is built before the fork.
fn through_stub(
    cmd: &mut Command,
    stub: &ExecStub,
    hook: &Hook,
    args: &[String],
    env: &[String],
) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let to_c = |s: &[u8]| {
        CString::new(s).map_err(|_| {
            let what = "the hook's path, an argument or a variable holds a NUL byte";
            std::io::Error::new(std::io::ErrorKind::InvalidInput, what)
        })
    };
    let path = to_c(hook.path().as_os_str().as_bytes())?;
    let argv: Vec<CString> = if args.is_empty() {
        vec![path.clone()]
    } else {
        args.iter()
            .map(|a| to_c(a.as_bytes()))
            .collect::<Result<_, _>>()?
    };
    let argv = stub.argv(&path, &argv);
    let envp: Vec<CString> = env
        .iter()
        .map(|e| to_c(e.as_bytes()))
        .collect::<Result<_, _>>()?;
    sys::exec_fd_instead(cmd, stub.fd().as_raw_fd(), sys::ExecArgs::new(argv, envp));
    Ok(())
}

/// How Go names signal `s` (`signal: bad system call`): runc's hook errors carry it, and
/// its suite matches on it.
fn signal_words(s: i32) -> String {
    const GO_NAMES: [&str; 31] = [
        "hangup",
        "interrupt",
        "quit",
        "illegal instruction",
        "trace/breakpoint trap",
        "aborted",
        "bus error",
        "floating point exception",
        "killed",
        "user defined signal 1",
        "segmentation fault",
        "user defined signal 2",
        "broken pipe",
        "alarm clock",
        "terminated",
        "stack fault",
        "child exited",
        "continued",
        "stopped (signal)",
        "stopped",
        "stopped (tty input)",
        "stopped (tty output)",
        "urgent I/O condition",
        "CPU time limit exceeded",
        "file size limit exceeded",
        "virtual timer expired",
        "profiling timer expired",
        "window changed",
        "I/O possible",
        "power failure",
        "bad system call",
    ];
    usize::try_from(s - 1)
        .ok()
        .and_then(|i| GO_NAMES.get(i))
        .map_or_else(|| format!("signal {s}"), |n| n.to_string())
}
