//! The device allow/deny list (`linux.resources.devices`), as written to a v1 devices cgroup.

use serde::{Deserialize, Serialize};

/// One rule: allow or deny `kind major:minor access`. `None` for major/minor means "all" (`*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    pub allow: bool,
    /// 'a', 'c' or 'b'.
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Some of "rwm".
    pub access: String,
}

impl DeviceRule {
    /// The line for devices.allow / devices.deny (`c 1:3 rwm`, `a *:* rwm`).
    pub fn v1_line(&self) -> String {
        let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        if self.kind == 'a' {
            // The kernel only takes "a" alone for the all-devices rule.
            return "a".to_string();
        }
        format!(
            "{} {}:{} {}",
            self.kind,
            num(self.major),
            num(self.minor),
            self.access
        )
    }
}

/// The devices every container may use, as runc allows them: null, zero, full, tty, random,
/// urandom, the pty devices, and mknod of any char/block node (opening still needs a rule).
pub fn default_allowed_devices() -> Vec<DeviceRule> {
    let c = |major: Option<i64>, minor: Option<i64>, access: &str| DeviceRule {
        allow: true,
        kind: 'c',
        major,
        minor,
        access: access.to_string(),
    };
    vec![
        c(None, None, "m"),
        DeviceRule {
            allow: true,
            kind: 'b',
            major: None,
            minor: None,
            access: "m".into(),
        },
        c(Some(1), Some(3), "rwm"), // /dev/null
        c(Some(1), Some(5), "rwm"), // /dev/zero
        c(Some(1), Some(7), "rwm"), // /dev/full
        c(Some(5), Some(0), "rwm"), // /dev/tty
        c(Some(1), Some(8), "rwm"), // /dev/random
        c(Some(1), Some(9), "rwm"), // /dev/urandom
        c(Some(136), None, "rwm"),  // /dev/pts/*
        c(Some(5), Some(2), "rwm"), // /dev/ptmx
        c(Some(5), Some(1), "rwm"), // /dev/console
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_v1_lines() {
        let d = default_allowed_devices();
        assert_eq!(d[0].v1_line(), "c *:* m");
        assert_eq!(d[2].v1_line(), "c 1:3 rwm");
        assert_eq!(d[8].v1_line(), "c 136:* rwm");
        let all = DeviceRule {
            allow: false,
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
        };
        assert_eq!(all.v1_line(), "a");
    }
}
