//! Fuzz target for the WAF transformations: no panic on any bytes, and the properties a
//! rule relies on (case folding and path cleaning are idempotent, nulls are gone).
//! Seeds: `fuzz/seeds/waf_transform`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::waf::transform::lookup;

const ALL: &[&str] = &[
    "lowercase", "uppercase", "trim", "trimLeft", "trimRight", "removeWhitespace",
    "compressWhitespace", "removeNulls", "replaceNulls", "urlDecode", "urlDecodeUni",
    "urlEncode", "htmlEntityDecode", "jsDecode", "cssDecode", "escapeSeqDecode",
    "utf8toUnicode", "cmdLine", "replaceComments", "removeComments", "removeCommentsChar",
    "normalizePath", "normalizePathWin", "length", "base64Decode", "base64DecodeExt",
    "base64Encode", "sha1", "hexEncode", "hexDecode", "sqlHexDecode",
];

fn apply(name: &str, input: &[u8]) -> Vec<u8> {
    let transform = lookup(name).expect("known transformation");
    transform(input).unwrap_or_else(|| input.to_vec())
}

fuzz_target!(|data: &[u8]| {
    for name in ALL {
        let _ = apply(name, data);
    }
    for name in ["lowercase", "compressWhitespace", "normalizePath", "normalizePathWin", "removeNulls", "cmdLine"] {
        let once = apply(name, data);
        assert_eq!(apply(name, &once), once, "{name} is not idempotent");
    }
    assert!(!apply("removeNulls", data).contains(&0));
    assert_eq!(apply("length", data), data.len().to_string().into_bytes());
});
