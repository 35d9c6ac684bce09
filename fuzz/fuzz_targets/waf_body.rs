//! Fuzz target for the WAF body processors (URL-encoded, multipart, JSON, XML): none may
//! panic on any input, and every limit must hold on what they return. Seeds: `fuzz/seeds/waf_body`
//! (`cargo fuzz run waf_body fuzz/seeds/waf_body`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::waf::body::{self, BodyLimits};

fuzz_target!(|data: &[u8]| {
    // First byte: which processor and how small the limits are, so limit paths are reached.
    let Some((&knobs, bytes)) = data.split_first() else {
        return;
    };
    let limits = BodyLimits {
        max_args: 1 + usize::from(knobs >> 4) * 4,
        json_depth: 1 + usize::from(knobs >> 4),
        xml_depth: 1 + usize::from(knobs >> 4),
        max_part_header_bytes: 16 + usize::from(knobs >> 4) * 64,
    };
    let parsed = match knobs & 0x3 {
        0 => body::urlencoded(bytes, if knobs & 0x4 == 0 { b'&' } else { b';' }, &limits),
        1 => {
            // The Content-Type comes from the input too: up to the first NUL.
            let split = bytes.iter().position(|b| *b == 0).unwrap_or(0);
            let (content_type, payload) = bytes.split_at(split);
            body::multipart(payload.get(1..).unwrap_or_default(), content_type, &limits)
        }
        2 => body::json(bytes, &limits),
        _ => body::xml(bytes, &limits),
    };
    assert!(parsed.args.len() + parsed.files.len() <= limits.max_args);
    if let Some(facts) = &parsed.multipart {
        // A body error is always a strict error.
        assert!(!facts.strict_error(false) || facts.strict_error(true));
        assert!(parsed.error.is_none() || facts.strict_error(true));
    }
    for file in &parsed.files {
        assert_eq!(file.size, file.content.len());
    }
});
