//! `trim`, `trimLeft`, `trimRight`, `removeWhitespace`, `compressWhitespace`.
//!
//! Trims use C `isspace`; remove/compress also treat NBSP (0xa0) as space, as ModSecurity does.

use super::{changed, is_c_space, is_space_or_nbsp};

pub fn trim_left(input: &[u8]) -> Option<Vec<u8>> {
    let start = input
        .iter()
        .position(|b| !is_c_space(*b))
        .unwrap_or(input.len());
    (start > 0).then(|| input[start..].to_vec())
}

pub fn trim_right(input: &[u8]) -> Option<Vec<u8>> {
    let end = input
        .iter()
        .rposition(|b| !is_c_space(*b))
        .map_or(0, |p| p + 1);
    (end < input.len()).then(|| input[..end].to_vec())
}

pub fn trim(input: &[u8]) -> Option<Vec<u8>> {
    let start = input
        .iter()
        .position(|b| !is_c_space(*b))
        .unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|b| !is_c_space(*b))
        .map_or(start, |p| p + 1);
    (start > 0 || end < input.len()).then(|| input[start..end].to_vec())
}

pub fn remove_whitespace(input: &[u8]) -> Option<Vec<u8>> {
    if !input.iter().any(|b| is_space_or_nbsp(*b)) {
        return None;
    }
    Some(
        input
            .iter()
            .copied()
            .filter(|b| !is_space_or_nbsp(*b))
            .collect(),
    )
}

pub fn compress_whitespace(input: &[u8]) -> Option<Vec<u8>> {
    if !input.iter().any(|b| is_space_or_nbsp(*b)) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut in_space = false;
    for &byte in input {
        if is_space_or_nbsp(byte) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(byte);
            in_space = false;
        }
    }
    changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims() {
        assert_eq!(trim(b" \t a b \n").unwrap(), b"a b");
        assert_eq!(trim(b"   ").unwrap(), b"");
        assert_eq!(trim(b"ab"), None);
        assert_eq!(trim_left(b"  a ").unwrap(), b"a ");
        assert_eq!(trim_right(b"  a ").unwrap(), b"  a");
        assert_eq!(trim_right(b"a"), None);
    }

    #[test]
    fn removes_and_compresses() {
        assert_eq!(
            remove_whitespace(b"un ion\t\xa0sel\x0bect").unwrap(),
            b"unionselect"
        );
        assert_eq!(
            compress_whitespace(b"a  \t\n b\xa0\xa0c").unwrap(),
            b"a b c"
        );
        assert_eq!(compress_whitespace(b"a b"), None);
        assert_eq!(remove_whitespace(b"ab"), None);
    }
}
