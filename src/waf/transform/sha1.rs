//! `sha1`: the raw 20-byte SHA-1 digest (rules usually follow it with `t:hexEncode`).

use sha1::{Digest, Sha1};

pub fn sha1(input: &[u8]) -> Option<Vec<u8>> {
    Some(Sha1::digest(input).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest() {
        let hex = super::super::hex::hex_encode(&sha1(b"abc").unwrap()).unwrap();
        assert_eq!(hex, b"a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
