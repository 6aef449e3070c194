//! `process.apparmorProfile`, `process.selinuxLabel` and `linux.mountLabel`: the Linux
//! security modules' labels. husk applies none of them. A config that asks for one is refused
//! by `create`, `run` and `exec` alike, before anything is made: running the process
//! unconfined while the config asked for confinement would report success for a container
//! that is not what was asked for.

use std::path::Path;

use oci_spec::runtime::{Process, Spec};

/// Why a label cannot be applied here: the module is not enabled on this host (a fact of the
/// host), or husk does not apply that module's labels (where the host has it).
fn reason(module: &str, enabled: bool) -> String {
    if enabled {
        format!("husk does not apply {module} labels; remove it from the config")
    } else {
        format!("{module} is not enabled on this host, so it cannot be applied; remove it from the config")
    }
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y")
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// The labels of `process` (a container's, or one `exec` runs: `--apparmor`, `--process-label`).
pub fn refuse_process_labels(process: &Process) -> Result<(), String> {
    if let Some(profile) = set(process.apparmor_profile()) {
        return Err(format!(
            "process.apparmorProfile {profile:?}: {}",
            reason("AppArmor", apparmor_enabled())
        ));
    }
    if let Some(label) = set(process.selinux_label()) {
        return Err(format!(
            "process.selinuxLabel {label:?}: {}",
            reason("SELinux", selinux_enabled())
        ));
    }
    Ok(())
}

/// Every label of a container's config.
pub fn refuse_labels(spec: &Spec) -> Result<(), String> {
    if let Some(process) = spec.process() {
        refuse_process_labels(process)?;
    }
    if let Some(label) = spec.linux().as_ref().and_then(|l| set(l.mount_label())) {
        return Err(format!(
            "linux.mountLabel {label:?}: {}",
            reason("SELinux", selinux_enabled())
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_label_is_named_in_its_refusal() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.0","root":{"path":"rootfs"},
                "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0},"apparmorProfile":"p"}}"#,
        )
        .unwrap();
        let e = refuse_labels(&spec).unwrap_err();
        assert!(e.starts_with("process.apparmorProfile \"p\": "), "{e}");
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.0","root":{"path":"rootfs"},"linux":{"mountLabel":"m"}}"#,
        )
        .unwrap();
        let e = refuse_labels(&spec).unwrap_err();
        assert!(e.starts_with("linux.mountLabel \"m\": "), "{e}");
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.0","root":{"path":"rootfs"},"linux":{"mountLabel":""}}"#,
        )
        .unwrap();
        assert!(refuse_labels(&spec).is_ok(), "an empty label is no label");
    }
}
