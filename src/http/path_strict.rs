//! Strict path judgement (stage 3, before normalisation): refuses path
//! spellings that common backends read differently from the gateway, so a
//! rule on `/admin` cannot be slipped past by a backend's own decoding.
//!
//! Each case is refused, not canonicalised: rewriting would pick one
//! backend's reading and silently differ from another's.
//! - `;` or `%3B` (matrix parameters): Tomcat and Spring drop `;…` from a
//!   segment, so `/admin;x` and `/x/..;/admin` reach `/admin`.
//! - `%25` followed by two hex digits (double encoding): a backend that
//!   decodes again turns `%252e` into `.` and `%2561` into `a`.
//! - escapes that do not decode to UTF-8 (overlong `%c0%ae`, `%e0%80%af`,
//!   stray continuation bytes): lenient decoders map them to `.` and `/`.
//! - fullwidth ASCII forms (U+FF01–U+FF5E), raw or escaped: NFKC-normalising
//!   stacks (IIS, Python, Java) read `／ａｄｍｉｎ` as `/admin`.
//! - encoded control characters (`%01`–`%1F`, `%7F`, e.g. a trailing `%09`)
//!   and a segment ending in `%20`: trimmed by many frameworks.
//!
//! ASCII case is not a spelling problem the gateway can settle; routes that
//! front case-insensitive backends set `path.case_insensitive`.

/// Why a path was refused; the name is the access-log reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictPathError {
    MatrixParam,
    DoubleEncoding,
    NotUtf8,
    Fullwidth,
    EncodedControl,
    TrailingSpace,
}

impl StrictPathError {
    pub fn reason(self) -> &'static str {
        match self {
            Self::MatrixParam => "path_matrix_param",
            Self::DoubleEncoding => "path_double_encoding",
            Self::NotUtf8 => "path_not_utf8",
            Self::Fullwidth => "path_fullwidth",
            Self::EncodedControl => "path_encoded_control",
            Self::TrailingSpace => "path_trailing_space",
        }
    }
}

/// Checks the raw request path (no query). Plain ASCII paths without `%`
/// or `;` pass after one scan with no allocation.
pub fn check(path: &str) -> Result<(), StrictPathError> {
    let p = path.as_bytes();
    if !p.iter().any(|&b| b == b'%' || b == b';' || b >= 0x80) {
        return Ok(());
    }
    let mut decoded = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        let b = p[i];
        if b == b';' {
            return Err(StrictPathError::MatrixParam);
        }
        if b != b'%' {
            decoded.push(b);
            i += 1;
            continue;
        }
        // Malformed escapes are normalisation's to refuse (`bad_path`).
        let Some(v) = escape_at(p, i) else {
            decoded.push(b);
            i += 1;
            continue;
        };
        match v {
            b';' => return Err(StrictPathError::MatrixParam),
            b'%' if hex_pair(p, i + 3) || escape_at(p, i + 3).and_then(hex).is_some() => {
                return Err(StrictPathError::DoubleEncoding);
            }
            v if v < 0x20 || v == 0x7f => return Err(StrictPathError::EncodedControl),
            b' ' if matches!(p.get(i + 3), None | Some(b'/')) => {
                return Err(StrictPathError::TrailingSpace);
            }
            _ => {}
        }
        decoded.push(v);
        i += 3;
    }
    let text = std::str::from_utf8(&decoded).map_err(|_| StrictPathError::NotUtf8)?;
    if text.chars().any(|c| ('\u{FF01}'..='\u{FF5E}').contains(&c)) {
        return Err(StrictPathError::Fullwidth);
    }
    Ok(())
}

/// The byte `%XX` at `p[i]` encodes, if it is a well-formed escape.
fn escape_at(p: &[u8], i: usize) -> Option<u8> {
    if p.get(i) != Some(&b'%') {
        return None;
    }
    let h = hex(*p.get(i + 1)?)?;
    let l = hex(*p.get(i + 2)?)?;
    Some((h << 4) | l)
}

/// Two hex digits at `p[i..i + 2]` (what `%25` would turn into an escape).
fn hex_pair(p: &[u8], i: usize) -> bool {
    matches!(
        (
            p.get(i).copied().and_then(hex),
            p.get(i + 1).copied().and_then(hex)
        ),
        (Some(_), Some(_))
    )
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::StrictPathError::*;
    use super::*;

    #[test]
    fn refuses_each_confusion() {
        let cases = [
            ("/admin;x", MatrixParam),
            ("/;x/admin", MatrixParam),
            ("/x/..;/admin", MatrixParam),
            ("/admin%3bx", MatrixParam),
            ("/%252e%252e/admin", DoubleEncoding),
            ("/%2561dmin", DoubleEncoding),
            ("/%25%36%31dmin", DoubleEncoding),
            ("/%c0%ae%c0%ae/admin", NotUtf8),
            ("/%e0%80%afadmin", NotUtf8),
            ("/%80admin", NotUtf8),
            ("/%ef%bc%a1dmin", Fullwidth),
            ("/\u{FF41}dmin", Fullwidth),
            ("/%ef%bc%8fadmin", Fullwidth),
            ("/admin%09", EncodedControl),
            ("/admin%0a/x", EncodedControl),
            ("/admin%7f", EncodedControl),
            ("/admin%20", TrailingSpace),
            ("/admin%20/x", TrailingSpace),
        ];
        for (path, want) in cases {
            assert_eq!(check(path), Err(want), "{path}");
        }
    }

    #[test]
    fn passes_ordinary_paths() {
        for path in [
            "/",
            "/admin",
            "/caf%C3%A9",
            "/caf\u{e9}",
            "/a%20b",
            "/100%25",
            "/100%25off",
            "/a%2Fb",
            "/%61dmin",
            "/%zz",
            "/%4",
        ] {
            assert_eq!(check(path), Ok(()), "{path}");
        }
    }
}
