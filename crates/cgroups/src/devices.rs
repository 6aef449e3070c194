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
    /// A `linux.resources.devices` entry: no type is all devices, no access is "rwm".
    pub fn from_spec(d: &oci_spec::runtime::LinuxDeviceCgroup) -> DeviceRule {
        DeviceRule {
            allow: d.allow(),
            kind: d
                .typ()
                .map(|t| t.as_str().chars().next().unwrap_or('a'))
                .unwrap_or('a'),
            major: d.major(),
            minor: d.minor(),
            access: d
                .access()
                .as_deref()
                .map(only_rwm)
                .unwrap_or_else(|| "rwm".into()),
        }
    }

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

/// The access letters the kernel knows, in its order: runc reads "rwa" as "rw" (its rules
/// keep only r, w and m), and configs written for it carry such strings; the kernel refuses
/// them whole. An empty result is no access, which runc's rules also allow.
fn only_rwm(access: &str) -> String {
    "rwm".chars().filter(|c| access.contains(*c)).collect()
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

/// A container's whole device list, as runc builds it: the config's rules
/// (`linux.resources.devices`), then the default allowances. `linux.devices` nodes get no
/// rule of their own: the config's rules are the whole truth about them (Docker's
/// `--device /dev/x:/dev/y:r` is a node plus an `r` rule, and must stay read-only).
pub fn container_device_rules(config: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Vec<DeviceRule> {
    let mut rules: Vec<DeviceRule> = config.iter().map(DeviceRule::from_spec).collect();
    rules.extend(default_allowed_devices());
    rules
}

/// What a v1 devices cgroup holds after a list of rules, as the kernel keeps it: a default
/// (allow everything, or deny everything) and the exceptions to it, each an access mask
/// ("rwm") for one type and major:minor (`None` is `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    pub allow_all: bool,
    pub exceptions: std::collections::BTreeMap<(char, Option<i64>, Option<i64>), String>,
}

impl DeviceState {
    /// The state `rules` leave, written after a `devices.deny` of "a" (as husk applies them).
    pub fn after(rules: &[DeviceRule]) -> DeviceState {
        let mut s = DeviceState {
            allow_all: false,
            exceptions: Default::default(),
        };
        for r in rules {
            s.apply(r);
        }
        s
    }

    fn apply(&mut self, r: &DeviceRule) {
        if r.kind == 'a' {
            self.allow_all = r.allow;
            self.exceptions.clear();
            return;
        }
        let key = (r.kind, r.major, r.minor);
        let current = self.exceptions.get(&key).cloned().unwrap_or_default();
        // A rule against the default adds to its exception; one with the default takes
        // access away from the exception it matches exactly (the kernel's dev_exception_rm).
        let next = if r.allow != self.allow_all {
            union(&current, &r.access)
        } else {
            minus(&current, &r.access)
        };
        if next.is_empty() {
            self.exceptions.remove(&key);
        } else {
            self.exceptions.insert(key, next);
        }
    }

    /// The writes that take a cgroup from `self` to `target` without ever denying what both
    /// allow (a running process keeps /dev/null open through an update), as runc's minimal
    /// transition rules do: with a deny-all default on both sides, first allow what is new,
    /// then deny what is gone. None when the default changes: then only a full rewrite will do.
    pub fn transition_to(&self, target: &DeviceState) -> Option<Vec<DeviceRule>> {
        if self.allow_all || target.allow_all {
            return (self == target).then(Vec::new);
        }
        let rule =
            |allow: bool, key: &(char, Option<i64>, Option<i64>), access: String| DeviceRule {
                allow,
                kind: key.0,
                major: key.1,
                minor: key.2,
                access,
            };
        let mut out = Vec::new();
        for (key, want) in &target.exceptions {
            let added = minus(want, self.exceptions.get(key).map_or("", |s| s.as_str()));
            if !added.is_empty() {
                out.push(rule(true, key, added));
            }
        }
        for (key, have) in &self.exceptions {
            let gone = minus(have, target.exceptions.get(key).map_or("", |s| s.as_str()));
            if !gone.is_empty() {
                out.push(rule(false, key, gone));
            }
        }
        Some(out)
    }
}

/// Access letters of `a` or `b`, in "rwm" order.
fn union(a: &str, b: &str) -> String {
    "rwm"
        .chars()
        .filter(|c| a.contains(*c) || b.contains(*c))
        .collect()
}

/// Access letters of `a` not in `b`.
fn minus(a: &str, b: &str) -> String {
    "rwm"
        .chars()
        .filter(|c| a.contains(*c) && !b.contains(*c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(allow: bool, major: i64, minor: i64, access: &str) -> DeviceRule {
        DeviceRule {
            allow,
            kind: 'c',
            major: Some(major),
            minor: Some(minor),
            access: access.into(),
        }
    }

    #[test]
    fn the_same_rules_need_no_write() {
        let mut rules = vec![DeviceRule {
            allow: false,
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
        }];
        rules.extend(default_allowed_devices());
        let s = DeviceState::after(&rules);
        assert_eq!(s.transition_to(&s), Some(vec![]));
    }

    #[test]
    fn a_transition_allows_first_and_denies_what_is_gone() {
        let deny_all = DeviceRule {
            allow: false,
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
        };
        let before =
            DeviceState::after(&[deny_all.clone(), c(true, 1, 3, "rwm"), c(true, 7, 0, "rw")]);
        let after = DeviceState::after(&[
            deny_all,
            c(true, 1, 3, "rwm"),
            c(true, 7, 0, "r"),
            c(true, 10, 229, "rwm"),
        ]);
        let t = before.transition_to(&after).unwrap();
        assert_eq!(t, vec![c(true, 10, 229, "rwm"), c(false, 7, 0, "w")]);
        assert!(
            t.iter().all(|r| r.major != Some(1)),
            "null is never touched"
        );
    }

    #[test]
    fn a_change_of_default_has_no_minimal_transition() {
        let allow_all = DeviceRule {
            allow: true,
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
        };
        let before = DeviceState::after(&[allow_all]);
        let after = DeviceState::after(&[c(true, 1, 3, "rwm")]);
        assert_eq!(before.transition_to(&after), None);
    }

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
