//! `removeNulls` and `replaceNulls` (NUL → space).

pub fn remove_nulls(input: &[u8]) -> Option<Vec<u8>> {
    if !input.contains(&0) {
        return None;
    }
    Some(input.iter().copied().filter(|b| *b != 0).collect())
}

pub fn replace_nulls(input: &[u8]) -> Option<Vec<u8>> {
    if !input.contains(&0) {
        return None;
    }
    Some(
        input
            .iter()
            .map(|b| if *b == 0 { b' ' } else { *b })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls() {
        assert_eq!(remove_nulls(b"a\0b\0").unwrap(), b"ab");
        assert_eq!(replace_nulls(b"a\0b").unwrap(), b"a b");
        assert_eq!(remove_nulls(b"ab"), None);
    }
}
