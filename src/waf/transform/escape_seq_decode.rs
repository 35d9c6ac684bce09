//! `escapeSeqDecode`: ANSI C escapes (`\a \b \f \n \r \t \v \\ \? \' \"`, `\xHH`, `\OOO`);
//! an unknown escape is kept with its backslash.

use super::hex_pair;

pub fn escape_seq_decode(input: &[u8]) -> Option<Vec<u8>> {
    if !input.contains(&b'\\') {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' || i + 1 >= input.len() {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let simple = match input[i + 1] {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            c @ (b'\\' | b'?' | b'\'' | b'"') => Some(c),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            i += 2;
        } else if let (b'x' | b'X', Some(byte)) = (input[i + 1], hex_pair(input, i + 2)) {
            out.push(byte);
            i += 4;
        } else if (b'0'..=b'7').contains(&input[i + 1]) {
            let digits = input[i + 1..]
                .iter()
                .take(3)
                .take_while(|b| (b'0'..=b'7').contains(b))
                .count();
            let value = input[i + 1..i + 1 + digits]
                .iter()
                .fold(0u16, |acc, d| acc * 8 + u16::from(d - b'0'));
            out.push((value & 0xff) as u8);
            i += 1 + digits;
        } else {
            out.extend_from_slice(&input[i..i + 2]);
            i += 2;
        }
    }
    super::changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            escape_seq_decode(b"a\\nb\\x41\\101\\\\\\q").unwrap(),
            b"a\nbAA\\\\q"
        );
        assert_eq!(escape_seq_decode(b"\\x4g"), None);
        assert_eq!(escape_seq_decode(b"tail\\"), None);
    }
}
