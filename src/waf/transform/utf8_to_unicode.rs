//! `utf8toUnicode`: every valid multi-byte UTF-8 sequence becomes `%uHHHH` (lowercase hex,
//! at least four digits), so a following `urlDecodeUni` folds it; invalid bytes are kept.

pub fn utf8_to_unicode(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_ascii() {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() * 2);
    for chunk in input.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if ch.is_ascii() {
                out.push(ch as u8);
            } else {
                out.extend_from_slice(format!("%u{:04x}", u32::from(ch)).as_bytes());
            }
        }
        out.extend_from_slice(chunk.invalid());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_multibyte() {
        assert_eq!(
            utf8_to_unicode("a\u{e9}\u{ff1c}\u{1f600}".as_bytes()).unwrap(),
            b"a%u00e9%uff1c%u1f600"
        );
        assert_eq!(utf8_to_unicode(b"a\xffb\xc3").unwrap(), b"a\xffb\xc3");
        assert_eq!(utf8_to_unicode(b"ascii"), None);
    }
}
