//! /proc/loadavg from the container's own tasks: every 5 s the daemon counts, in each cgroup
//! read from lately, the tasks that are running or in uninterruptible sleep, and folds the
//! count into 1, 5 and 15 minute averages as the kernel does (fixed-point exponential decay).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::view::View;

/// How often the tasks are counted, as the kernel's LOAD_FREQ.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// A cgroup nobody read the load of for this long is no longer sampled.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// The kernel's EXP_1, EXP_5, EXP_15 over FIXED_1 (1 << 11).
const FIXED_1: u64 = 1 << 11;
const EXP: [u64; 3] = [1884, 2014, 2037];

#[derive(Debug, Clone)]
struct Load {
    view: View,
    /// Fixed-point averages, as the kernel keeps avenrun.
    avg: [u64; 3],
    running: usize,
    total: usize,
    last_read: Instant,
}

/// The load of every cgroup being watched, keyed by its directory.
#[derive(Debug, Clone, Default)]
pub struct Loads(Arc<Mutex<HashMap<PathBuf, Load>>>);

/// One kernel calc_load step.
fn decay(load: u64, exp: u64, active: u64) -> u64 {
    let newload = load * exp + active * (FIXED_1 - exp);
    let rounded = if active >= load {
        newload + FIXED_1 - 1
    } else {
        newload
    };
    rounded / FIXED_1
}

/// (running or uninterruptible, all) tasks of the cgroup.
fn count(view: &View) -> (usize, usize) {
    let threads = view.threads("cpu");
    let active = threads
        .iter()
        .filter(|t| {
            let stat = std::fs::read_to_string(format!("/proc/{t}/stat")).unwrap_or_default();
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next());
            matches!(state, Some("R") | Some("D"))
        })
        .count();
    (active, threads.len())
}

impl Loads {
    /// Count the tasks of every watched cgroup once and fold the counts in.
    pub fn sample(&self) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, l| l.last_read.elapsed() < FORGET_AFTER);
        for load in map.values_mut() {
            let (active, total) = count(&load.view);
            for (i, exp) in EXP.iter().enumerate() {
                load.avg[i] = decay(load.avg[i], *exp, active as u64 * FIXED_1);
            }
            load.running = active;
            load.total = total;
        }
    }

    /// Sample every SAMPLE_EVERY, on a thread of its own, for as long as the daemon runs.
    pub fn start_sampling(&self) {
        let loads = self.clone();
        let _ = std::thread::Builder::new()
            .name("loadavg".into())
            .spawn(move || loop {
                std::thread::sleep(SAMPLE_EVERY);
                loads.sample();
            });
    }

    pub(crate) fn render(&self, view: &View, host: &str) -> Option<String> {
        let key = view.dir("cpu")?.to_path_buf();
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let load = map.entry(key).or_insert_with(|| {
            let (running, total) = count(view);
            Load {
                view: view.clone(),
                avg: [0; 3],
                running,
                total,
                last_read: Instant::now(),
            }
        });
        load.last_read = Instant::now();
        let shown = |v: u64| format!("{}.{:02}", v / FIXED_1, (v % FIXED_1) * 100 / FIXED_1);
        let last_pid = host.split_whitespace().nth(4).unwrap_or("0");
        Some(format!(
            "{} {} {} {}/{} {last_pid}\n",
            shown(load.avg[0]),
            shown(load.avg[1]),
            shown(load.avg[2]),
            load.running,
            load.total
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_busy_task_for_a_minute_is_a_load_near_two_thirds() {
        let mut l = 0;
        for _ in 0..12 {
            l = decay(l, EXP[0], FIXED_1);
        }
        let shown = l as f64 / FIXED_1 as f64;
        assert!((0.6..0.65).contains(&shown), "{shown}");
    }
}
