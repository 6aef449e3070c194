//! The mount plans configs produce (through the recorder), and option parsing.

use super::recording::Recorder;
use super::*;
use serde_json::json;

/// The calls `mounts` (config.json's entries, as JSON) make on a scratch rootfs holding
/// `dirs` (with their modes) and a bind source `/src` outside it. Needs no privilege.
fn plan(mounts: serde_json::Value, dirs: &[(&str, u32)]) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let scratch = std::env::temp_dir().join(format!(
        "husk-plan-{}-{}",
        std::process::id(),
        PLANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let rootfs = scratch.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    std::fs::create_dir_all(scratch.join("src")).unwrap();
    std::fs::write(scratch.join("src/hosts"), "").unwrap();
    for (d, mode) in dirs {
        let p = rootfs.join(d.trim_start_matches('/'));
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    let mounts: Vec<Mount> = serde_json::from_value(mounts).unwrap();
    let root = Root::open(&rootfs).unwrap();
    let recorder = Recorder::new(&rootfs);
    let no_source = |_| -> Result<OwnedFd, SysError> { Err(fail("source", "none in tests")) };
    let ctx = MountContext {
        root: &root,
        bundle: &scratch,
        in_userns: false,
        new_cgroupns: false,
        cgroup: None,
        source_from_husk: &no_source,
        husk_opens_sources: false,
        calls: &recorder,
    };
    for (i, m) in mounts.iter().enumerate() {
        mount_entry(&ctx, i, m).unwrap();
    }
    let _ = std::fs::remove_dir_all(&scratch);
    recorder.calls.into_inner()
}

static PLANS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[test]
fn plan_proc_sysfs_and_devpts_are_one_mount_each_with_their_flags() {
    let calls = plan(
        json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}
        ]),
        &[],
    );
    assert_eq!(
        calls,
        [
            "mount proc /proc proc 0 -",
            "mount sysfs /sys sysfs ro|nosuid|nodev|noexec -",
            "mount devpts /dev/pts devpts nosuid|noexec newinstance,ptmxmode=0666,mode=0620",
        ]
    );
}

#[test]
fn plan_a_tmpfs_over_a_directory_keeps_its_mode_unless_given_one() {
    let calls = plan(
        json!([
            {"destination": "/kept", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/given", "type": "tmpfs", "source": "tmpfs",
             "options": ["mode=1777", "size=65536k"]},
            {"destination": "/new", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}
        ]),
        &[("/kept", 0o710), ("/given", 0o700)],
    );
    assert_eq!(
        calls,
        [
            "mount tmpfs /kept tmpfs 0 mode=710",
            "mount tmpfs /given tmpfs 0 mode=1777,size=65536k",
            "mount tmpfs /new tmpfs nosuid -",
        ]
    );
}

#[test]
fn plan_a_bind_without_flags_is_not_remounted() {
    let calls = plan(
        json!([{"destination": "/mnt", "type": "bind", "source": "src", "options": ["bind"]}]),
        &[],
    );
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with("mount ") && calls[0].ends_with(" /mnt - bind -"),
        "{calls:?}"
    );
}

#[test]
fn plan_a_read_only_rbind_is_bound_then_remounted_with_exactly_its_flags() {
    let calls = plan(
        json!([{"destination": "/data", "type": "none", "source": "src",
                "options": ["rbind", "ro", "nosuid", "rprivate"]}]),
        &[],
    );
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls[0].ends_with(" /data - bind|rec -"), "{calls:?}");
    assert_eq!(calls[1], "mount - /data - remount|bind|ro|nosuid -");
    assert_eq!(calls[2], "mount - /data - rec|private -");
}

#[test]
fn plan_a_bind_clearing_a_flag_is_remounted_with_none() {
    let calls = plan(
        json!([{"destination": "/mnt", "type": "bind", "source": "src",
                "options": ["bind", "dev"]}]),
        &[],
    );
    assert_eq!(calls[1], "mount - /mnt - remount|bind -", "{calls:?}");
}

#[test]
fn plan_nosymfollow_is_a_flag_not_filesystem_data() {
    let calls = plan(
        json!([{"destination": "/mnt", "type": "bind", "source": "src",
                "options": ["bind", "nosymfollow"]}]),
        &[],
    );
    assert_eq!(
        calls[1], "mount - /mnt - remount|bind|nosymfollow -",
        "{calls:?}"
    );
}

#[test]
fn plan_iversion_and_recursive_nosymfollow() {
    let calls = plan(
        json!([
            {"destination": "/t", "type": "tmpfs", "source": "tmpfs",
             "options": ["iversion", "noiversion", "iversion"]},
            {"destination": "/u", "type": "tmpfs", "source": "tmpfs",
             "options": ["iversion", "noiversion"]},
            {"destination": "/r", "type": "bind", "source": "src",
             "options": ["rbind", "rnosymfollow"]},
            {"destination": "/s", "type": "bind", "source": "src",
             "options": ["rbind", "rnosymfollow", "rsymfollow"]}
        ]),
        &[],
    );
    assert_eq!(calls[0], "mount tmpfs /t tmpfs iversion -");
    assert_eq!(calls[1], "mount tmpfs /u tmpfs 0 -");
    assert_eq!(calls[3], "setattr /r set=0x200000 clear=0x0");
    assert_eq!(calls[5], "setattr /s set=0x0 clear=0x200000");
}

#[test]
fn plan_tmpcopyup_is_an_option_not_filesystem_data() {
    let o = opts(&["tmpcopyup", "mode=755"]);
    assert!(o.tmpcopyup);
    assert_eq!(o.data, ["mode=755"]);
}

#[test]
fn plan_recursive_attributes_go_to_mount_setattr_after_the_bind() {
    let calls = plan(
        json!([{"destination": "/r", "type": "bind", "source": "src",
                "options": ["rbind", "rro", "rnosuid"]}]),
        &[],
    );
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1], "setattr /r set=0x3 clear=0x0");
}

#[test]
fn plan_a_read_only_dev_tmpfs_is_mounted_writable_first() {
    let calls = plan(
        json!([{"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k", "ro"]}]),
        &[],
    );
    assert_eq!(
        calls,
        ["mount tmpfs /dev tmpfs nosuid|strictatime mode=755,size=65536k"]
    );
}

#[test]
fn plan_propagation_options_follow_the_mount_in_order() {
    let calls = plan(
        json!([{"destination": "/p", "type": "bind", "source": "src",
                "options": ["rbind", "rslave", "shared"]}]),
        &[],
    );
    assert_eq!(
        calls[1..],
        ["mount - /p - rec|slave -", "mount - /p - shared -"]
    );
}

#[test]
fn plan_mounts_are_made_in_config_order_and_nested_destinations_are_created() {
    let calls = plan(
        json!([
            {"destination": "/a", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/a/b/c", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]}
        ]),
        &[],
    );
    assert_eq!(
        calls,
        [
            "mount tmpfs /a tmpfs 0 -",
            "mount tmpfs /a/b/c tmpfs 0 -",
            "mount mqueue /dev/mqueue mqueue nosuid|nodev|noexec -",
        ]
    );
}

#[test]
fn plan_a_relative_destination_is_taken_from_the_root() {
    let calls = plan(
        json!([{"destination": "rel/dir", "type": "tmpfs", "source": "tmpfs"}]),
        &[],
    );
    assert_eq!(calls, ["mount tmpfs /rel/dir tmpfs 0 -"]);
}

#[test]
fn plan_a_file_bind_source_gets_a_file_as_its_target() {
    let calls = plan(
        json!([{"destination": "/etc/hosts", "type": "bind", "source": "src/hosts",
                "options": ["rbind", "ro"]}]),
        &[],
    );
    assert!(calls[0].ends_with(" /etc/hosts - bind|rec -"), "{calls:?}");
    assert_eq!(calls[1], "mount - /etc/hosts - remount|bind|ro -");
}

fn opts(list: &[&str]) -> MountOptions {
    parse_options(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

#[test]
fn flags_data_and_propagation_are_split() {
    let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k", "rslave"]);
    assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
    assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
    assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
}

#[test]
fn later_options_override_earlier_ones() {
    assert_eq!(opts(&["ro", "rw"]).flags, MsFlags::empty());
    assert_eq!(
        opts(&["rbind", "ro"]).flags,
        MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
    );
}

#[test]
fn recursive_attributes_go_to_mount_setattr() {
    let o = opts(&["rbind", "rro", "rnosuid"]);
    assert_eq!(o.rec_set, sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID);
    assert!(o.data.is_empty());
}
