//! FILES*, MULTIPART_* and XML variables, read from the body processors' output.

use super::collect::{Value, number, owned};
use crate::waf::body::ParsedBody;
use crate::waf::rule::{Collection, Selector, Target};
use std::borrow::Cow;

pub fn collect<'a>(parsed: Option<&'a ParsedBody>, target: &Target, out: &mut Vec<Value<'a>>) {
    use Collection as C;
    let c = target.collection;
    let Some(parsed) = parsed else {
        // Flags read 0 when no multipart body was parsed.
        if is_flag(c) && c != C::MultipartFilename && c != C::MultipartName {
            out.push(number(c, 0));
        }
        return;
    };
    let keyed = |k: &'a [u8], v: &'a [u8], out: &mut Vec<Value<'a>>| {
        if target.selects(k) {
            out.push(Value {
                collection: c,
                key: Cow::Borrowed(k),
                value: Cow::Borrowed(v),
            });
        }
    };
    match c {
        C::Files => parsed
            .files
            .iter()
            .for_each(|f| keyed(&f.field_name, &f.file_name, out)),
        C::FilesNames => parsed
            .files
            .iter()
            .for_each(|f| keyed(&f.field_name, &f.field_name, out)),
        C::FilesTmpContent => parsed
            .files
            .iter()
            .for_each(|f| keyed(&f.field_name, &f.content, out)),
        C::FilesTmpNames => {}
        C::FilesSizes => {
            for f in &parsed.files {
                if target.selects(&f.field_name) {
                    out.push(owned(c, &f.field_name, f.size.to_string().into_bytes()));
                }
            }
        }
        C::FilesCombinedSize => out.push(number(c, parsed.files.iter().map(|f| f.size).sum())),
        C::MultipartPartHeaders => {
            if let Some(m) = &parsed.multipart {
                m.part_headers.iter().for_each(|(k, v)| keyed(k, v, out));
            }
        }
        C::MultipartFilename | C::MultipartName => {
            if let Some(m) = &parsed.multipart {
                let list = if c == C::MultipartName {
                    &m.names
                } else {
                    &m.file_names
                };
                for v in list {
                    out.push(Value {
                        collection: c,
                        key: Cow::Borrowed(b""),
                        value: Cow::Borrowed(v),
                    });
                }
            }
        }
        C::Xml => {
            if let Some(doc) = &parsed.xml {
                let path = match &target.selector {
                    Selector::Key(k) => k.as_str(),
                    _ => "/*",
                };
                // The two XPath forms the CRS uses: the root's string value
                // and every attribute value.
                match path {
                    "//@*" => doc
                        .attribute_values
                        .iter()
                        .for_each(|v| out.push(owned(c, path.as_bytes(), v.clone()))),
                    _ => out.push(owned(c, path.as_bytes(), doc.root_text())),
                }
            }
        }
        _ if is_flag(c) => {
            let facts = parsed.multipart.clone().unwrap_or_default();
            let on = match c {
                C::MultipartStrictError => facts.strict_error(parsed.error.is_some()),
                C::MultipartUnmatchedBoundary => {
                    out.push(number(c, usize::from(facts.unmatched_boundary)));
                    return;
                }
                C::MultipartBoundaryQuoted => facts.boundary_quoted,
                C::MultipartBoundaryWhitespace => facts.boundary_whitespace,
                C::MultipartDataBefore => facts.data_before,
                C::MultipartDataAfter => facts.data_after,
                C::MultipartHeaderFolding => facts.header_folding,
                C::MultipartLfLine => facts.lf_line,
                C::MultipartMissingSemicolon => facts.missing_semicolon,
                C::MultipartInvalidQuoting => facts.invalid_quoting,
                C::MultipartInvalidPart => facts.invalid_part,
                C::MultipartInvalidHeaderFolding => facts.invalid_header_folding,
                C::MultipartFileLimitExceeded => facts.file_limit_exceeded,
                C::MultipartCrlfLfLines => facts.crlf_lf_lines,
                _ => false,
            };
            out.push(number(c, usize::from(on)));
        }
        _ => {}
    }
}

fn is_flag(c: Collection) -> bool {
    c.name().starts_with("MULTIPART_") && c != Collection::MultipartPartHeaders
}
