//! config.json bytes through husk's parser (JSON paths in type errors) and every validation
//! rule: no input may panic, and an accepted config must survive a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = husk_spec::bundle::parse_config_reader(data) else {
        return;
    };
    if husk_spec::validate::validate(&spec).is_ok() {
        let text = serde_json::to_vec(&spec).expect("a parsed config serialises");
        let again = husk_spec::bundle::parse_config_reader(&text[..])
            .unwrap_or_else(|e| panic!("a valid config does not parse back: {e:?}"));
        assert!(husk_spec::validate::validate(&again).is_ok());
    }
});
