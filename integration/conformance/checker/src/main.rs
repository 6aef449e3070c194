//! The conformance checker: copied into each bundle by integration/conformance/run.py and run
//! as the container's process. It reads /conformance/config.json (the bundle's config) and
//! /conformance/expect.json (what the driver saw on the host: its namespaces, the inodes of
//! namespace paths), checks from inside what the runtime should have applied, and prints one
//! TAP line per rule. Built statically so that it runs in a busybox rootfs.

mod checks;

use std::fmt::Display;

use serde_json::Value;

/// TAP output: one line per check, numbered.
pub struct Tap {
    n: usize,
    failed: usize,
}

impl Tap {
    pub fn check(&mut self, ok: bool, rule: impl Display, detail: impl Display) {
        self.n += 1;
        if ok {
            println!("ok {} - {rule}", self.n);
        } else {
            self.failed += 1;
            println!("not ok {} - {rule} # {detail}", self.n);
        }
    }

    /// A check that compares two values.
    pub fn eq<T: PartialEq + std::fmt::Debug>(&mut self, rule: impl Display, got: T, want: T) {
        let ok = got == want;
        self.check(ok, rule, format!("got {got:?}, want {want:?}"));
    }
}

fn read_json(path: &str) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

fn main() {
    let config = read_json("/conformance/config.json");
    let expect = read_json("/conformance/expect.json");
    let mut tap = Tap { n: 0, failed: 0 };
    if config.is_null() {
        tap.check(
            false,
            "the checker can read /conformance/config.json",
            "missing",
        );
    } else {
        checks::all(&mut tap, &config, &expect);
    }
    println!("1..{}", tap.n);
    std::process::exit(if tap.failed == 0 { 0 } else { 1 });
}
