//! Parsing an upstream response head, strictly: an upstream that frames
//! ambiguously could desynchronise the pooled connection, so such responses
//! are errors (502), never relayed.

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

/// Most header fields accepted in one response head.
const MAX_HEADERS: usize = 128;

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    Empty,
    Length(u64),
    Chunked,
    /// Read until the upstream closes (HTTP/1.0 style); never reusable.
    UntilClose,
}

#[derive(Debug)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub framing: ResponseFraming,
    /// The connection may carry another request after this response.
    pub keep_alive: bool,
}

/// Parses a head from the front of `input`: `Ok(None)` when incomplete,
/// `Ok(Some((head, len)))` with its length in bytes.
pub fn parse(input: &[u8], method: &Method) -> Result<Option<(ResponseHead, usize)>, &'static str> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let len = match response.parse(input) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err("too many response headers"),
        Err(_) => return Err("malformed response head"),
    };
    // httparse tolerates bare LF line ends; a strict peer never sends them.
    if has_bare_lf(&input[..len]) {
        return Err("bare LF in response head");
    }
    let code = response.code.ok_or("missing status")?;
    let status = StatusCode::from_u16(code).map_err(|_| "invalid status code")?;
    let version = match response.version {
        Some(1) => Version::HTTP_11,
        Some(0) => Version::HTTP_10,
        _ => return Err("unsupported HTTP version"),
    };

    // One copy of the head shared by every value, instead of one allocation
    // per value: values are slices of it (it lives as long as the response).
    let head = Bytes::copy_from_slice(&input[..len]);
    let base = input.as_ptr() as usize;
    let mut headers = HeaderMap::with_capacity(response.headers.len());
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut close = version == Version::HTTP_10;
    for h in response.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| "invalid header name")?;
        let shared = shared_slice(&head, base, h.value).ok_or("invalid header value")?;
        let value = HeaderValue::from_maybe_shared(shared).map_err(|_| "invalid header value")?;
        if name == CONTENT_LENGTH {
            let n = parse_length(h.value).ok_or("invalid Content-Length")?;
            if content_length.is_some_and(|prior| prior != n) {
                return Err("conflicting Content-Length");
            }
            content_length = Some(n);
        } else if name == TRANSFER_ENCODING {
            if transfer_encoding || !h.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err("unsupported Transfer-Encoding");
            }
            transfer_encoding = true;
        } else if name == CONNECTION {
            let tokens = std::str::from_utf8(h.value).unwrap_or("");
            for token in tokens.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && version == Version::HTTP_10 {
                    close = false;
                }
            }
        }
        headers.append(name, value);
    }
    if transfer_encoding && content_length.is_some() {
        return Err("both Content-Length and Transfer-Encoding");
    }

    let bodiless = *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = if bodiless {
        ResponseFraming::Empty
    } else if transfer_encoding {
        ResponseFraming::Chunked
    } else if let Some(n) = content_length {
        if n == 0 {
            ResponseFraming::Empty
        } else {
            ResponseFraming::Length(n)
        }
    } else {
        ResponseFraming::UntilClose
    };
    let keep_alive = !close && framing != ResponseFraming::UntilClose;
    Ok(Some((
        ResponseHead {
            status,
            headers,
            framing,
            keep_alive,
        },
        len,
    )))
}

/// `part` (borrowed from the parsed input starting at address `base`) as a
/// slice of `head`, the copy of that input; `None` if it is not inside it.
fn shared_slice(head: &Bytes, base: usize, part: &[u8]) -> Option<Bytes> {
    if part.is_empty() {
        return Some(Bytes::new());
    }
    let start = (part.as_ptr() as usize).checked_sub(base)?;
    let end = start.checked_add(part.len())?;
    (end <= head.len()).then(|| head.slice(start..end))
}

fn parse_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn has_bare_lf(head: &[u8]) -> bool {
    head.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> (ResponseHead, usize) {
        parse(raw.as_bytes(), &Method::GET).unwrap().unwrap()
    }

    #[test]
    fn parses_framing_and_keep_alive() {
        let (h, len) = ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(len, 38);
        assert_eq!(h.framing, ResponseFraming::Length(5));
        assert!(h.keep_alive);
        let (h, _) =
            ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        assert_eq!(h.framing, ResponseFraming::Chunked);
        assert!(!h.keep_alive);
        let (h, _) = ok("HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!(h.framing, ResponseFraming::UntilClose);
        assert!(!h.keep_alive);
        let (h, _) = ok("HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(h.framing, ResponseFraming::Empty);
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Le", &Method::GET)
                .unwrap()
                .is_none()
        );
        let (h, _) = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
            &Method::HEAD,
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.framing, ResponseFraming::Empty);
    }

    #[test]
    fn header_values_are_kept_exactly() {
        let (h, _) = ok(
            "HTTP/1.1 200 OK\r\nX-Empty:\r\nServer: nginx\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
        );
        assert_eq!(h.headers["x-empty"], "");
        assert_eq!(h.headers["server"], "nginx");
        let cookies: Vec<_> = h.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }

    #[test]
    fn rejects_ambiguous_heads() {
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            "HTTP/1.1 200 OK\nContent-Length: 5\n\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "garbage\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
        ] {
            assert!(parse(bad.as_bytes(), &Method::GET).is_err(), "{bad:?}");
        }
        // Identical duplicates are one length.
        assert!(
            parse(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                &Method::GET
            )
            .is_ok()
        );
    }
}
