//! `husk spec`: runc's default config.json for this host: with a cgroup namespace only on a
//! pure cgroup v2 host, as runc decides it.

use serde_json::Value;

/// The default config (rootless: for the calling user's own ids).
pub fn default_config(rootless: bool) -> Value {
    let unified = husk_cgroups::detect_mode() == Some(husk_cgroups::Mode::Unified);
    if rootless {
        husk_spec::default_spec::rootless_spec(
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
            unified,
        )
    } else {
        husk_spec::default_spec::default_spec(unified)
    }
}
