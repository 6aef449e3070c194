//! Every MUST of the runtime spec's config sections that can be checked before anything is
//! created, with the JSON path of each violation. Deprecated-but-accepted forms come back as
//! warnings (runc accepts them too).

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceType, LinuxIdMapping, LinuxNamespaceType, Spec};

/// One broken rule: where, and what the rule is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub rule: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.rule)
    }
}

/// All violations found in one config, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations(pub Vec<Violation>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|v| v.to_string()).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for Violations {}

#[derive(Default)]
struct Checker {
    errors: Vec<Violation>,
    warnings: Vec<String>,
}

impl Checker {
    fn fail(&mut self, path: impl Into<String>, rule: impl Into<String>) {
        self.errors.push(Violation {
            path: path.into(),
            rule: rule.into(),
        });
    }
    fn absolute(&mut self, path: String, p: &Path) {
        if !p.is_absolute() {
            self.fail(path, "must be an absolute path");
        }
    }
}

/// Namespaces whose new instance is required by a sysctl prefix, as runc checks.
const SYSCTL_NAMESPACES: &[(&str, LinuxNamespaceType)] = &[
    ("net.", LinuxNamespaceType::Network),
    ("kernel.msg", LinuxNamespaceType::Ipc),
    ("kernel.sem", LinuxNamespaceType::Ipc),
    ("kernel.shm", LinuxNamespaceType::Ipc),
    ("fs.mqueue.", LinuxNamespaceType::Ipc),
    ("kernel.hostname", LinuxNamespaceType::Uts),
    ("kernel.domainname", LinuxNamespaceType::Uts),
];

const PROPAGATIONS: &[&str] = &[
    "shared",
    "slave",
    "private",
    "unbindable",
    "rshared",
    "rslave",
    "rprivate",
    "runbindable",
];

/// Check `spec`; Ok carries warnings for deprecated forms that are still accepted.
pub fn validate(spec: &Spec) -> Result<Vec<String>, Violations> {
    let mut c = Checker::default();
    check_version(&mut c, spec.version());
    check_root(&mut c, spec);
    check_process(&mut c, spec);
    check_mounts(&mut c, spec);
    check_hooks(&mut c, spec);
    check_linux(&mut c, spec);
    if let Some(mp) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.memory_policy().as_ref())
    {
        check_memory_policy(&mut c, mp);
    }
    if let Some(annotations) = spec.annotations() {
        if annotations.contains_key("") {
            c.fail("annotations", "keys must not be empty");
        }
    }
    if c.errors.is_empty() {
        Ok(c.warnings)
    } else {
        Err(Violations(c.errors))
    }
}

fn check_version(c: &mut Checker, version: &str) {
    let core = version.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<Option<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
    match parts.as_slice() {
        [Some(1), Some(minor), Some(_)] if *minor <= 3 => {}
        [Some(_), Some(_), Some(_)] => c.fail(
            "ociVersion",
            format!("{version:?} is not supported (husk reads 1.0.0 to 1.3.x)"),
        ),
        _ => c.fail(
            "ociVersion",
            format!("{version:?} must be a SemVer version such as \"1.3.0\""),
        ),
    }
}

fn check_root(c: &mut Checker, spec: &Spec) {
    match spec.root() {
        None => c.fail("root", "is required"),
        Some(root) if root.path().as_os_str().is_empty() => {
            c.fail("root.path", "must not be empty")
        }
        Some(_) => {}
    }
}

fn check_process(c: &mut Checker, spec: &Spec) {
    let Some(process) = spec.process() else {
        c.fail("process", "is required");
        return;
    };
    match process.args() {
        Some(args) if !args.is_empty() => {
            if args[0].is_empty() {
                c.fail("process.args[0]", "must not be empty");
            }
        }
        _ => c.fail("process.args", "must not be empty"),
    }
    c.absolute("process.cwd".into(), process.cwd());
    for (i, e) in process.env().iter().flatten().enumerate() {
        match e.split_once('=') {
            Some((k, _)) if !k.is_empty() => {}
            _ => c.fail(
                format!("process.env[{i}]"),
                format!("{e:?} must be KEY=value"),
            ),
        }
        if e.contains('\0') {
            c.fail(format!("process.env[{i}]"), "must not contain a NUL byte");
        }
    }
    for (i, a) in process.args().iter().flatten().enumerate() {
        if a.contains('\0') {
            c.fail(format!("process.args[{i}]"), "must not contain a NUL byte");
        }
    }
    let mut seen = HashSet::new();
    for (i, r) in process.rlimits().iter().flatten().enumerate() {
        if !seen.insert(r.typ().to_string()) {
            c.fail(
                format!("process.rlimits[{i}].type"),
                format!("duplicate {:?}", r.typ().to_string()),
            );
        }
        if r.soft() > r.hard() {
            c.fail(
                format!("process.rlimits[{i}]"),
                format!("soft limit {} exceeds hard limit {}", r.soft(), r.hard()),
            );
        }
    }
    if let Some(adj) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            c.fail(
                "process.oomScoreAdj",
                format!("{adj} must be between -1000 and 1000"),
            );
        }
    }
    if let Some(umask) = process.user().umask() {
        if umask > 0o7777 {
            c.fail(
                "process.user.umask",
                format!("{umask:#o} must be at most 0o7777"),
            );
        }
    }
}

fn check_mounts(c: &mut Checker, spec: &Spec) {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = m.destination();
        if dest.as_os_str().is_empty() {
            c.fail(format!("mounts[{i}].destination"), "must not be empty");
        } else if !dest.is_absolute() {
            // Deprecated, not forbidden, since runtime-spec 1.2: taken relative to "/" as runc does.
            c.warnings.push(format!(
                "mounts[{i}].destination: {dest:?} is relative; taken as /{} (deprecated)",
                dest.display()
            ));
        }
        if climbs_above_root(dest) {
            c.fail(
                format!("mounts[{i}].destination"),
                format!("{dest:?} climbs above / with \"..\""),
            );
        }
        if dest.as_os_str().as_encoded_bytes().contains(&0) {
            c.fail(
                format!("mounts[{i}].destination"),
                "must not contain a NUL byte",
            );
        }
        let is_bind = m
            .options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind")
            || m.typ().as_deref() == Some("bind");
        if is_bind && m.source().is_none() {
            c.fail(
                format!("mounts[{i}].source"),
                "is required for a bind mount",
            );
        }
        let idmap = m
            .options()
            .iter()
            .flatten()
            .any(|o| o == "idmap" || o == "ridmap");
        check_idmapped_mount(c, spec, i, m, idmap, is_bind);
    }
}

/// An idmapped mount (`idmap`, `ridmap`, or the mount's own mappings) is a bind mount, has
/// both mappings or neither, and without them borrows the container's user namespace.
fn check_idmapped_mount(
    c: &mut Checker,
    spec: &Spec,
    i: usize,
    m: &oci_spec::runtime::Mount,
    idmap: bool,
    is_bind: bool,
) {
    let (uid, gid) = (m.uid_mappings(), m.gid_mappings());
    if !idmap && uid.is_none() && gid.is_none() {
        return;
    }
    if !is_bind {
        c.fail(
            format!("mounts[{i}].options"),
            "idmapped mounts (idmap, ridmap, uidMappings) need a bind mount (bind or rbind)",
        );
    }
    match (uid, gid) {
        (Some(u), Some(g)) => {
            check_mappings(c, &format!("mounts[{i}].uidMappings"), u);
            check_mappings(c, &format!("mounts[{i}].gidMappings"), g);
            for (field, maps) in [("uidMappings", u), ("gidMappings", g)] {
                if maps.is_empty() {
                    c.fail(format!("mounts[{i}].{field}"), "must not be empty");
                }
            }
        }
        (Some(_), None) => c.fail(
            format!("mounts[{i}].gidMappings"),
            "must be given along with uidMappings",
        ),
        (None, Some(_)) => c.fail(
            format!("mounts[{i}].uidMappings"),
            "must be given along with gidMappings",
        ),
        (None, None) => {
            let userns = spec
                .linux()
                .as_ref()
                .and_then(|l| l.namespaces().as_ref())
                .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User));
            if !userns {
                c.fail(
                    format!("mounts[{i}].options"),
                    "idmap without uidMappings and gidMappings takes the container's user \
                     namespace mappings, and there is no user namespace in linux.namespaces",
                );
            }
        }
    }
}

#[allow(deprecated)] // prestart is deprecated in the spec but still MUST run
fn check_hooks(c: &mut Checker, spec: &Spec) {
    let Some(hooks) = spec.hooks() else { return };
    let lists = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ];
    for (name, list) in lists {
        for (i, h) in list.iter().flatten().enumerate() {
            c.absolute(format!("hooks.{name}[{i}].path"), h.path());
            if let Some(t) = h.timeout() {
                if t <= 0 {
                    c.fail(
                        format!("hooks.{name}[{i}].timeout"),
                        format!("{t} must be > 0"),
                    );
                }
            }
            for (j, e) in h.env().iter().flatten().enumerate() {
                if !e.contains('=') {
                    c.fail(
                        format!("hooks.{name}[{i}].env[{j}]"),
                        format!("{e:?} must be KEY=value"),
                    );
                }
            }
        }
    }
}

fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

fn check_mappings(c: &mut Checker, field: &str, maps: &[LinuxIdMapping]) {
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            c.fail(format!("{field}[{i}].size"), "must be > 0");
        }
        for (what, start) in [("containerID", m.container_id()), ("hostID", m.host_id())] {
            if u64::from(start) + u64::from(m.size()) > u64::from(u32::MAX) {
                c.fail(
                    format!("{field}[{i}].{what}"),
                    format!("range {start}+{} passes 2^32-1", m.size()),
                );
            }
        }
    }
    // Ranges must not overlap on either side, or the kernel rejects the map.
    for (i, a) in maps.iter().enumerate() {
        for b in &maps[..i] {
            let overlap = |x: u32, y: u32| {
                let (x, y, xs, ys) = (
                    u64::from(x),
                    u64::from(y),
                    u64::from(a.size()),
                    u64::from(b.size()),
                );
                x < y + ys && y < x + xs
            };
            if overlap(a.container_id(), b.container_id()) || overlap(a.host_id(), b.host_id()) {
                c.fail(format!("{field}[{i}]"), "overlaps an earlier range");
            }
        }
    }
    if maps.len() > 340 {
        c.fail(
            field.to_string(),
            "at most 340 ranges are allowed by the kernel",
        );
    }
}

fn check_linux(c: &mut Checker, spec: &Spec) {
    let Some(linux) = spec.linux() else {
        c.fail("linux", "is required on Linux");
        return;
    };
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    let ns = Namespaces(&namespaces);
    check_namespaces(c, &ns);
    check_id_mappings(c, linux, &ns);
    check_names(c, spec, &ns);
    check_time_offsets(c, linux, &ns);
    check_sysctls(c, linux, &ns);
    check_devices(c, linux);
    check_linux_paths(c, linux);
    check_net_devices(c, linux, &ns);
}

/// `linux.netDevices` (spec 1.3): host interfaces moved into the container's own network
/// namespace. As runc: names the kernel would take (1 to 15 bytes, no '/', ':' or
/// whitespace, not "." or ".."), never the loopback, and no two devices under one name there.
fn check_net_devices(c: &mut Checker, linux: &oci_spec::runtime::Linux, ns: &Namespaces<'_>) {
    let Some(devices) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) else {
        return;
    };
    if !ns.has(LinuxNamespaceType::Network) {
        c.fail(
            "linux.netDevices",
            "moving network devices needs a network namespace of the container's own (new or joined)",
        );
    }
    let mut names: Vec<(&str, String)> = devices
        .iter()
        .map(|(host, d)| {
            (
                host.as_str(),
                d.name().clone().unwrap_or_else(|| host.clone()),
            )
        })
        .collect();
    names.sort();
    let mut seen = HashSet::new();
    for (host, name) in &names {
        let at = format!("linux.netDevices.{host}");
        if !valid_interface_name(host) {
            c.fail(&at, format!("{host:?} is not a network interface name"));
        }
        if *host == "lo" {
            c.fail(&at, "the loopback device cannot be moved");
        }
        if !valid_interface_name(name) {
            c.fail(
                format!("{at}.name"),
                format!("{name:?} is not a network interface name"),
            );
        }
        if !seen.insert(name.clone()) {
            c.fail(
                format!("{at}.name"),
                format!("{name:?} is the name of another device too"),
            );
        }
    }
}

/// A name the kernel takes for an interface (dev_valid_name): 1 to 15 bytes, not "." or
/// "..", no '/', ':' or whitespace.
pub fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|ch| ch == '/' || ch == ':' || ch.is_whitespace())
}

/// The config's namespaces: which are listed, which are new (listed without a path; an
/// empty path is no path, as runc reads it).
struct Namespaces<'a>(&'a [oci_spec::runtime::LinuxNamespace]);

impl Namespaces<'_> {
    fn made_new(&self, t: LinuxNamespaceType) -> bool {
        self.0
            .iter()
            .any(|n| n.typ() == t && n.path().as_ref().is_none_or(|p| p.as_os_str().is_empty()))
    }

    fn has(&self, t: LinuxNamespaceType) -> bool {
        self.0.iter().any(|n| n.typ() == t)
    }
}

fn check_namespaces(c: &mut Checker, ns: &Namespaces<'_>) {
    let mut seen = HashSet::new();
    for (i, n) in ns.0.iter().enumerate() {
        if !seen.insert(n.typ()) {
            c.fail(
                "linux.namespaces",
                format!("duplicate {:?}", ns_name(n.typ())),
            );
        }
        if let Some(p) = n.path().as_ref().filter(|p| !p.as_os_str().is_empty()) {
            c.absolute(format!("linux.namespaces[{i}].path"), p);
        }
    }
}

fn check_id_mappings(c: &mut Checker, linux: &oci_spec::runtime::Linux, ns: &Namespaces<'_>) {
    let uid_maps = linux.uid_mappings().clone().unwrap_or_default();
    let gid_maps = linux.gid_mappings().clone().unwrap_or_default();
    check_mappings(c, "linux.uidMappings", &uid_maps);
    check_mappings(c, "linux.gidMappings", &gid_maps);
    if !ns.has(LinuxNamespaceType::User) && (!uid_maps.is_empty() || !gid_maps.is_empty()) {
        c.fail(
            "linux.uidMappings",
            "mappings need a user namespace in linux.namespaces",
        );
    }
    if !ns.made_new(LinuxNamespaceType::User) {
        return;
    }
    if uid_maps.is_empty() {
        c.fail(
            "linux.uidMappings",
            "a new user namespace needs at least one uid mapping",
        );
    }
    if gid_maps.is_empty() {
        c.fail(
            "linux.gidMappings",
            "a new user namespace needs at least one gid mapping",
        );
    }
}

/// As runc: a hostname or domainname needs a uts namespace of the container's own (new, or
/// joined by path), never the runtime's, which would rename the host.
fn check_names(c: &mut Checker, spec: &Spec, ns: &Namespaces<'_>) {
    if ns.has(LinuxNamespaceType::Uts) {
        return;
    }
    for (field, value) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        if value.as_deref().is_some_and(|v| !v.is_empty()) {
            c.fail(
                field,
                format!("setting a {field} needs a uts namespace (new or joined), not the host's"),
            );
        }
    }
}

fn check_time_offsets(c: &mut Checker, linux: &oci_spec::runtime::Linux, ns: &Namespaces<'_>) {
    let Some(offsets) = linux.time_offsets() else {
        return;
    };
    if !ns.made_new(LinuxNamespaceType::Time) && !offsets.is_empty() {
        c.fail(
            "linux.timeOffsets",
            "time offsets need a new time namespace",
        );
    }
    for clock in offsets.keys() {
        if clock != "monotonic" && clock != "boottime" {
            c.fail(
                format!("linux.timeOffsets.{clock}"),
                "clock must be \"monotonic\" or \"boottime\"",
            );
        }
    }
}

fn check_sysctls(c: &mut Checker, linux: &oci_spec::runtime::Linux, ns: &Namespaces<'_>) {
    for key in linux.sysctl().iter().flat_map(|m| m.keys()) {
        if key.is_empty() || key.contains("..") || key.contains('/') && key.contains('.') {
            c.fail(format!("linux.sysctl.{key}"), "is not a valid sysctl name");
            continue;
        }
        for (prefix, t) in SYSCTL_NAMESPACES {
            if key.starts_with(prefix) && !ns.made_new(*t) {
                c.fail(
                    format!("linux.sysctl.{key}"),
                    format!("needs a new {} namespace", ns_name(*t)),
                );
            }
        }
    }
}

fn check_devices(c: &mut Checker, linux: &oci_spec::runtime::Linux) {
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        c.absolute(format!("linux.devices[{i}].path"), d.path());
        if climbs_above_root(d.path()) {
            c.fail(
                format!("linux.devices[{i}].path"),
                format!("{:?} climbs above / with \"..\"", d.path()),
            );
        }
        match d.typ() {
            LinuxDeviceType::A => c.fail(
                format!("linux.devices[{i}].type"),
                "must be one of b, c, u, p",
            ),
            LinuxDeviceType::B | LinuxDeviceType::C | LinuxDeviceType::U => {
                if d.major() < 0 || d.minor() < 0 {
                    c.fail(
                        format!("linux.devices[{i}]"),
                        "major and minor must be >= 0",
                    );
                }
            }
            LinuxDeviceType::P => {}
        }
    }
}

/// maskedPaths, readonlyPaths, rootfsPropagation, cgroupsPath.
fn check_linux_paths(c: &mut Checker, linux: &oci_spec::runtime::Linux) {
    for (field, list) in [
        ("maskedPaths", linux.masked_paths()),
        ("readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, p) in list.iter().flatten().enumerate() {
            c.absolute(format!("linux.{field}[{i}]"), Path::new(p));
        }
    }
    if let Some(p) = linux.rootfs_propagation() {
        if !p.is_empty() && !PROPAGATIONS.contains(&p.as_str()) {
            c.fail(
                "linux.rootfsPropagation",
                format!("{p:?} must be one of {}", PROPAGATIONS.join(", ")),
            );
        }
    }
    if let Some(path) = linux.cgroups_path() {
        if path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            c.fail("linux.cgroupsPath", "must not contain \"..\"");
        }
    }
}

/// A container path whose `..` components go above its root ("/../etc"): meaningless inside
/// the container (it would be taken as "/etc") and only ever a mistake or an attempt to
/// reach the host, so it is refused.
/// NUMA node numbers a memory policy may name (the kernel's largest MAX_NUMNODES).
pub const MAX_NUMA_NODES: u32 = 1024;

/// The nodes of a list like "0-3,7", or the piece that is not a node number or range.
pub fn numa_nodes(list: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let node = |s: &str| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n < MAX_NUMA_NODES)
                .ok_or_else(|| part.to_string())
        };
        let (a, b) = (node(a)?, node(b)?);
        if a > b {
            return Err(part.to_string());
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// runc's rules for `linux.memoryPolicy`: the nodes parse, MPOL_DEFAULT and MPOL_LOCAL take
/// none, the modes that place memory on nodes need some. The messages carry runc's words
/// ("invalid memory policy ...", "mode requires 0 nodes but got N").
fn check_memory_policy(c: &mut Checker, mp: &oci_spec::runtime::LinuxMemoryPolicy) {
    use oci_spec::runtime::MemoryPolicyModeType as M;
    let nodes = match numa_nodes(mp.nodes().as_deref().unwrap_or_default()) {
        Ok(n) => n,
        Err(bad) => {
            c.fail(
                "linux.memoryPolicy.nodes",
                format!(
                    "invalid memory policy node {bad:?} (nodes are 0 to {})",
                    MAX_NUMA_NODES - 1
                ),
            );
            return;
        }
    };
    match mp.mode() {
        M::MpolDefault | M::MpolLocal if !nodes.is_empty() => c.fail(
            "linux.memoryPolicy.nodes",
            format!(
                "{} mode requires 0 nodes but got {}",
                mp.mode(),
                nodes.len()
            ),
        ),
        M::MpolBind | M::MpolInterleave | M::MpolWeightedInterleave | M::MpolPreferredMany
            if nodes.is_empty() =>
        {
            c.fail(
                "linux.memoryPolicy.nodes",
                format!("{} mode requires at least 1 node", mp.mode()),
            )
        }
        _ => {}
    }
}

fn climbs_above_root(p: &std::path::Path) -> bool {
    use std::path::Component;
    let mut depth: usize = 0;
    for c in p.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir if depth == 0 => return true,
            Component::ParentDir => depth -= 1,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Spec {
        crate::bundle::parse_config_reader(json.as_bytes()).expect("parses")
    }

    const BASE: &str = r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
        "process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
        "linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}}"#;

    fn with(patch: &str) -> Result<Vec<String>, Violations> {
        let mut v: serde_json::Value = serde_json::from_str(BASE).unwrap();
        let p: serde_json::Value = serde_json::from_str(patch).unwrap();
        merge(&mut v, p);
        validate(&parse(&v.to_string()))
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn err(patch: &str) -> String {
        with(patch).expect_err("must be rejected").to_string()
    }

    #[test]
    fn base_config_is_valid() {
        assert_eq!(with("{}"), Ok(vec![]));
    }

    #[test]
    fn names_the_json_path_of_each_rule() {
        assert_eq!(
            err(r#"{"process":{"args":[]}}"#),
            "process.args: must not be empty"
        );
        assert_eq!(
            err(r#"{"process":{"cwd":"tmp"}}"#),
            "process.cwd: must be an absolute path"
        );
        assert_eq!(
            err(r#"{"hooks":{"prestart":[{"path":"hook"}]}}"#),
            "hooks.prestart[0].path: must be an absolute path"
        );
        assert_eq!(
            err(r#"{"linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}}"#),
            "linux.namespaces: duplicate \"pid\""
        );
        assert_eq!(
            err(
                r#"{"linux":{"namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":0,"size":0}],"gidMappings":[{"containerID":0,"hostID":0,"size":1}]}}"#
            ),
            "linux.uidMappings[0].size: must be > 0"
        );
        assert!(err(r#"{"ociVersion":"2.0.0"}"#).starts_with("ociVersion:"));
        assert!(err(r#"{"hostname":"x"}"#).starts_with("hostname: setting a hostname needs a uts"));
    }

    #[test]
    fn accepts_every_supported_version() {
        for v in ["1.0.0", "1.0.2-dev", "1.1.0", "1.2.1", "1.3.0"] {
            assert!(with(&format!(r#"{{"ociVersion":"{v}"}}"#)).is_ok(), "{v}");
        }
    }

    #[test]
    fn relative_mount_destination_is_a_warning() {
        let w =
            with(r#"{"mounts":[{"destination":"tmp","type":"tmpfs","source":"tmpfs"}]}"#).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("mounts[0].destination"));
    }

    #[test]
    fn overlapping_mappings_are_rejected() {
        let e = err(r#"{"linux":{"namespaces":[{"type":"user"}],
            "uidMappings":[{"containerID":0,"hostID":1000,"size":10},{"containerID":5,"hostID":5000,"size":10}],
            "gidMappings":[{"containerID":0,"hostID":0,"size":1}]}}"#);
        assert_eq!(e, "linux.uidMappings[1]: overlaps an earlier range");
    }
}
