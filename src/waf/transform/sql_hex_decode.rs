//! `sqlHexDecode`: SQL hex literals `0xHHHH…` become their bytes (an odd last digit is dropped).

use super::hex_pair;

pub fn sql_hex_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    let mut decoded_any = false;
    while i < input.len() {
        let is_literal = input[i] == b'0'
            && matches!(input.get(i + 1), Some(b'x' | b'X'))
            && hex_pair(input, i + 2).is_some();
        if !is_literal {
            out.push(input[i]);
            i += 1;
            continue;
        }
        i += 2;
        while let Some(byte) = hex_pair(input, i) {
            out.push(byte);
            i += 2;
        }
        if input.get(i).is_some_and(u8::is_ascii_hexdigit) {
            i += 1;
        }
        decoded_any = true;
    }
    decoded_any.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_literals() {
        assert_eq!(
            sql_hex_decode(b"select 0x616263 from").unwrap(),
            b"select abc from"
        );
        assert_eq!(sql_hex_decode(b"0x6162a").unwrap(), b"ab");
        assert_eq!(sql_hex_decode(b"0xzz 0x"), None);
    }
}
