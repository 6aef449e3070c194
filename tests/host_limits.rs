//! The host's limits: a full filesystem under --root, a pid limit husk hits while forking, an
//! unwritable state root. Each gives a clear error and leaves nothing behind. (A cgroup
//! controller the host lacks: tests/cgroups.rs.) Needs root.
//!
//! The small and read-only filesystems are mounted in a private mount namespace
//! (`unshare -m`) around husk, so the host's mount table is never touched.

use std::process::Command;

use husk_e2e::*;

/// Run `script` under `unshare -m` (private propagation) with $HUSK, $BUNDLE, $ID and $DIR
/// (a scratch directory) set; return (exit code, stdout, stderr).
fn in_private_mounts(
    script: &str,
    b: &TestBundle,
    id: &str,
    dir: &TempDir,
) -> (i32, String, String) {
    let out = run_to_files(
        Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", script])
            .env("HUSK", husk_bin())
            .env("BUNDLE", b.path())
            .env("ID", id)
            .env("DIR", dir.path())
            .env("HUSK_LIMIT_TEST", id),
    );
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// No process of husk's (marked by the env var) and no cgroup of `id`.
fn nothing_left(id: &str) {
    for d in cgroup_dirs(id) {
        assert!(!d.exists(), "cgroup {} left", d.display());
    }
    let marker = format!("HUSK_LIMIT_TEST={id}");
    wait_for(
        || {
            !std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
                std::fs::read(e.path().join("environ"))
                    .unwrap_or_default()
                    .split(|b| *b == 0)
                    .any(|v| v == marker.as_bytes())
                    && e.file_name() != "self"
                    && std::fs::read_to_string(e.path().join("comm"))
                        .map(|c| c.trim() != "unshare")
                        .unwrap_or(false)
            })
        },
        "husk's processes to go",
    );
}

#[test]
fn a_full_filesystem_under_root_fails_cleanly() {
    skip_unless_root!();
    let b = TestBundle::busybox(&["true"]);
    let dir = TempDir::new("husk-full");
    let id = unique("full");
    let before = mount_table();
    // A 256 KiB tmpfs, filled: the state directory can be made (tmpfs inodes are not blocks),
    // state.json cannot be written.
    let (code, out, err) = in_private_mounts(
        r#"mount -t tmpfs -o size=256k tmpfs "$DIR" || exit 99
           dd if=/dev/zero of="$DIR/fill" bs=4k 2>/dev/null
           "$HUSK" --root "$DIR/state" create --bundle "$BUNDLE" "$ID"; echo "rc=$?"
           ls -A "$DIR/state""#,
        &b,
        &id,
        &dir,
    );
    assert_ne!(code, 99, "mounting the tmpfs: {err}");
    assert!(
        out.starts_with("rc=1\n"),
        "create did not fail: {out} {err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(out.trim_end(), "rc=1", "the state root is not empty: {out}");
    nothing_left(&id);
    assert_eq!(mount_table(), before);
}

#[test]
fn an_unwritable_state_root_fails_cleanly() {
    skip_unless_root!();
    let b = TestBundle::busybox(&["true"]);
    let dir = TempDir::new("husk-ro");
    let id = unique("ro");
    let (code, out, err) = in_private_mounts(
        r#"mount -t tmpfs -o ro tmpfs "$DIR" || exit 99
           "$HUSK" --root "$DIR/state" create --bundle "$BUNDLE" "$ID"; echo "rc=$?""#,
        &b,
        &id,
        &dir,
    );
    assert_ne!(code, 99, "mounting the tmpfs: {err}");
    assert_eq!(out.trim(), "rc=1", "{err}");
    assert!(
        err.contains("state root") && err.contains("Read-only file system"),
        "{err}"
    );
    nothing_left(&id);
}

#[test]
fn an_exhausted_pid_limit_fails_cleanly() {
    skip_unless_root!();
    // husk runs in a pids cgroup of its own with room for itself and one child: forking the
    // container's init fails.
    let pids_root = std::path::Path::new("/sys/fs/cgroup/pids");
    if !pids_root.join("cgroup.procs").exists() {
        skip!("no cgroup v1 pids hierarchy at {}", pids_root.display());
    }
    let limit = pids_root.join(unique("husk-pid-limit"));
    std::fs::create_dir(&limit).unwrap();
    std::fs::write(limit.join("pids.max"), "2").unwrap();
    let b = TestBundle::busybox(&["true"]);
    let h = Husk::new();
    let id = unique("pids");
    let out = run_to_files(
        Command::new("sh")
            .args([
                "-c",
                r#"echo $$ > "$LIMIT/cgroup.procs" && exec "$HUSK" --root "$ROOT" create --bundle "$BUNDLE" "$ID""#,
            ])
            .env("LIMIT", &limit)
            .env("HUSK", husk_bin())
            .env("ROOT", h.root.path())
            .env("BUNDLE", b.path())
            .env("ID", &id)
            .env("HUSK_LIMIT_TEST", &id),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Resource temporarily unavailable"), "{err}");
    assert!(err.contains("fork"), "{err}");
    h.assert_no_trace(&id);
    // The limit's cgroup is empty again (husk and its children are gone) and can go.
    wait_for(
        || {
            std::fs::read_to_string(limit.join("cgroup.procs"))
                .unwrap_or_default()
                .trim()
                .is_empty()
        },
        "the pid-limited cgroup to empty",
    );
    let leftover: Vec<_> = std::fs::read_dir(&limit)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    assert!(
        leftover.is_empty(),
        "cgroups left under the limit: {leftover:?}"
    );
    std::fs::remove_dir(&limit).unwrap();
}
