//! A stand-in for `criu swrk 3` that answers VERSION and FEATURE_CHECK as an old CRIU or a
//! kernel without memory tracking would, for the checkpoint error tests: Debian's CRIU says
//! yes to both. FAKE_CRIU_VERSION is major*10000+minor*100 (default 31700);
//! FAKE_CRIU_MEM_TRACK=0 says memory tracking is missing.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("swrk") {
        eprintln!("fake criu: only `swrk 3`");
        std::process::exit(1);
    }
    // SAFETY: fd 3 is the socket husk placed there for swrk, owned by nothing else here.
    let mut sock = unsafe { File::from_raw_fd(3) };
    let mut req = [0u8; 65536];
    let n = sock.read(&mut req).unwrap_or(0);
    // criu_req.type is the first field husk writes: 0x08, then the type.
    let kind = if n >= 2 && req[0] == 0x08 { req[1] } else { 0 };
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let mut resp = vec![0x08, kind, 0x10, 0x01];
    match kind {
        10 => {
            let v = env("FAKE_CRIU_VERSION", 31700);
            let mut version = vec![0x08];
            varint(&mut version, v / 10000);
            version.push(0x10);
            varint(&mut version, v / 100 % 100);
            resp.push(0x52);
            varint(&mut resp, version.len() as u64);
            resp.extend(version);
        }
        9 => {
            let features = [0x08, env("FAKE_CRIU_MEM_TRACK", 1) as u8, 0x10, 0x00];
            resp.push(0x42);
            varint(&mut resp, features.len() as u64);
            resp.extend(features);
        }
        _ => resp = vec![0x08, kind, 0x10, 0x00, 0x38, 0x01],
    }
    let _ = sock.write_all(&resp);
}
