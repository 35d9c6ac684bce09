//! Deterministic mutation runs of every body processor and transformation (the fuzz targets'
//! properties on stable, in the normal test run): no panic, limits hold, idempotent
//! transformations stay idempotent.

use super::{BodyLimits, json, multipart, urlencoded, xml};
use crate::waf::transform::lookup;

const SEEDS: &[&[u8]] = &[
    b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=b\r\n\r\nv\r\n--XyZ--\r\n",
    b"{\"a\":{\"b\":[1,\"x\",null,true,{\"c\":-2.5e3}]},\"\":\"\\u003c\"}",
    b"<?xml version=\"1.0\"?><!DOCTYPE a><a x=\"1&amp;2\"><b y='z'>t&lt;&#65;&e;</b><![CDATA[c]]><!-- k --></a>",
    b"a=1&b=%41%zz+c&&=v&d=%u0041&e",
    b"%u0027&lt;\\x41/*c*/ C:\\a\\..\\b\0 PHNjcmlwdD4= \\3c \xc3\xa9 0x4142 --x #y",
];

/// A seed with a few random edits: byte changes, inserted syntax bytes, cuts, repeats.
fn mutate(rng: &mut fastrand::Rng, seed: &[u8]) -> Vec<u8> {
    const SYNTAX: &[u8] = b"\r\n\"'\\&=;:%+-<>/[]{}!#*\0 \t";
    let mut data = seed.to_vec();
    for _ in 0..rng.usize(1..6) {
        let at = rng.usize(0..=data.len());
        match rng.u8(0..5) {
            0 if !data.is_empty() => {
                let last = data.len() - 1;
                data[at.min(last)] = rng.u8(..);
            }
            1 => data.insert(at, SYNTAX[rng.usize(0..SYNTAX.len())]),
            2 => data.truncate(at),
            3 => {
                let end = rng.usize(at..=data.len());
                let piece = data[at..end].to_vec();
                for _ in 0..rng.usize(1..4) {
                    data.splice(at..at, piece.iter().copied());
                }
            }
            _ => data.insert(at, rng.u8(..)),
        }
    }
    data
}

#[test]
fn processors_survive_mutations_within_limits() {
    let mut rng = fastrand::Rng::with_seed(11);
    for round in 0..4000 {
        let seed = SEEDS[round % SEEDS.len()];
        let data = mutate(&mut rng, seed);
        let small = 1 + round % 7;
        let limits = BodyLimits {
            max_args: small,
            json_depth: small,
            xml_depth: small,
            max_part_header_bytes: 16 * small,
        };
        for parsed in [
            urlencoded(&data, b'&', &limits),
            multipart(&data, b"multipart/form-data; boundary=XyZ", &limits),
            json(&data, &limits),
            xml(&data, &limits),
        ] {
            assert!(
                parsed.args.len() + parsed.files.len() <= limits.max_args,
                "{data:?}"
            );
            if let Some(facts) = &parsed.multipart {
                assert!(parsed.error.is_none() || facts.strict_error(true));
            }
            for file in &parsed.files {
                assert_eq!(file.size, file.content.len());
            }
        }
    }
}

#[test]
fn transformations_survive_mutations() {
    let names = [
        "lowercase",
        "uppercase",
        "trim",
        "trimLeft",
        "trimRight",
        "removeWhitespace",
        "compressWhitespace",
        "removeNulls",
        "replaceNulls",
        "urlDecode",
        "urlDecodeUni",
        "urlEncode",
        "htmlEntityDecode",
        "jsDecode",
        "cssDecode",
        "escapeSeqDecode",
        "utf8toUnicode",
        "cmdLine",
        "replaceComments",
        "removeComments",
        "removeCommentsChar",
        "normalizePath",
        "normalizePathWin",
        "length",
        "base64Decode",
        "base64DecodeExt",
        "base64Encode",
        "sha1",
        "hexEncode",
        "hexDecode",
        "sqlHexDecode",
    ];
    let apply =
        |name: &str, input: &[u8]| lookup(name).unwrap()(input).unwrap_or_else(|| input.to_vec());
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..3000 {
        let data = mutate(&mut rng, SEEDS[round % SEEDS.len()]);
        for name in names {
            let _ = apply(name, &data);
        }
        for name in [
            "lowercase",
            "compressWhitespace",
            "normalizePath",
            "normalizePathWin",
            "removeNulls",
            "cmdLine",
        ] {
            let once = apply(name, &data);
            assert_eq!(apply(name, &once), once, "{name} on {data:?}");
        }
    }
}
