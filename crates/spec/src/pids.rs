//! `linux.resources.pids.limit` is optional since runtime spec 1.3 (`"pids": {}` sets no
//! limit), but oci-spec reads a missing limit as 0, which means "one process" (runc writes
//! pids.max 1 for it). What oci-spec cannot tell apart is told here, from the JSON itself.

use serde::de::IgnoredAny;
use serde::Deserialize;

/// Where the resources object sits in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// A whole config.json: `linux.resources.pids`.
    Config,
    /// A bare LinuxResources object (`husk update --resources`): `pids`.
    Resources,
}

#[derive(Deserialize)]
struct Pids {
    limit: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Resources {
    pids: Option<Pids>,
}

#[derive(Deserialize)]
struct Linux {
    resources: Option<Resources>,
}

#[derive(Deserialize)]
struct Config {
    linux: Option<Linux>,
}

/// True if the JSON has a pids object without a `limit`. Cheap when there is no `"pids"`
/// key at all, which is the common case; otherwise the JSON is scanned once more.
pub fn has_pids_without_limit(json: &[u8], at: At) -> bool {
    if !json.windows(6).any(|w| w == b"\"pids\"") {
        return false;
    }
    let pids = match at {
        At::Config => serde_json::from_slice::<Config>(json)
            .ok()
            .and_then(|c| c.linux?.resources?.pids),
        At::Resources => serde_json::from_slice::<Resources>(json)
            .ok()
            .and_then(|r| r.pids),
    };
    pids.is_some_and(|p| p.limit.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_pids_object_has_no_limit() {
        let c = br#"{"linux": {"resources": {"pids": {}}}}"#;
        assert!(has_pids_without_limit(c, At::Config));
        let c = br#"{"linux": {"resources": {"pids": {"limit": 0}}}}"#;
        assert!(!has_pids_without_limit(c, At::Config));
        assert!(has_pids_without_limit(br#"{"pids": {}}"#, At::Resources));
        assert!(!has_pids_without_limit(
            br#"{"pids": {"limit": -1}}"#,
            At::Resources
        ));
        assert!(!has_pids_without_limit(br#"{"memory": {}}"#, At::Resources));
    }
}
