//! Drives containerd's CRI plugin over its socket the way kubelet does, for one runtime
//! handler, and checks each call where a user would: in the replies, inside the containers
//! (ExecSync, a streaming exec) and in the host's /proc and cgroup files.
//!
//!   husk-cri-check SOCKET HANDLER IMAGE STATE_ROOT
//!
//! HANDLER is a runtime handler of containerd's config (husk, runc), IMAGE a busybox image
//! already imported in the k8s.io namespace, STATE_ROOT the runtime's `--root` for that
//! handler (checked to be empty at the end). Prints one "ok"/"FAIL" line per check and a
//! cargo-style "test result:" line; exits 1 if a check failed.

mod checks;
mod cri;
mod host;
mod stream;

use anyhow::{Context, Result};

use crate::cri::Cri;

/// What every check gets.
pub struct Ctx {
    pub cri: Cri,
    pub handler: String,
    pub image: String,
    pub state_root: std::path::PathBuf,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: husk-cri-check SOCKET HANDLER IMAGE STATE_ROOT");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = runtime.block_on(async {
        match run(&args).await {
            Ok(failed) => i32::from(failed > 0),
            Err(e) => {
                println!("FAIL - {e:#}");
                1
            }
        }
    });
    std::process::exit(code);
}

async fn run(args: &[String]) -> Result<usize> {
    let cri = Cri::connect(&args[1])
        .await
        .with_context(|| format!("connecting to {}", args[1]))?;
    let mut ctx = Ctx {
        cri,
        handler: args[2].clone(),
        image: args[3].clone(),
        state_root: args[4].clone().into(),
    };
    let (mut passed, mut failed) = (0, 0);
    for (name, result) in checks::all(&mut ctx).await {
        match result {
            Ok(()) => {
                println!("ok   - {}: {name}", ctx.handler);
                passed += 1;
            }
            Err(e) => {
                println!("FAIL - {}: {name}: {e:#}", ctx.handler);
                failed += 1;
            }
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "test result: {verdict}. {passed} passed; {failed} failed (CRI, handler {})",
        ctx.handler
    );
    Ok(failed)
}
