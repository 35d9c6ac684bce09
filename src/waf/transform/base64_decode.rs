//! `base64Decode` (stops at the first `=`, space or foreign byte, skips CR/LF) and
//! `base64DecodeExt` (skips every foreign byte). Forgiving like ModSecurity/Coraza: a
//! truncated tail yields the bytes it fully encodes, never an error.

pub fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    decode(input, false)
}

pub fn base64_decode_ext(input: &[u8]) -> Option<Vec<u8>> {
    decode(input, true)
}

fn sextet(byte: u8) -> Option<u32> {
    let value = match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

fn decode(input: &[u8], skip_foreign: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in input {
        if byte == b'\r' || byte == b'\n' {
            continue;
        }
        let Some(value) = sextet(byte) else {
            if skip_foreign && byte != b'=' {
                continue;
            }
            break;
        };
        buffer = (buffer << 6 | value) & 0xff_ffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits & 0xff) as u8);
        }
    }
    super::changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forgivingly() {
        assert_eq!(base64_decode(b"PHNjcmlwdD4=").unwrap(), b"<script>");
        assert_eq!(base64_decode(b"PHNj\r\ncmlwdD4").unwrap(), b"<script>");
        assert_eq!(base64_decode(b"YWJj*ZGVm").unwrap(), b"abc");
        assert_eq!(base64_decode_ext(b"YWJj*ZGVm").unwrap(), b"abcdef");
        assert!(base64_decode(b"").is_none());
        assert_eq!(base64_decode(b"!").unwrap(), b"");
    }
}
