//! /proc/swaps: the header, and one "none" line with the swap the cgroup may use and uses,
//! when it may use any (as lxcfs).

use super::meminfo::Memory;
use crate::files::kb_lines;
use crate::view::View;

pub(crate) fn render(view: &View, host: &str) -> Option<String> {
    let mem = Memory::of(view)?;
    let header = host
        .lines()
        .next()
        .unwrap_or("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority");
    let host_total = kb_lines(&std::fs::read_to_string("/proc/meminfo").unwrap_or_default())
        .get("SwapTotal")
        .copied()
        .unwrap_or(0);
    let total = mem
        .swap_limit
        .map_or(host_total, |s| (s / 1024).min(host_total));
    let mut out = format!("{header}\n");
    if total > 0 {
        let used = (mem.swap_usage / 1024).min(total);
        out.push_str(&format!(
            "none\t\t\t\t\tvirtual\t\t{total}\t\t{used}\t\t0\n"
        ));
    }
    Some(out)
}
