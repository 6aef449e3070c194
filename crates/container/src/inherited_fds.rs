//! The file descriptors husk's caller left open, noted when husk starts and closed in the
//! processes it forks for a container, apart from the `--preserve-fds` and LISTEN_FDS ones.
//! A forked process inherits every fd, and the init waits for `start` with them for as long
//! as the container stays created: a harness's output file, a pipe, a /dev/null the caller
//! held would be open in the container's init (runc's init, a fresh exec, gets only what runc
//! passes it). husk's own fds are close-on-exec and are not in the list.

use std::os::fd::RawFd;
use std::sync::OnceLock;

static INHERITED: OnceLock<Vec<RawFd>> = OnceLock::new();

/// List the fds above stderr that are open now; call first thing, before husk opens any.
pub fn note() {
    let listed: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<RawFd>().ok())
                .filter(|fd| *fd > 2)
                .collect()
        })
        .unwrap_or_default();
    // The listing holds read_dir's own fd, closed by now: only the fds still open are the
    // caller's (that number is free, and husk's next fd may take it).
    let fds = listed.into_iter().filter(|fd| is_open(*fd)).collect();
    let _ = INHERITED.set(fds);
}

fn is_open(fd: RawFd) -> bool {
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok()
}

/// In a forked child: close the caller's fds except the `keep` of them from fd 3 on (the
/// LISTEN_FDS and --preserve-fds ones). Every number in the list is a caller's fd: husk never
/// closes one itself, so none of them was reused for an fd of husk's.
pub fn close_in_child(keep: u32) {
    let keep_below = 3 + keep as RawFd;
    for fd in INHERITED.get().into_iter().flatten() {
        if *fd >= keep_below {
            let _ = nix::unistd::close(*fd);
        }
    }
}
