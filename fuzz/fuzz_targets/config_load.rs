//! Fuzz target: the configuration loader must never panic, hang or blow up on any UTF-8 input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        // Errors are expected; only panics, aborts and timeouts are findings.
        let _ = portcullis::config::load::load_str(text, "fuzz.yaml");
    }
});
