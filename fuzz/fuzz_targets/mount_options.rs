//! Mount option lists through the parser that splits them into mount(2) flags, propagation,
//! mount_setattr attributes and filesystem data: no input may panic, nothing may be lost
//! (each option lands somewhere), and the result does not depend on how often it is parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options: Vec<String> = text.split(',').map(str::to_string).collect();
    let parsed = husk_container::mounts::parse_options(&options);
    assert_eq!(parsed, husk_container::mounts::parse_options(&options));
    for d in &parsed.data {
        assert!(options.contains(d), "data option {d:?} was not given");
        assert!(husk_container::mounts::propagation_flag(d).is_none());
    }
    assert!(parsed.propagation.len() <= options.len());
});
