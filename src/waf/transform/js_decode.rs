//! `jsDecode`: JavaScript escapes `\uHHHH` (low byte, full-width ASCII mapped), `\xHH`,
//! `\OOO` (octal, at most one byte), `\a\b\f\n\r\t\v`; any other `\C` becomes `C`.

use super::hex_pair;
use super::url_decode::full_width_to_ascii;

pub fn js_decode(input: &[u8]) -> Option<Vec<u8>> {
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
        let next = input.get(i + 1).copied();
        if next == Some(b'u')
            && i + 5 < input.len()
            && input[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit)
        {
            let low = hex_pair(input, i + 4).unwrap_or(0);
            out.push(full_width_to_ascii(input[i + 2], input[i + 3], low));
            i += 6;
        } else if let (Some(b'x'), Some(byte)) = (next, hex_pair(input, i + 2)) {
            out.push(byte);
            i += 4;
        } else if let Some(b'0'..=b'7') = next {
            let digits = input[i + 1..]
                .iter()
                .take(3)
                .take_while(|b| (b'0'..=b'7').contains(b))
                .count();
            // Three digits starting above '3' would not fit a byte: use two.
            let digits = if digits == 3 && input[i + 1] > b'3' {
                2
            } else {
                digits
            };
            let value = input[i + 1..i + 1 + digits]
                .iter()
                .fold(0u16, |acc, d| acc * 8 + u16::from(d - b'0'));
            out.push((value & 0xff) as u8);
            i += 1 + digits;
        } else if let Some(c) = next {
            out.push(match c {
                b'a' => 0x07,
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'v' => 0x0b,
                other => other,
            });
            i += 2;
        } else {
            out.push(b'\\');
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
        assert_eq!(
            js_decode(b"\\u003cscript\\x3e\\101\\n\\'\\q").unwrap(),
            b"<script>A\n'q"
        );
        assert_eq!(js_decode(b"\\uff1c\\777").unwrap(), b"<?7");
        assert_eq!(js_decode(b"\\x4").unwrap(), b"x4");
        assert_eq!(js_decode(b"end\\").unwrap(), b"end\\");
        assert_eq!(js_decode(b"plain"), None);
    }
}
