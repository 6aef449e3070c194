// Records the git commit for `husk --version` (`commit: SHA`, parsed by tools).
fn main() {
    let sha = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HUSK_COMMIT={sha}");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
}
