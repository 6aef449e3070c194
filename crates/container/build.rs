//! Assembles the exec stub (src/exec_stub.S, see exec_stub.rs) with the C compiler that links
//! husk. On an architecture the stub is not written for, the stub is empty and husk falls
//! back to re-executing itself from a sealed copy.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("exec_stub");
    println!("cargo:rerun-if-changed=src/exec_stub.S");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch != "x86_64" || os != "linux" {
        std::fs::write(&out, b"").expect("writing the empty exec stub");
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args([
            "-nostdlib",
            "-static",
            "-no-pie",
            "-Wl,--build-id=none",
            "-Wl,-n",
            "-s",
            "-o",
        ])
        .arg(&out)
        .arg("src/exec_stub.S")
        .status()
        .unwrap_or_else(|e| panic!("running {cc} to assemble src/exec_stub.S: {e}"));
    assert!(status.success(), "{cc} failed to assemble src/exec_stub.S");
}
