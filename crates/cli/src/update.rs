//! `husk update`'s input: the `--resources` JSON (runc's LinuxResources) with each flag laid
//! over it, and the small value syntaxes runc takes (`64m`, `5s`).

use std::io::Read;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};

use husk_spec::pids::At;

use crate::args::UpdateArgs;

pub fn resources(u: &UpdateArgs) -> Result<LinuxResources> {
    let mut base: Value = match &u.resources {
        None => json!({}),
        Some(p) => {
            let mut text = String::new();
            if p.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading --resources from stdin")?;
            } else {
                text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading --resources {}", p.display()))?;
            }
            let mut v: Value = serde_json::from_str(&text)
                .context("--resources: not a JSON object of linux.resources")?;
            // `"pids": {}` sets no limit (oci-spec would read it as 0, one process).
            if husk_spec::pids::has_pids_without_limit(text.as_bytes(), At::Resources) {
                if let Some(o) = v.as_object_mut() {
                    o.remove("pids");
                }
            }
            v
        }
    };
    if u.l3_cache_schema.is_some() || u.mem_bw_schema.is_some() {
        bail!("--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported by husk");
    }
    let mut set = |section: &str, key: &str, v: Value| {
        let obj = base.as_object_mut().map(|o| {
            o.entry(section)
                .or_insert_with(|| Value::Object(Map::new()))
        });
        if let Some(Value::Object(s)) = obj {
            s.insert(key.to_string(), v);
        }
    };
    if let Some(w) = u.blkio_weight {
        set("blockIO", "weight", json!(w));
    }
    for (key, v) in [
        ("period", u.cpu_period.map(Value::from)),
        ("quota", u.cpu_quota.map(Value::from)),
        ("burst", u.cpu_burst.map(Value::from)),
        ("shares", u.cpu_share.map(Value::from)),
        ("realtimePeriod", u.cpu_rt_period.map(Value::from)),
        ("realtimeRuntime", u.cpu_rt_runtime.map(Value::from)),
        ("idle", u.cpu_idle.map(Value::from)),
        ("cpus", u.cpuset_cpus.clone().map(Value::from)),
        ("mems", u.cpuset_mems.clone().map(Value::from)),
    ] {
        if let Some(v) = v {
            set("cpu", key, v);
        }
    }
    for (key, flag, v) in [
        ("limit", "--memory", &u.memory),
        ("reservation", "--memory-reservation", &u.memory_reservation),
        ("swap", "--memory-swap", &u.memory_swap),
        ("kernel", "--kernel-memory", &u.kernel_memory),
        ("kernelTCP", "--kernel-memory-tcp", &u.kernel_memory_tcp),
    ] {
        if let Some(v) = v {
            let bytes = parse_bytes(v).with_context(|| format!("{flag} {v:?}"))?;
            set("memory", key, json!(bytes));
        }
    }
    if let Some(p) = u.pids_limit {
        set("pids", "limit", json!(p));
    }
    serde_json::from_value(base).context("--resources: not a valid linux.resources object")
}

/// Bytes as runc's go-units RAMInBytes reads them: `1024`, `64k`, `64m`, `1.5g`, `-1`.
pub fn parse_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().with_context(|| "not a size".to_string())?;
    let mult: f64 = match unit.trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        other => bail!("unknown unit {other:?}"),
    };
    if n < 0.0 {
        bail!("must not be negative (-1 means no limit)");
    }
    Ok((n * mult) as i64)
}

/// A Go duration as runc's `--interval` takes it: `5s`, `500ms`, `1m30s`, `2h`.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        bail!("empty duration");
    }
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(split);
        let n: f64 = num.parse().context("not a duration like 5s or 500ms")?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let secs = match unit {
            "ns" => n / 1e9,
            "us" | "µs" => n / 1e6,
            "ms" => n / 1e3,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => bail!("unknown unit {unit:?} (ns, us, ms, s, m, h)"),
        };
        total += Duration::from_secs_f64(secs);
        rest = tail;
    }
    if total.is_zero() {
        bail!("must be greater than zero");
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_like_runc() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("12x").is_err());
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
    }
}
