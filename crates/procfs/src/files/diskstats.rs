//! /proc/diskstats: the host's devices the container did I/O on, with its own reads and
//! writes (requests and sectors) from the io (v2) or blkio (v1) controller.

use std::collections::HashMap;

use crate::view::View;

/// Per "major:minor": (read requests, read bytes, write requests, write bytes).
type Io = HashMap<String, (u64, u64, u64, u64)>;

fn io_v2(view: &View) -> Io {
    let mut out = Io::new();
    for line in view.read("io", "io.stat").unwrap_or_default().lines() {
        let mut f = line.split_whitespace();
        let Some(dev) = f.next() else { continue };
        let kv: HashMap<&str, u64> = f
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k, v.parse().ok()?))
            })
            .collect();
        let get = |k: &str| kv.get(k).copied().unwrap_or(0);
        out.insert(
            dev.to_string(),
            (get("rios"), get("rbytes"), get("wios"), get("wbytes")),
        );
    }
    out
}

/// v1 counts the same I/O in two places: blk-throttle's files (which some kernels leave at
/// zero when no limit is set) and the BFQ scheduler's (for devices that use it). The larger
/// of the two, per device and field.
fn io_v1(view: &View) -> Io {
    let mut out = Io::new();
    for prefix in ["blkio.throttle", "blkio.bfq"] {
        for (file, bytes) in [
            ("io_serviced_recursive", false),
            ("io_service_bytes_recursive", true),
        ] {
            let text = view
                .read("blkio", &format!("{prefix}.{file}"))
                .unwrap_or_default();
            for line in text.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                let [dev, op, n] = f[..] else { continue };
                let Ok(n) = n.parse::<u64>() else { continue };
                let e = out.entry(dev.to_string()).or_default();
                let field = match (op, bytes) {
                    ("Read", false) => &mut e.0,
                    ("Read", true) => &mut e.1,
                    ("Write", false) => &mut e.2,
                    ("Write", true) => &mut e.3,
                    _ => continue,
                };
                *field = (*field).max(n);
            }
        }
    }
    out
}

pub(crate) fn render(view: &View, host: &str) -> Option<String> {
    view.dir("blkio")?;
    // A v1 blkio hierarchy when the host has one (hybrid), else cgroup2's io.
    let io = if view.is_v2("blkio") {
        io_v2(view)
    } else {
        io_v1(view)
    };
    let mut out = String::new();
    for line in host.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let Some(&(rios, rbytes, wios, wbytes)) = io.get(&format!("{}:{}", f[0], f[1])) else {
            continue;
        };
        if rios + wios == 0 {
            continue;
        }
        let (rs, ws) = (rbytes / 512, wbytes / 512);
        out.push_str(&format!(
            "{:>4} {:>7} {} {rios} 0 {rs} 0 {wios} 0 {ws} 0 0 0 0 0 0 0 0 0 0\n",
            f[0], f[1], f[2]
        ));
    }
    Some(out)
}
