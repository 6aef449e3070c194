//! `linux.seccomp` JSON through the compiler that turns it into one BPF program: no input may
//! panic, and a compiled program must fit the kernel's limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(seccomp) = serde_json::from_slice::<oci_spec::runtime::LinuxSeccomp>(data) else {
        return;
    };
    if let Ok(plan) = husk_container::seccomp::SeccompPlan::compile(&seccomp) {
        assert!(plan.program.len() <= 4096, "program of {} instructions", plan.program.len());
    }
});
