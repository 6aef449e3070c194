//! Reading facts about processes from /proc: start time (to tell a process from a later one
//! that reuses its pid) and whether it is still alive.

use std::fs;
use std::io::Read;

/// Field 22 (starttime) and field 3 (state) of /proc/PID/stat.
pub fn stat(pid: i32) -> Option<(u64, char)> {
    // One read into a buffer that holds any stat line: `list` does this for every container,
    // and read_to_string's statx and growing reads were most of its syscalls.
    let mut buf = [0u8; 2048];
    let mut file = fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let text = std::str::from_utf8(&buf[..len]).ok()?;
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state))
}

/// The start time of `pid`, if it exists.
pub fn start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|(s, _)| s)
}

/// Alive: exists, is the same process (start time), and is not a zombie.
pub fn is_alive(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    matches!(stat(pid), Some((s, state)) if s == start && state != 'Z' && state != 'X')
}

/// The user name of `uid` from the host's /etc/passwd.
pub fn user_name(uid: u32) -> Option<String> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
    })
}

/// The host pids of every process in the pid namespace of `init` (a container without a
/// cgroup of its own: rootless). A container sharing the host's pid namespace has only its
/// init to show.
pub fn pids_in_pid_namespace_of(init: i32) -> Vec<i32> {
    let ns = |pid: &str| fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(target) = ns(&init.to_string()) else {
        return vec![];
    };
    if ns("self").as_ref() == Some(&target) {
        return vec![init];
    }
    let mut pids: Vec<i32> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| ns(&p.to_string()).as_ref() == Some(&target))
        .collect();
    pids.sort_unstable();
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_start_time_and_liveness() {
        let me = std::process::id() as i32;
        let start = start_time(me).expect("own stat");
        assert!(is_alive(me, start));
        assert!(
            !is_alive(me, start + 1),
            "a different start time is another process"
        );
    }
}
