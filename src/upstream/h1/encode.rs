//! Request heads as bytes: the request line, the headers the pipeline left,
//! and framing chosen here (the client's framing never crosses the proxy).

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Method};

/// How the request body is framed on the upstream connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body and no framing header (GET, HEAD, ...).
    None,
    Length(u64),
    Chunked,
}

/// Picks the framing: no body → none (or `Content-Length: 0` for methods
/// that are expected to carry one); a known size → Content-Length;
/// otherwise chunked.
pub fn framing(method: &Method, end_of_stream: bool, exact_len: Option<u64>) -> BodyFraming {
    if end_of_stream {
        return if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
            BodyFraming::Length(0)
        } else {
            BodyFraming::None
        };
    }
    match exact_len {
        Some(n) => BodyFraming::Length(n),
        None => BodyFraming::Chunked,
    }
}

/// Writes the request head into `out` (cleared first).
pub fn encode_head(
    out: &mut Vec<u8>,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    framing: BodyFraming,
) {
    out.clear();
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        BodyFraming::None => {}
        BodyFraming::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa_u64(n, &mut [0u8; 20]));
            out.extend_from_slice(b"\r\n");
        }
        BodyFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// Decimal digits of `n` without allocating.
fn itoa_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// The line that opens a chunk of `len` bytes: hex size and CRLF.
pub fn chunk_header(len: usize, buf: &mut [u8; 18]) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut i = 16;
    let mut n = len;
    loop {
        i -= 1;
        buf[i] = HEX[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    buf[16] = b'\r';
    buf[17] = b'\n';
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn encodes_head_with_regenerated_framing() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("example.com"));
        h.insert("content-length", HeaderValue::from_static("999"));
        h.append("x-a", HeaderValue::from_static("1"));
        h.append("x-a", HeaderValue::from_static("2"));
        let mut out = Vec::new();
        encode_head(
            &mut out,
            &Method::POST,
            "/p?q=1",
            &h,
            BodyFraming::Length(12),
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "POST /p?q=1 HTTP/1.1\r\nhost: example.com\r\nx-a: 1\r\nx-a: 2\r\ncontent-length: 12\r\n\r\n"
        );
    }

    #[test]
    fn framing_rules() {
        assert_eq!(framing(&Method::GET, true, Some(0)), BodyFraming::None);
        assert_eq!(
            framing(&Method::POST, true, Some(0)),
            BodyFraming::Length(0)
        );
        assert_eq!(
            framing(&Method::POST, false, Some(5)),
            BodyFraming::Length(5)
        );
        assert_eq!(framing(&Method::POST, false, None), BodyFraming::Chunked);
    }

    #[test]
    fn number_formatting() {
        assert_eq!(itoa_u64(0, &mut [0; 20]), b"0");
        assert_eq!(itoa_u64(u64::MAX, &mut [0; 20]), b"18446744073709551615");
        assert_eq!(chunk_header(0, &mut [0; 18]), b"0\r\n");
        assert_eq!(chunk_header(0x1a2b, &mut [0; 18]), b"1a2b\r\n");
        assert_eq!(
            chunk_header(usize::MAX, &mut [0; 18]),
            b"ffffffffffffffff\r\n"
        );
    }
}
