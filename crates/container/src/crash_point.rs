//! The named stages of `create` and `delete`: under `--debug` husk logs the time from its
//! start to each (where the time goes), and a debug build can be told to die at one.
//!
//! Crash injection for the reliability tests: a debug build run with `HUSK_CRASH_AT=<stage>`
//! kills itself with SIGKILL when it reaches that stage, so that tests can check what a
//! runtime killed there leaves behind, and that `delete --force` removes it. Release builds
//! compile every crash point to nothing and never read the variable.
//!
//! The stages, in the order `create` reaches them: `state-dir` (directory and first state
//! written), `cgroup` (cgroup made, resources applied), `forked` (intermediate forked),
//! `mapped` (id maps written, idmapped mounts sent), `init-pid` (the init is building its
//! mounts), `hook-createRuntime` (while a createRuntime hook runs), `ready` (the init waits on
//! exec.fifo, the final state not yet written), `saved`. And `delete`'s: `delete-killed`
//! (processes killed, nothing removed), `delete-cgroup` (cgroup removed, state directory not).

static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Start the clock `stage` measures from (husk's main calls it first thing).
pub fn start_clock() {
    START.get_or_init(std::time::Instant::now);
}

/// `stage` is reached: log the time since start (debug level) and crash if told to.
pub fn stage(stage: &str) {
    if let Some(t) = START.get() {
        tracing::debug!(
            "stage {stage}: {:.2} ms",
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    crash_point(stage);
}

/// Die here (SIGKILL) if this debug build was told to.
#[cfg(debug_assertions)]
pub fn crash_point(stage: &str) {
    if std::env::var_os("HUSK_CRASH_AT").is_some_and(|v| v == stage) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn crash_point(_stage: &str) {}
