//! `urlDecode` and `urlDecodeUni`: non-strict percent decoding, `+` as space.
//!
//! Invalid escapes are kept as they are (ModSecurity's "non-strict" mode).
//! `%uHHHH` (IIS) keeps the low byte; full-width ASCII (U+FF01..U+FF5E) maps
//! to its ASCII twin, as ModSecurity and Coraza do without a loaded unicode map.

use super::{hex_pair, hex_value};

pub fn url_decode(input: &[u8]) -> Option<Vec<u8>> {
    if !input.iter().any(|b| matches!(b, b'%' | b'+')) {
        return None;
    }
    Some(decode(input, false))
}

pub fn url_decode_uni(input: &[u8]) -> Option<Vec<u8>> {
    if !input.iter().any(|b| matches!(b, b'%' | b'+')) {
        return None;
    }
    Some(decode(input, true))
}

/// Decodes like `urlDecode` and returns how many `%` escapes were invalid,
/// for the URL-encoded body parser (ModSecurity's `URLENCODED_ERROR`).
pub(crate) fn decode_counting_invalid(input: &[u8]) -> (Vec<u8>, usize) {
    let mut invalid = 0;
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => match hex_pair(input, i + 1) {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    invalid += 1;
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    (out, invalid)
}

fn decode(input: &[u8], unicode: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' if unicode && matches!(input.get(i + 1), Some(b'u' | b'U')) => {
                match percent_u(input, i) {
                    Some(byte) => {
                        out.push(byte);
                        i += 6;
                    }
                    None => {
                        out.extend_from_slice(&input[i..i + 2]);
                        i += 2;
                    }
                }
            }
            b'%' => match hex_pair(input, i + 1) {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    out
}

/// `%uHHHH` at `at` as one byte.
fn percent_u(input: &[u8], at: usize) -> Option<u8> {
    let digits = input.get(at + 2..at + 6)?;
    if !digits.iter().all(|b| hex_value(*b).is_some()) {
        return None;
    }
    let low = hex_pair(digits, 2)?;
    Some(full_width_to_ascii(digits[0], digits[1], low))
}

/// U+FF01..U+FF5E are full-width forms of `!`..`~`: add 0x20 to the low byte.
pub(crate) fn full_width_to_ascii(high1: u8, high2: u8, low: u8) -> u8 {
    let is_ff = |b: u8| b == b'f' || b == b'F';
    if low > 0 && low < 0x5f && is_ff(high1) && is_ff(high2) {
        low + 0x20
    } else {
        low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_valid_and_keeps_invalid() {
        assert_eq!(url_decode(b"a%20b+c%2").unwrap(), b"a b c%2");
        assert_eq!(url_decode(b"%zz%41%u0041").unwrap(), b"%zzA%u0041");
        assert_eq!(url_decode(b"plain"), None);
        assert_eq!(url_decode(b"%").unwrap(), b"%");
    }

    #[test]
    fn decodes_iis_unicode() {
        assert_eq!(url_decode_uni(b"%u0027or%U0031").unwrap(), b"'or1");
        // full-width '<' (U+FF1C) becomes '<'
        assert_eq!(url_decode_uni(b"%uff1cscript").unwrap(), b"<script");
        assert_eq!(url_decode_uni(b"%u00zz%u12").unwrap(), b"%u00zz%u12");
        assert_eq!(url_decode_uni(b"%3c+").unwrap(), b"< ");
    }

    #[test]
    fn counts_invalid_escapes() {
        let (out, invalid) = decode_counting_invalid(b"a=%41%g1%");
        assert_eq!(out, b"a=A%g1%");
        assert_eq!(invalid, 2);
    }
}
