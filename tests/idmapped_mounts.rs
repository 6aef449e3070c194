//! Idmapped mounts (`idmap`, `ridmap`, a mount's own uidMappings/gidMappings): the owner a
//! file shows inside the container, and on the host afterwards. Needs root.

use std::os::unix::fs::MetadataExt;

use husk_e2e::*;

/// A host directory owned by `owner` (uid = gid) with files owned by uid:gid.
fn owned_dir(owner: u32, files: &[(&str, u32, u32)]) -> TempDir {
    let d = TempDir::new("husk-idmap-src");
    std::fs::set_permissions(
        d.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    std::os::unix::fs::chown(d.path(), Some(owner), Some(owner)).unwrap();
    for (name, uid, gid) in files {
        let p = d.path().join(name);
        std::fs::write(&p, name).unwrap();
        std::os::unix::fs::chown(&p, Some(*uid), Some(*gid)).unwrap();
    }
    d
}

/// A user namespace mapping 0-65535 to 100000-165535, and the rootfs owned by its root (as
/// users prepare a rootfs for one), so that mount points can be made in it.
fn with_userns(b: &mut TestBundle) {
    let status = std::process::Command::new("chown")
        .args(["-R", "-h", "100000:100000"])
        .arg(b.rootfs())
        .status()
        .unwrap();
    assert!(status.success());
    let c = &mut b.config;
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
}

fn add_mount(c: &mut Value, mount: Value) {
    c["mounts"].as_array_mut().unwrap().push(mount);
}

fn run_ok(b: &TestBundle) -> String {
    let h = Husk::new();
    let id = unique("idmap");
    let (code, out, err) = h.run_bundle(b, &id);
    assert_eq!(code, 0, "stdout {out:?} stderr {err:?}");
    h.assert_no_trace(&id);
    out
}

#[test]
fn a_host_directory_owned_by_1000_is_owned_by_root_inside() {
    skip_unless_root!();
    let src = owned_dir(1000, &[("mine", 1000, 1000), ("other", 1001, 1001)]);
    let before = mount_table();
    let mut b = TestBundle::busybox(&[
        "sh",
        "-c",
        "stat -c '%n %u %g' /data/mine /data/other; touch /data/new 2>&1; stat -c '%n %u %g' /data/new; \
         stat -c '%n %u %g' /plain/mine",
    ]);
    with_userns(&mut b);
    add_mount(
        &mut b.config,
        json!({"destination": "/data", "type": "bind", "source": src.path(),
               "options": ["bind", "idmap"],
               "uidMappings": [{"containerID": 1000, "hostID": 100000, "size": 10}],
               "gidMappings": [{"containerID": 1000, "hostID": 100000, "size": 10}]}),
    );
    // The same directory without idmap: its owner is unmapped in the user namespace.
    add_mount(
        &mut b.config,
        json!({"destination": "/plain", "type": "bind", "source": src.path(), "options": ["bind"]}),
    );
    b.write();
    let out = run_ok(&b);
    let overflow = std::fs::read_to_string("/proc/sys/kernel/overflowuid").unwrap();
    let overflow = overflow.trim();
    assert_eq!(
        out,
        format!(
            "/data/mine 0 0\n/data/other 1 1\n/data/new 0 0\n/plain/mine {overflow} {overflow}\n"
        )
    );
    // On the host nothing changed owner, and the file made as the container's root belongs
    // to the on-disk id that maps to it.
    let meta = |n: &str| std::fs::metadata(src.path().join(n)).unwrap();
    assert_eq!((meta("mine").uid(), meta("mine").gid()), (1000, 1000));
    assert_eq!((meta("other").uid(), meta("other").gid()), (1001, 1001));
    assert_eq!((meta("new").uid(), meta("new").gid()), (1000, 1000));
    assert_eq!(mount_table(), before, "the host's mount table changed");
}

#[test]
fn idmap_without_mappings_takes_the_container_user_namespace() {
    skip_unless_root!();
    // On disk 0 maps to the container's 0 (host 100000), so root's files are root's inside.
    let src = owned_dir(0, &[("rootfile", 0, 0), ("five", 5, 7)]);
    let mut b = TestBundle::busybox(&["sh", "-c", "stat -c '%u %g' /data/rootfile /data/five"]);
    with_userns(&mut b);
    add_mount(
        &mut b.config,
        json!({"destination": "/data", "type": "bind", "source": src.path(),
               "options": ["rbind", "ridmap", "ro"]}),
    );
    b.write();
    assert_eq!(run_ok(&b), "0 0\n5 7\n");
}

#[test]
fn idmap_with_mappings_works_without_a_user_namespace() {
    skip_unless_root!();
    // runc's semantics: on-disk containerID is shown as hostID.
    let src = owned_dir(0, &[("f", 100, 211)]);
    let mut b = TestBundle::busybox(&["stat", "-c", "%u %g", "/data/f"]);
    add_mount(
        &mut b.config,
        json!({"destination": "/data", "type": "bind", "source": src.path(),
               "options": ["bind"],
               "uidMappings": [{"containerID": 100, "hostID": 1100, "size": 3}],
               "gidMappings": [{"containerID": 200, "hostID": 1900, "size": 50}]}),
    );
    b.write();
    assert_eq!(run_ok(&b), "1100 1911\n");
}

#[test]
fn idmap_without_mappings_or_user_namespace_is_refused_and_leaves_nothing() {
    skip_unless_root!();
    let src = owned_dir(0, &[]);
    let mut b = TestBundle::busybox(&["true"]);
    add_mount(
        &mut b.config,
        json!({"destination": "/data", "type": "bind", "source": src.path(),
               "options": ["bind", "idmap"]}),
    );
    b.write();
    let h = Husk::new();
    let id = unique("idmap-bad");
    let (code, _, err) = h.run_bundle(&b, &id);
    assert_ne!(code, 0);
    assert!(
        err.contains("mounts[") && err.contains("no user namespace"),
        "{err}"
    );
    h.assert_no_trace(&id);
}

#[test]
fn an_idmapped_file_on_a_filesystem_without_support_fails_cleanly() {
    skip_unless_root!();
    // procfs does not support idmapped mounts: the error names the mount, nothing is left.
    let mut b = TestBundle::busybox(&["true"]);
    with_userns(&mut b);
    add_mount(
        &mut b.config,
        json!({"destination": "/hostproc", "type": "bind", "source": "/proc/sys",
               "options": ["bind", "idmap"]}),
    );
    b.write();
    let h = Husk::new();
    let id = unique("idmap-proc");
    let before = mount_table();
    let (code, _, err) = h.run_bundle(&b, &id);
    assert_ne!(code, 0);
    assert!(
        err.contains("mounts[") && err.contains("MOUNT_ATTR_IDMAP"),
        "{err}"
    );
    h.assert_no_trace(&id);
    assert_eq!(mount_table(), before);
}
