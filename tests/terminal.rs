//! `process.terminal`: the pty sent to --console-socket (create and exec), husk's own relay in
//! a foreground `run`, and runc's rules for when a socket is needed. Needs root.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use husk_e2e::*;

/// Accept one connection on `listener` and take the fd it carries (SCM_RIGHTS) and its data.
fn receive_master(listener: &UnixListener) -> (OwnedFd, String) {
    let (stream, _) = listener.accept().unwrap();
    let (fd, data) = receive_fd(&stream);
    (fd, String::from_utf8_lossy(&data).into_owned())
}

/// Read the pty master until `want` shows up (or 10 s pass); returns what was read.
fn read_until(master: &OwnedFd, want: &str) -> String {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !String::from_utf8_lossy(&got).contains(want) {
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(master),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16)).unwrap_or(0) == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match nix::unistd::read(master.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn terminal_bundle(args: &[&str]) -> TestBundle {
    let mut b = TestBundle::busybox(args);
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 33, "width": 101});
    b.write();
    b
}

#[test]
fn create_sends_the_pty_to_the_console_socket_and_the_shell_is_interactive() {
    skip_unless_root!();
    let h = Husk::new();
    let dir = TempDir::new("husk-console");
    let socket = dir.path().join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let b = terminal_bundle(&["sh"]);
    let id = unique("tty");
    let create = std::thread::spawn({
        let args: Vec<String> = [
            "create",
            "--console-socket",
            socket.to_str().unwrap(),
            "-b",
            b.path().to_str().unwrap(),
            &id,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut cmd = h.cmd();
        cmd.args(&args);
        move || run_to_files(&mut cmd)
    });
    let (master, name) = receive_master(&listener);
    let out = create.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(name, "/dev/ptmx");
    h.ok(&["start", &id]);
    let mut m = std::fs::File::from(master.try_clone().unwrap());
    m.write_all(b"tty; stty size; test -t 0 && echo stdin-is-a-tty; ls -l /dev/console; exit 9\n")
        .unwrap();
    let seen = read_until(&master, "exit 9");
    let seen = seen + &read_until(&master, "136,");
    assert!(seen.contains("/dev/pts/0"), "{seen}");
    assert!(seen.contains("33 101"), "consoleSize: {seen}");
    assert!(seen.contains("stdin-is-a-tty"), "{seen}");
    assert!(seen.contains("136,"), "/dev/console is the pty: {seen}");
    wait_for(|| h.state(&id)["status"] == "stopped", "the shell to exit");
    h.ok(&["delete", &id]);
    h.assert_no_trace(&id);
}

#[test]
fn foreground_run_relays_the_terminal_itself() {
    skip_unless_root!();
    let h = Husk::new();
    let b = terminal_bundle(&["sh", "-c", "tty; stty size; echo out-$((6*7)); exit 4"]);
    let id = unique("relay");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_eq!(code, 4, "{err}");
    // Through a pty whose ONLCR husk clears, as runc does: lines end in \n, as written.
    assert_eq!(out, "/dev/pts/0\n33 101\nout-42\n");
    h.assert_no_trace(&id);
}

#[test]
fn exec_with_a_tty_sends_its_own_pty_to_the_console_socket() {
    skip_unless_root!();
    let h = Husk::new();
    let b = TestBundle::busybox(&["sleep", "100"]);
    let id = unique("exectty");
    h.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let dir = TempDir::new("husk-console");
    let socket = dir.path().join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let exec = std::thread::spawn({
        let mut cmd = h.cmd();
        cmd.args([
            "exec",
            "--tty",
            "--detach",
            "--console-socket",
            socket.to_str().unwrap(),
            &id,
            "sh",
        ]);
        move || run_to_files(&mut cmd)
    });
    let (master, _) = receive_master(&listener);
    let out = exec.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut m = std::fs::File::from(master.try_clone().unwrap());
    m.write_all(b"tty; echo pid1=$(cat /proc/1/comm); exit\n")
        .unwrap();
    let seen = read_until(&master, "pid1=sleep");
    assert!(seen.contains("/dev/pts/"), "{seen}");
    assert!(seen.contains("pid1=sleep"), "{seen}");
    // Foreground exec with -t: husk relays.
    let out = h.run(&["exec", "-t", &id, "sh", "-c", "tty; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stdout).contains("/dev/pts/"),
        "{}",
        text(&out.stdout)
    );
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn a_terminal_needs_a_console_socket_when_husk_detaches_and_nothing_is_left() {
    skip_unless_root!();
    let h = Husk::new();
    let b = terminal_bundle(&["sh"]);
    let id = unique("nosock");
    let out = h.run(&["create", "-b", b.path().to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("console-socket"),
        "{}",
        text(&out.stderr)
    );
    h.assert_no_trace(&id);
    // A socket for a process without a terminal is refused too.
    let plain = TestBundle::busybox(&["true"]);
    let out = h.run(&[
        "create",
        "--console-socket",
        "/tmp/nowhere.sock",
        "-b",
        plain.path().to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("process.terminal"),
        "{}",
        text(&out.stderr)
    );
    h.assert_no_trace(&id);
}

#[test]
fn a_console_symlink_planted_in_the_rootfs_is_not_followed() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = terminal_bundle(&["true"]);
    // The default /dev is a tmpfs; with the host-like rootfs /dev bind-mounted, a planted
    // /dev/console symlink is what the container controls.
    b.config["mounts"] = json!(b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["destination"] != "/dev")
        .cloned()
        .collect::<Vec<_>>());
    b.write();
    let victim = b.rootfs().join("etc/victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    std::os::unix::fs::symlink("/etc/victim", b.rootfs().join("dev/console")).unwrap();
    let id = unique("consolelink");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("/dev/console"), "{err}");
    h.assert_no_trace(&id);
}

/// The pty belongs to the process's user and stays in the tty group (devpts' gid=5), as
/// runc hands it over: a non-root process can set its own terminal's modes.
#[test]
fn the_terminal_belongs_to_the_processes_user() {
    skip_unless_root!();
    let h = Husk::new();
    let mut b = terminal_bundle(&["sh", "-c", "stat -c %u:%g $(tty)"]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 100});
    b.write();
    let id = unique("ttyowner");
    let (code, out, err) = h.run_bundle(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "1000:5\n");
}
