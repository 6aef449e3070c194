//! Signal dispositions: back to the defaults before exec, SIGPIPE's default for print-only
//! commands, and handlers that end the process.

use super::*;

/// A handler that ends the process: `_exit(128 + signal)`, async-signal-safe.
extern "C" fn exit_on(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe and takes no lock.
    unsafe { libc::_exit(128 + sig) }
}

/// Make `signals` end the process. A container's init waiting for `start` is PID 1 of its pid
/// namespace, which the kernel spares every signal it has no handler for (SIGKILL aside):
/// runc's init, a Go program, exits on SIGHUP, SIGINT and SIGTERM, so a created container
/// can be stopped with them (through --pidfd-socket, say). husk's does the same.
pub fn exit_on_signals(signals: &[libc::c_int]) -> io::Result<()> {
    for &sig in signals {
        // SAFETY: an all-zero sigaction is valid; the handler is an extern "C" fn that only
        // calls _exit; sigaction copies the struct.
        let ret = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = exit_on as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut())
        };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// SIGPIPE back to its default (Rust ignores it, and a write to a closed pipe then fails with
/// EPIPE and `println!` panics): for the commands that only print, so that `husk list | head
/// -1` ends husk quietly, as it ends runc.
pub fn default_sigpipe() {
    // SAFETY: SIG_DFL installs no handler, so no code of ours runs in signal context.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Every signal back to its default disposition, as runc does before exec: an ignored signal
/// stays ignored across execve, so a husk started under `nohup` (SIGHUP ignored) or by Rust
/// (SIGPIPE ignored) would pass that on, and `docker kill -s HUP` would go unseen. Handlers
/// do not survive exec; only SIG_IGN needs undoing, but SIG_DFL for all is simplest.
pub fn default_signal_dispositions() -> io::Result<()> {
    /// The kernel's struct sigaction (x86_64 and aarch64 layout): handler, flags, restorer,
    /// mask. SIG_DFL needs no restorer.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let act = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // The raw call, because glibc's sigaction refuses its own internal signals (32 and 33),
    // which a parent may also have left ignored. SIGKILL and SIGSTOP cannot be changed.
    for sig in (1..=64).filter(|s| ![libc::SIGKILL, libc::SIGSTOP].contains(s)) {
        // SAFETY: `act` is a valid kernel sigaction installing no handler (so no code of ours
        // runs in signal context) and outlives the call; the old action is not asked for.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &act as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
