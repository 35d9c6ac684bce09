//! A multipart part's `Content-Disposition: form-data; name="..."; filename="..."` header,
//! parsed as strictly as ModSecurity (its error codes are kept for the error message).

use super::multipart::{MultipartFacts, Part};

/// Fills `part.name` / `part.file_name` and the `MULTIPART_NAME` / `MULTIPART_FILENAME`
/// facts; `Err(code)` uses ModSecurity's negative codes (e.g. -11: unknown parameter).
pub(super) fn parse_content_disposition(
    value: &[u8],
    part: &mut Part,
    facts: &mut MultipartFacts,
) -> Result<(), i32> {
    let Some(mut rest) = value.strip_prefix(b"form-data") else {
        return Err(-1);
    };
    rest = skip_blanks(rest);
    if rest.is_empty() {
        return Ok(());
    }
    let Some(mut rest) = rest.strip_prefix(b";") else {
        return Err(-2);
    };
    while !rest.is_empty() {
        rest = skip_blanks(rest);
        if rest.is_empty() {
            return Err(-3);
        }
        let name_len = rest
            .iter()
            .take_while(|b| !matches!(b, b'=' | b' ' | b'\t'))
            .count();
        if name_len == rest.len() {
            return Err(-4);
        }
        let name = &rest[..name_len];
        rest = skip_blanks(&rest[name_len..]);
        match rest.first() {
            None => return Err(-5),
            Some(b'=') => rest = skip_blanks(&rest[1..]),
            Some(_) => return Err(-13),
        }
        if rest.is_empty() {
            return Err(-6);
        }
        let parameter;
        (parameter, rest) = match rest[0] {
            quote @ (b'"' | b'\'') => {
                if quote == b'\'' {
                    facts.invalid_quoting = true;
                }
                quoted(&rest[1..], quote)?
            }
            _ => {
                let len = rest.iter().take_while(|b| is_token_char(**b)).count();
                (rest[..len].to_vec(), &rest[len..])
            }
        };
        if parameter.contains(&b'\'') {
            facts.invalid_quoting = true;
        }
        match name {
            b"name" => {
                facts.names.push(parameter.clone());
                if !part.name.is_empty() {
                    return Err(-14);
                }
                part.name = parameter;
            }
            b"filename" => {
                facts.file_names.push(parameter.clone());
                if !part.file_name.is_empty() {
                    return Err(-15);
                }
                part.file_name = parameter;
            }
            _ => return Err(-11),
        }
        if rest.is_empty() {
            return Ok(());
        }
        rest = skip_blanks(rest);
        if rest.is_empty() {
            return Ok(());
        }
        match rest.strip_prefix(b";") {
            Some(after) => rest = after,
            None => {
                if matches!(rest[0], b'\'' | b'"') {
                    facts.invalid_quoting = true;
                }
                return Err(-12);
            }
        }
    }
    Ok(())
}

/// A quoted value (after its opening quote): `\` escapes only the quote and `\`; other
/// backslashes are kept (browsers send them unescaped in Windows paths).
fn quoted(input: &[u8], quote: u8) -> Result<(Vec<u8>, &[u8]), i32> {
    if input.is_empty() {
        return Err(-7);
    }
    let mut value = Vec::new();
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\\' => match input.get(i + 1) {
                None => return Err(-8),
                Some(&next) if next == quote || next == b'\\' => {
                    value.push(next);
                    i += 2;
                    continue;
                }
                Some(_) => value.push(b'\\'),
            },
            byte if byte == quote => return Ok((value, &input[i + 1..])),
            byte => value.push(byte),
        }
        i += 1;
    }
    // No closing quote: ModSecurity takes the value to the end of the header.
    Ok((value, &input[input.len()..]))
}

fn skip_blanks(input: &[u8]) -> &[u8] {
    let blanks = input
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    &input[blanks..]
}

/// RFC 2045 token characters.
fn is_token_char(byte: u8) -> bool {
    byte > 32 && byte < 127 && !b"()<>@,;:\\\"/[]?=".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> (Result<(), i32>, Part, MultipartFacts) {
        let mut part = Part::default();
        let mut facts = MultipartFacts::default();
        let result = parse_content_disposition(value.as_bytes(), &mut part, &mut facts);
        (result, part, facts)
    }

    #[test]
    fn names_and_files() {
        let (result, part, facts) =
            parse(r#"form-data; name="upload"; filename="C:\dir\a \"b\".txt""#);
        assert_eq!(result, Ok(()));
        assert_eq!(part.name, b"upload");
        assert_eq!(part.file_name, br#"C:\dir\a "b".txt"#);
        assert_eq!(facts.file_names, vec![part.file_name.clone()]);
        let (result, part, _) = parse("form-data; name=plain");
        assert_eq!((result, part.name), (Ok(()), b"plain".to_vec()));
    }

    #[test]
    fn flags_single_quotes() {
        let (result, part, facts) = parse("form-data; name='x'");
        assert_eq!(result, Ok(()));
        assert_eq!(part.name, b"x");
        assert!(facts.invalid_quoting);
        let (_, _, facts) = parse("form-data; name=\"it's\"");
        assert!(facts.invalid_quoting);
    }

    #[test]
    fn rejects_malformed() {
        for (value, code) in [
            ("attachment; name=a", -1),
            ("form-data name=a", -2),
            ("form-data; ", -3),
            ("form-data; name", -4),
            ("form-data; name x", -13),
            ("form-data; name=", -6),
            ("form-data; name=\"", -7),
            ("form-data; name=\"a\\", -8),
            ("form-data; other=a", -11),
            ("form-data; name=a b", -12),
            ("form-data; name=a; name=b", -14),
            ("form-data; name=a; filename=b; filename=c", -15),
        ] {
            assert_eq!(parse(value).0, Err(code), "{value}");
        }
    }
}
