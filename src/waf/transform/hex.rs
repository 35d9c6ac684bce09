//! `hexEncode` (lowercase) and `hexDecode` (input unchanged unless it is all hex pairs, as Coraza does).

use super::hex_pair;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn lower_hex(byte: u8) -> [u8; 2] {
    [
        DIGITS[usize::from(byte >> 4)],
        DIGITS[usize::from(byte & 0xf)],
    ]
}

pub fn hex_encode(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    Some(input.iter().flat_map(|b| lower_hex(*b)).collect())
}

pub fn hex_decode(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_empty() || !input.len().is_multiple_of(2) {
        return None;
    }
    (0..input.len())
        .step_by(2)
        .map(|i| hex_pair(input, i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(hex_encode(b"\x00aZ\xff").unwrap(), b"00615aff");
        assert_eq!(hex_decode(b"615A").unwrap(), b"aZ");
        assert_eq!(hex_decode(b"61z1"), None);
        assert_eq!(hex_decode(b"616"), None);
        assert_eq!(hex_encode(b""), None);
    }
}
