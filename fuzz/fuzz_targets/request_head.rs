//! Fuzz target for the raw-bytes stages: the HTTP/1.1 framing validator
//! (guard) and request-path normalisation (http). Neither may panic on any
//! input, and the validator's verdict must not depend on how bytes are split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::config::spec::EncodedSlash;
use portcullis::guard::framing::{FramingLimits, FramingValidator, Step};
use portcullis::http::normalize::normalize_path;

fuzz_target!(|data: &[u8]| {
    // The first byte picks small limits so the limit paths are reached too.
    let Some((&knobs, bytes)) = data.split_first() else {
        return;
    };
    let limits = FramingLimits {
        max_head_bytes: 16 + usize::from(knobs & 0x7f) * 8,
        max_headers: usize::from(knobs >> 4),
        head_timeout: std::time::Duration::from_secs(10),
    };

    // Whole input at once.
    let mut whole = FramingValidator::new(limits);
    let verdict = whole.feed(bytes);

    // Same bytes in pieces whose sizes come from the data itself.
    let mut split = FramingValidator::new(limits);
    let mut rest = bytes;
    let mut split_verdict = Ok(());
    while !rest.is_empty() {
        let n = (usize::from(rest[0]) % 7 + 1).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        rest = tail;
        let mut pos = 0;
        while pos < piece.len() {
            match split.step(&piece[pos..]) {
                Step::Pass(k) | Step::Hold(k) | Step::Release(k) => pos += k,
                Step::Reject { reason, .. } => {
                    split_verdict = Err(reason);
                    break;
                }
                Step::TooLarge => break,
            }
        }
        if split_verdict.is_err() || split.is_too_large() {
            break;
        }
    }
    assert_eq!(verdict, split_verdict);
    assert_eq!(whole.is_too_large(), split.is_too_large());

    // Path normalisation on the longest UTF-8 prefix, in every mode; the
    // result must be a fixed point.
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    };
    for mode in [EncodedSlash::Reject, EncodedSlash::Keep, EncodedSlash::Decode] {
        if let Ok(once) = normalize_path(text, mode) {
            let twice = normalize_path(&once, mode);
            assert_eq!(twice.as_deref(), Ok(once.as_ref()));
        }
    }
});
