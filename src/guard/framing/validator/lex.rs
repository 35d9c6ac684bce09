//! Byte classes and line lexing shared by the framing validator's head and
//! trailer parsing.

use crate::guard::framing::Violation;

/// Where a line-oriented section (request head or chunked trailers) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lx {
    /// At the start of a line.
    LineStart,
    /// CR at the start of a line: the section ends at the LF.
    LineStartCr,
    Method,
    /// First byte of the request-target.
    TargetStart,
    Target,
    /// Matching `HTTP/1.x`, this many bytes in.
    Version(u8),
    Name,
    Value,
    /// CR at the end of a request or header line.
    LineCr,
}

// Byte classes, one table lookup per byte in the hot loops.
pub(super) const TCHAR: u8 = 1; // RFC 9110 token character
pub(super) const TARGET: u8 = 2; // visible ASCII: request-target bytes
pub(super) const VALUE: u8 = 4; // field-value bytes: HTAB, SP, VCHAR, obs-text
pub(super) const HEX: u8 = 8;

const fn build_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let mut f = 0u8;
        let tchar_punct = matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        );
        if c.is_ascii_alphanumeric() || tchar_punct {
            f |= TCHAR;
        }
        if c >= 0x21 && c <= 0x7e {
            f |= TARGET;
        }
        if c == b'\t' || (c >= 0x20 && c != 0x7f) {
            f |= VALUE;
        }
        if c.is_ascii_hexdigit() {
            f |= HEX;
        }
        t[b] = f;
        b += 1;
    }
    t
}

static CLASS: [u8; 256] = build_classes();

#[inline]
pub(super) fn is(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

/// Lexes one byte of a trailer section (header-line rules, nothing kept).
/// `Ok(None)` means the section ended with this byte.
pub(super) fn trailer_byte(lx: Lx, b: u8) -> Result<Option<Lx>, Violation> {
    let next = match lx {
        Lx::LineStart if b == b'\r' => Lx::LineStartCr,
        Lx::LineStart if is(b, TCHAR) => Lx::Name,
        Lx::LineStart => return Err(line_start_violation(b)),
        Lx::LineStartCr if b == b'\n' => return Ok(None),
        Lx::LineStartCr => return Err(Violation::BareCr),
        Lx::Name if is(b, TCHAR) => Lx::Name,
        Lx::Name if b == b':' => Lx::Value,
        Lx::Name if b == b' ' || b == b'\t' => return Err(Violation::SpaceBeforeColon),
        Lx::Name => return Err(lf_or(b, Violation::InvalidHeaderByte)),
        Lx::Value if is(b, VALUE) => Lx::Value,
        Lx::Value if b == b'\r' => Lx::LineCr,
        Lx::Value => return Err(lf_or(b, Violation::InvalidHeaderByte)),
        Lx::LineCr if b == b'\n' => Lx::LineStart,
        Lx::LineCr => return Err(Violation::BareCr),
        // Request-line states never occur in trailers.
        _ => return Err(Violation::BadChunk),
    };
    Ok(Some(next))
}

/// The violation for an unexpected byte at the start of a header line.
pub(super) fn line_start_violation(b: u8) -> Violation {
    match b {
        b' ' | b'\t' => Violation::ObsFold,
        b'\n' => Violation::BareLf,
        _ => Violation::InvalidHeaderByte,
    }
}

/// A stray LF is always reported as a bare LF, whatever else was expected.
pub(super) fn lf_or(b: u8, other: Violation) -> Violation {
    if b == b'\n' { Violation::BareLf } else { other }
}

pub(super) fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}
