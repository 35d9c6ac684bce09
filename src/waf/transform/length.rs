//! `length`: the value's length in bytes, as decimal text.

pub fn length(input: &[u8]) -> Option<Vec<u8>> {
    Some(input.len().to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes() {
        assert_eq!(length(b"").unwrap(), b"0");
        assert_eq!(length("é".as_bytes()).unwrap(), b"2");
    }
}
