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

fn io_v1(view: &View) -> Io {
    let mut out = Io::new();
    for (file, bytes) in [
        ("blkio.throttle.io_serviced_recursive", false),
        ("blkio.throttle.io_service_bytes_recursive", true),
    ] {
        for line in view.read("blkio", file).unwrap_or_default().lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [dev, op, n] = f[..] else { continue };
            let Ok(n) = n.parse::<u64>() else { continue };
            let e = out.entry(dev.to_string()).or_default();
            match (op, bytes) {
                ("Read", false) => e.0 = n,
                ("Read", true) => e.1 = n,
                ("Write", false) => e.2 = n,
                ("Write", true) => e.3 = n,
                _ => {}
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
