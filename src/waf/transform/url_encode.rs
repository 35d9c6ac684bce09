//! `urlEncode`: percent-encodes every byte but ASCII letters, digits and `*-._`; space becomes `+`.

pub fn url_encode(input: &[u8]) -> Option<Vec<u8>> {
    let keep = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_');
    if input.iter().all(|b| keep(*b)) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() * 3);
    for &byte in input {
        if keep(byte) {
            out.push(byte);
        } else if byte == b' ' {
            out.push(b'+');
        } else {
            out.push(b'%');
            out.extend_from_slice(&super::hex::lower_hex(byte));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes() {
        assert_eq!(url_encode(b"a b/<").unwrap(), b"a+b%2f%3c");
        assert_eq!(url_encode(b"a-b"), None);
    }
}
