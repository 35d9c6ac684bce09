//! The boundary of a `multipart/form-data` Content-Type, validated as ModSecurity does.

use super::multipart::MultipartFacts;

/// Longest Content-Type header accepted (ModSecurity: 1024).
const MAX_CONTENT_TYPE: usize = 1024;

/// The boundary, or the error message for `REQBODY_ERROR_MSG`. Sets the
/// `boundary_quoted`, `boundary_whitespace` and `missing_semicolon` facts.
pub fn parse(content_type: &[u8], facts: &mut MultipartFacts) -> Result<Vec<u8>, String> {
    if content_type.len() > MAX_CONTENT_TYPE {
        return Err("Multipart: Invalid boundary in C-T (length).".into());
    }
    const MIME: &[u8] = b"multipart/form-data";
    if content_type.len() < MIME.len() || !content_type[..MIME.len()].eq_ignore_ascii_case(MIME) {
        return Err("Multipart: Invalid MIME type.".into());
    }
    if count_boundary_params(content_type) > 1 {
        return Err("Multipart: Multiple boundary parameters in C-T.".into());
    }
    // The parameter name is matched case-sensitively, as ModSecurity does.
    let Some(at) = find(content_type, b"boundary") else {
        return Err(if count_boundary_params(content_type) > 0 {
            "Multipart: Invalid boundary in C-T (case sensitivity).".into()
        } else {
            "Multipart: Boundary not found in C-T.".into()
        });
    };
    let mut seen_semicolon = false;
    for &byte in &content_type[MIME.len().min(at)..at] {
        if is_space(byte) {
            continue;
        }
        if byte == b';' && !seen_semicolon {
            seen_semicolon = true;
        } else {
            return Err("Multipart: Invalid boundary in C-T (malformed).".into());
        }
    }
    facts.missing_semicolon = !seen_semicolon;
    let after_name = at + b"boundary".len();
    let Some(eq) = content_type[after_name..]
        .iter()
        .position(|b| *b == b'=')
        .map(|p| p + after_name)
    else {
        return Err("Multipart: Invalid boundary in C-T (malformed).".into());
    };
    for &byte in &content_type[after_name..eq] {
        if !is_space(byte) {
            return Err("Multipart: Invalid boundary in C-T (parameter name).".into());
        }
        facts.boundary_whitespace = true;
    }
    let value = &content_type[eq + 1..];
    if value.first().is_some_and(|b| is_space(*b)) {
        facts.boundary_whitespace = true;
    }
    let boundary = if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
        facts.boundary_quoted = true;
        &value[1..value.len() - 1]
    } else if value.first() == Some(&b'"') || value.last() == Some(&b'"') {
        return Err("Multipart: Invalid boundary in C-T (quote).".into());
    } else {
        value
    };
    if count_boundary_params(boundary) != 0 {
        return Err("Multipart: Invalid boundary in C-T (content).".into());
    }
    if boundary.is_empty() {
        return Err("Multipart: Invalid boundary in C-T (empty).".into());
    }
    if !characters_valid(boundary) {
        return Err("Multipart: Invalid boundary in C-T (characters).".into());
    }
    Ok(boundary.to_vec())
}

/// How many times `boundary` (any case) appears with a `=` somewhere after it.
fn count_boundary_params(text: &[u8]) -> usize {
    let lower = text.to_ascii_lowercase();
    let mut count = 0;
    let mut from = 0;
    while let Some(at) = find(&lower[from..], b"boundary") {
        from += at + b"boundary".len();
        if lower[from..].contains(&b'=') {
            count += 1;
        }
    }
    count
}

/// RFC 2046 boundary characters; a space is allowed but not last.
fn characters_valid(boundary: &[u8]) -> bool {
    boundary.iter().enumerate().all(|(i, &c)| {
        c.is_ascii_alphanumeric()
            || (c == b' ' && i + 1 < boundary.len())
            || b"'()+_,-./:=?".contains(&c)
    })
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t'..=b'\r')
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(content_type: &str) -> (Result<Vec<u8>, String>, MultipartFacts) {
        let mut facts = MultipartFacts::default();
        (parse(content_type.as_bytes(), &mut facts), facts)
    }

    #[test]
    fn plain_quoted_and_flagged() {
        assert_eq!(
            check("multipart/form-data; boundary=abc").0.unwrap(),
            b"abc"
        );
        let (boundary, facts) = check("Multipart/Form-Data; boundary=\"a b\"");
        assert_eq!(boundary.unwrap(), b"a b");
        assert!(facts.boundary_quoted);
        let (boundary, facts) = check("multipart/form-data boundary =x");
        assert_eq!(boundary.unwrap(), b"x");
        assert!(facts.missing_semicolon && facts.boundary_whitespace);
    }

    #[test]
    fn malformed_content_types_are_errors() {
        for bad in [
            "text/plain; boundary=x",
            "multipart/form-data; boundary=a; boundary=b",
            "multipart/form-data; BOUNDARY=x",
            "multipart/form-data",
            "multipart/form-data; x; boundary=a",
            "multipart/form-data; boundaryx=a",
            "multipart/form-data; boundary=\"abc",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=a;charset=utf-8",
            "multipart/form-data; boundary=a ",
        ] {
            assert!(check(bad).0.is_err(), "{bad}");
        }
        let long = format!("multipart/form-data; boundary={}", "a".repeat(1100));
        assert!(check(&long).0.is_err());
    }
}
