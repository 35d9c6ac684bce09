//! `lowercase` and `uppercase`: ASCII case folding (bytes ≥ 0x80 untouched, like C `tolower`).

pub fn lowercase(input: &[u8]) -> Option<Vec<u8>> {
    if !input.iter().any(u8::is_ascii_uppercase) {
        return None;
    }
    Some(input.to_ascii_lowercase())
}

pub fn uppercase(input: &[u8]) -> Option<Vec<u8>> {
    if !input.iter().any(u8::is_ascii_lowercase) {
        return None;
    }
    Some(input.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_ascii_only() {
        assert_eq!(lowercase(b"SeLeCT \xC3\x89").unwrap(), b"select \xC3\x89");
        assert_eq!(lowercase(b"already"), None);
        assert_eq!(uppercase(b"abc1").unwrap(), b"ABC1");
        assert_eq!(uppercase(b"ABC"), None);
    }
}
