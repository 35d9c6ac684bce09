//! `cssDecode`: CSS escapes `\H..HHHHHH` (the last two hex digits form the byte, full-width
//! ASCII mapped), one whitespace after a hex escape eaten, `\<newline>` removed, `\C` → `C`.

use super::url_decode::full_width_to_ascii;
use super::{hex_pair, hex_value, is_c_space};

pub fn css_decode(input: &[u8]) -> Option<Vec<u8>> {
    if !input.contains(&b'\\') {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        i += 1; // the backslash itself is never kept
        let Some(&first) = input.get(i) else { break };
        let digits = input[i..]
            .iter()
            .take(6)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if digits == 0 {
            if first != b'\n' {
                out.push(first);
            }
            i += 1;
            continue;
        }
        let hex = &input[i..i + digits];
        let byte = if digits == 1 {
            hex_value(hex[0]).unwrap_or(0)
        } else {
            hex_pair(hex, digits - 2).unwrap_or(0)
        };
        // Only a code point that fits 16 bits can be a full-width form.
        let fits_16_bits = match digits {
            4 => true,
            5 => hex[0] == b'0',
            6 => hex[0] == b'0' && hex[1] == b'0',
            _ => false,
        };
        if fits_16_bits {
            out.push(full_width_to_ascii(hex[digits - 4], hex[digits - 3], byte));
        } else {
            out.push(byte);
        }
        i += digits;
        if input.get(i).is_some_and(|b| is_c_space(*b)) {
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(css_decode(b"\\3c script\\3E").unwrap(), b"<script>");
        assert_eq!(css_decode(b"ja\\vascr\\\nipt").unwrap(), b"javascript");
        assert_eq!(css_decode(b"\\00003c\\ff1c\\a").unwrap(), b"<<\n");
        assert_eq!(css_decode(b"x\\").unwrap(), b"x");
        assert_eq!(css_decode(b"plain"), None);
    }
}
