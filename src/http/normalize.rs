//! Request-path normalisation (stage 3), run before routing and policies so
//! that every later stage sees one canonical spelling of a path: `/%61dmin`,
//! `//admin` and `/x/../admin` all match rules written for `/admin`.
//!
//! Rules, in order of application (one pass over the input):
//! - the path must start with `/` (`*` for OPTIONS is the caller's business);
//! - escapes of unreserved characters (ALPHA DIGIT `-._~`) are decoded, all
//!   other escapes are kept with upper-case hex; `%00`, `%zz`, truncated `%4`
//!   are `BadEncoding`;
//! - `%2F`/`%5C` (any case) follow [`EncodedSlash`]: `Reject` errors, `Keep`
//!   keeps them as opaque `%2F`/`%5C` inside a segment, `Decode` makes them a
//!   separator (`\` included);
//! - a raw `\` is a separator under `Decode`, else `BadEncoding` (it is not a
//!   legal URI character, and some backends treat it as `/`);
//! - raw control characters are `BadEncoding`;
//! - repeated slashes are merged, then dot segments removed as in RFC 3986
//!   §5.2.4 (encoded dots count, being unreserved); `..` at the root stays
//!   at the root, as browsers do, so `PathError::AboveRoot` is never returned;
//! - a trailing slash (or a trailing dot segment, which names a directory)
//!   is kept.
//!
//! The result is idempotent. Already-normal input is returned borrowed after a
//! single scan, with no allocation.

use std::borrow::Cow;

use crate::config::spec::EncodedSlash;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path must start with '/'")]
    NotAbsolute,
    #[error("invalid percent-encoding")]
    BadEncoding,
    #[error("encoded '/' or '\\' in path")]
    EncodedSlash,
    /// Not produced: `..` at the root is clamped to the root instead.
    #[error("path escapes the root")]
    AboveRoot,
}

/// Normalises the path part of a request target (no query): dot-segment
/// removal (RFC 3986 §5.2.4), percent-decoding of unreserved characters,
/// upper-case hex in the remaining escapes, repeated slashes merged, and
/// `%2F`/`%5C` handled per `encoded_slash`. Returns borrowed input when it
/// is already normal (the common case: no allocation).
pub fn normalize_path(path: &str, encoded_slash: EncodedSlash) -> Result<Cow<'_, str>, PathError> {
    let p = path.as_bytes();
    if p.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    if is_normal(p, encoded_slash) {
        return Ok(Cow::Borrowed(path));
    }
    let out = rewrite(p, encoded_slash)?;
    // Only whole UTF-8 sequences are copied and only ASCII is produced, so
    // this cannot fail; map rather than unwrap all the same.
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| PathError::BadEncoding)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_upper_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'A'..=b'F').contains(&b)
}

/// True when `rewrite` would return `p` unchanged (no error, no change).
/// Anything unusual answers false and is judged by `rewrite`.
fn is_normal(p: &[u8], mode: EncodedSlash) -> bool {
    let mut seg_start = 1;
    let mut i = 1;
    while i < p.len() {
        match p[i] {
            b'/' => {
                if !is_plain_segment(&p[seg_start..i]) {
                    return false;
                }
                seg_start = i + 1;
            }
            b'%' => {
                let (Some(&h), Some(&l)) = (p.get(i + 1), p.get(i + 2)) else {
                    return false;
                };
                if !is_upper_hex(h) || !is_upper_hex(l) {
                    return false;
                }
                let v = (hex_val(h).unwrap_or(0) << 4) | hex_val(l).unwrap_or(0);
                let slash = v == b'/' || v == b'\\';
                if v == 0 || is_unreserved(v) || (slash && mode != EncodedSlash::Keep) {
                    return false;
                }
                i += 3;
                continue;
            }
            b'\\' => return false,
            b if is_control(b) => return false,
            _ => {}
        }
        i += 1;
    }
    // The last segment may be empty (trailing slash, or the root itself).
    let last = &p[seg_start..];
    last != b"." && last != b".."
}

fn is_plain_segment(s: &[u8]) -> bool {
    !s.is_empty() && s != b"." && s != b".."
}

/// The slow path: decode, then rebuild segment by segment.
fn rewrite(p: &[u8], mode: EncodedSlash) -> Result<Vec<u8>, PathError> {
    // `out` is always "/" + finished segments each followed by "/", then the
    // segment being read, which starts at `seg`.
    let mut out = Vec::with_capacity(p.len());
    out.push(b'/');
    let mut seg = 1;
    let mut i = 1;
    while i < p.len() {
        let b = p[i];
        i += 1;
        match b {
            b'/' => end_segment(&mut out, &mut seg),
            b'\\' if mode == EncodedSlash::Decode => end_segment(&mut out, &mut seg),
            b'\\' => return Err(PathError::BadEncoding),
            b'%' => {
                let (Some(h), Some(l)) = (
                    p.get(i).copied().and_then(hex_val),
                    p.get(i + 1).copied().and_then(hex_val),
                ) else {
                    return Err(PathError::BadEncoding);
                };
                i += 2;
                let v = (h << 4) | l;
                match v {
                    0 => return Err(PathError::BadEncoding),
                    b'/' | b'\\' => match mode {
                        EncodedSlash::Reject => return Err(PathError::EncodedSlash),
                        EncodedSlash::Decode => end_segment(&mut out, &mut seg),
                        EncodedSlash::Keep => push_escape(&mut out, v),
                    },
                    v if is_unreserved(v) => out.push(v),
                    v => push_escape(&mut out, v),
                }
            }
            b if is_control(b) => return Err(PathError::BadEncoding),
            b => out.push(b),
        }
    }
    // A final "." or ".." names a directory: what remains keeps its slash.
    match &out[seg..] {
        b"." => out.truncate(seg),
        b".." => {
            out.truncate(seg);
            pop_segment(&mut out);
        }
        _ => {}
    }
    Ok(out)
}

/// Finishes the segment at `out[*seg..]` on reaching a separator.
fn end_segment(out: &mut Vec<u8>, seg: &mut usize) {
    match &out[*seg..] {
        // Repeated slash: merged.
        b"" => {}
        b"." => out.truncate(*seg),
        b".." => {
            out.truncate(*seg);
            pop_segment(out);
        }
        _ => out.push(b'/'),
    }
    *seg = out.len();
}

/// Removes the last finished segment of `out` ("/a/b/" → "/a/"); at the
/// root there is nothing to remove.
fn pop_segment(out: &mut Vec<u8>) {
    if out.len() <= 1 {
        return;
    }
    let before_slash = out.len() - 1;
    let keep = out[..before_slash]
        .iter()
        .rposition(|&c| c == b'/')
        .map_or(1, |i| i + 1);
    out.truncate(keep);
}

fn push_escape(out: &mut Vec<u8>, v: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[b'%', HEX[usize::from(v >> 4)], HEX[usize::from(v & 0xf)]]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODES: [EncodedSlash; 3] = [
        EncodedSlash::Reject,
        EncodedSlash::Keep,
        EncodedSlash::Decode,
    ];

    fn norm(p: &str) -> Result<String, PathError> {
        normalize_path(p, EncodedSlash::Reject).map(Cow::into_owned)
    }

    #[test]
    fn examples() {
        let cases = [
            ("/", "/"),
            ("/%61dmin", "/admin"),
            ("/x/../admin", "/admin"),
            ("//admin", "/admin"),
            ("/a//b///c", "/a/b/c"),
            ("/a/./b", "/a/b"),
            ("/%7e", "/~"),
            ("/%7E%2d%5F%2E%30", "/~-_.0"),
            ("/%c3%a9", "/%C3%A9"),
            ("/caf%C3%A9", "/caf%C3%A9"),
            ("/%2e%2e/admin", "/admin"),
            ("/a/%2E%2e/admin", "/admin"),
            ("/a/.%2e/b", "/b"),
            ("/a/%2e/b", "/a/b"),
            ("/../admin", "/admin"),
            ("/../../..", "/"),
            ("/a/b/", "/a/b/"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/a/..", "/"),
            ("/a/b/../c/./d/", "/a/c/d/"),
            ("/a//../b", "/b"),
            ("/...", "/..."),
            ("/.a/..b/a.", "/.a/..b/a."),
            ("/a%20b", "/a%20b"),
            ("/a%3fb", "/a%3Fb"),
            ("/%25", "/%25"),
            ("/%252e", "/%252e"),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(norm(""), Err(PathError::NotAbsolute));
        assert_eq!(norm("admin"), Err(PathError::NotAbsolute));
        assert_eq!(norm("*"), Err(PathError::NotAbsolute));
        for bad in [
            "/%zz", "/%4", "/%", "/a%g0", "/%00", "/a%00b", "/a\tb", "/a\u{7f}",
        ] {
            assert_eq!(norm(bad), Err(PathError::BadEncoding), "{bad:?}");
        }
    }

    #[test]
    fn encoded_slash_modes() {
        let run = |p, m| normalize_path(p, m).map(Cow::into_owned);
        assert_eq!(
            run("/a%2fb", EncodedSlash::Reject),
            Err(PathError::EncodedSlash)
        );
        assert_eq!(
            run("/a%5Cb", EncodedSlash::Reject),
            Err(PathError::EncodedSlash)
        );
        assert_eq!(run("/a%2fb", EncodedSlash::Keep).as_deref(), Ok("/a%2Fb"));
        assert_eq!(run("/a%5cb", EncodedSlash::Keep).as_deref(), Ok("/a%5Cb"));
        assert_eq!(run("/a%2fb", EncodedSlash::Decode).as_deref(), Ok("/a/b"));
        assert_eq!(run("/a%5cb", EncodedSlash::Decode).as_deref(), Ok("/a/b"));
        // Kept escapes never act as separators, so `..%2F` is no dot segment.
        assert_eq!(
            run("/a/..%2Fb", EncodedSlash::Keep).as_deref(),
            Ok("/a/..%2Fb")
        );
        // Decoded ones do.
        assert_eq!(
            run("/a/b%2F..%2Fc", EncodedSlash::Decode).as_deref(),
            Ok("/a/c")
        );
        // Raw backslash: a separator only under Decode.
        assert_eq!(run("/a\\b", EncodedSlash::Decode).as_deref(), Ok("/a/b"));
        assert_eq!(
            run("/a\\..\\admin", EncodedSlash::Decode).as_deref(),
            Ok("/admin")
        );
        assert_eq!(
            run("/a\\b", EncodedSlash::Keep),
            Err(PathError::BadEncoding)
        );
        assert_eq!(
            run("/a\\b", EncodedSlash::Reject),
            Err(PathError::BadEncoding)
        );
    }

    #[test]
    fn normal_input_is_borrowed() {
        for p in [
            "/",
            "/a/b",
            "/a/b/",
            "/%C3%A9/x",
            "/...",
            "/a-b_c~d.e",
            "/é",
        ] {
            assert!(
                matches!(
                    normalize_path(p, EncodedSlash::Reject),
                    Ok(Cow::Borrowed(_))
                ),
                "{p}"
            );
        }
        assert!(matches!(
            normalize_path("/a%2Fb", EncodedSlash::Keep),
            Ok(Cow::Borrowed(_))
        ));
        for p in ["/a/../b", "//a", "/%61", "/%c3", "/./a", "/a/."] {
            assert!(
                matches!(normalize_path(p, EncodedSlash::Reject), Ok(Cow::Owned(_))),
                "{p}"
            );
        }
    }

    /// Property-style: over many generated paths, normalising is idempotent
    /// and its output is recognised as normal (borrowed) by the fast path.
    #[test]
    fn idempotent_over_generated_paths() {
        let pieces = [
            "/", "/", "//", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "\\", "%41", "%7e",
            "%c3%a9", "%25", "%", "%4", "%zz", "%00", "a", "b", "~", "é", "-", "%3A", ":",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut ok = 0;
        for _ in 0..20_000 {
            let mut path = String::from("/");
            let n = next(&mut seed) % 10;
            for _ in 0..n {
                path.push_str(pieces[next(&mut seed) as usize % pieces.len()]);
            }
            for mode in MODES {
                let Ok(once) = normalize_path(&path, mode) else {
                    continue;
                };
                ok += 1;
                let twice = normalize_path(&once, mode);
                assert!(
                    matches!(twice, Ok(Cow::Borrowed(t)) if t == once),
                    "{path:?} -> {once:?} -> {twice:?} ({mode:?})"
                );
                assert!(once.starts_with('/'));
                assert!(!once.contains("//"), "{once}");
                assert!(!once.split('/').any(|s| s == "." || s == ".."), "{once}");
            }
        }
        // The generator must exercise the success path, not only errors.
        assert!(ok > 10_000, "{ok}");
    }

    fn next(s: &mut u64) -> u64 {
        // xorshift64*: deterministic, no dependency.
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
