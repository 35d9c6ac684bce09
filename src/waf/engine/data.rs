//! What a transaction has seen of the request and response, split into the
//! pieces SecLang variables name (filename, basename, cookies, args …).

use crate::waf::body::ParsedBody;
use crate::waf::rule::BodyProcessor;

pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The client and server ends of the connection.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub remote_addr: String,
    pub remote_port: u16,
    pub server_addr: String,
    pub server_port: u16,
}

#[derive(Debug, Default)]
pub struct RequestData {
    pub method: Vec<u8>,
    /// The request target as sent (may be absolute-form).
    pub uri_raw: Vec<u8>,
    /// Path and query (absolute-form reduced to origin-form).
    pub uri: Vec<u8>,
    pub protocol: Vec<u8>,
    pub line: Vec<u8>,
    /// Percent-decoded path, without the query.
    pub filename: Vec<u8>,
    pub basename: Vec<u8>,
    pub query: Vec<u8>,
    pub headers: Pairs,
    pub cookies: Pairs,
    pub args_get: Pairs,
    pub args_post: Pairs,
    pub body: Vec<u8>,
    pub body_length: usize,
    pub processor: Option<BodyProcessor>,
    pub parsed_body: Option<ParsedBody>,
    pub body_error: Option<String>,
    pub urlencoded_error: bool,
}

#[derive(Debug, Default)]
pub struct ResponseData {
    pub status: u16,
    pub protocol: Vec<u8>,
    pub headers: Pairs,
    pub body: Vec<u8>,
    pub body_seen: bool,
}

impl RequestData {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        header(&self.headers, name)
    }
}

pub fn header<'a>(headers: &'a Pairs, name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v.as_slice())
}

/// Splits a request target into (origin-form uri, path, query).
pub fn split_target(target: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut origin = target;
    // absolute-form: drop scheme://authority, as REQUEST_URI never holds a host.
    if let Some(pos) = find(target, b"://")
        && target[..pos].iter().all(|b| b.is_ascii_alphabetic())
    {
        let rest = &target[pos + 3..];
        origin = match rest.iter().position(|&b| b == b'/') {
            Some(slash) => &rest[slash..],
            None => b"/",
        };
    }
    let (path, query) = match origin.iter().position(|&b| b == b'?') {
        Some(q) => (&origin[..q], &origin[q + 1..]),
        None => (origin, &b""[..]),
    };
    (origin.to_vec(), path.to_vec(), query.to_vec())
}

/// The last path segment (after the last `/`), as REQUEST_BASENAME.
pub fn basename(path: &[u8]) -> Vec<u8> {
    match path.iter().rposition(|&b| b == b'/' || b == b'\\') {
        Some(p) => path[p + 1..].to_vec(),
        None => path.to_vec(),
    }
}

/// `Cookie: a=1; b=2` → pairs (SecCookieFormat 0: no decoding, names trimmed).
pub fn parse_cookies(headers: &Pairs, out: &mut Pairs) {
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case(b"cookie") {
            continue;
        }
        for part in value.split(|&b| b == b';') {
            let part = trim_start(part);
            if part.is_empty() {
                continue;
            }
            match part.iter().position(|&b| b == b'=') {
                Some(eq) => out.push((part[..eq].to_vec(), part[eq + 1..].to_vec())),
                None => out.push((part.to_vec(), Vec::new())),
            }
        }
    }
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The body processor a Content-Type selects (ModSecurity's built-in choice
/// for URL-encoded and multipart; JSON and XML as its recommended rules do).
pub fn processor_for(content_type: &[u8]) -> Option<BodyProcessor> {
    let ct = content_type.to_ascii_lowercase();
    let mime = ct.split(|&b| b == b';').next().unwrap_or_default();
    let mime = mime.trim_ascii();
    if mime == b"application/x-www-form-urlencoded" {
        Some(BodyProcessor::UrlEncoded)
    } else if mime == b"multipart/form-data" {
        Some(BodyProcessor::Multipart)
    } else if mime == b"application/json"
        || (mime.starts_with(b"application/") && mime.ends_with(b"+json"))
    {
        Some(BodyProcessor::Json)
    } else if matches!(
        mime,
        b"text/xml" | b"application/xml" | b"application/soap+xml"
    ) {
        Some(BodyProcessor::Xml)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_origin_and_absolute_targets() {
        let (uri, path, query) = split_target(b"/a/b.php?x=1&y");
        assert_eq!(
            (uri.as_slice(), path.as_slice(), query.as_slice()),
            (&b"/a/b.php?x=1&y"[..], &b"/a/b.php"[..], &b"x=1&y"[..])
        );
        let (uri, path, _) = split_target(b"http://h.example/p?q");
        assert_eq!(
            (uri.as_slice(), path.as_slice()),
            (&b"/p?q"[..], &b"/p"[..])
        );
        assert_eq!(basename(b"/a/b.php"), b"b.php");
    }

    #[test]
    fn cookies_split_on_semicolons() {
        let headers = vec![(b"Cookie".to_vec(), b"a=1; b=x=y;c".to_vec())];
        let mut out = Vec::new();
        parse_cookies(&headers, &mut out);
        assert_eq!(
            out,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"x=y".to_vec()),
                (b"c".to_vec(), vec![])
            ]
        );
    }

    #[test]
    fn processors_by_content_type() {
        assert_eq!(
            processor_for(b"application/x-www-form-urlencoded; charset=utf-8"),
            Some(BodyProcessor::UrlEncoded)
        );
        assert_eq!(
            processor_for(b"Multipart/Form-Data; boundary=x"),
            Some(BodyProcessor::Multipart)
        );
        assert_eq!(
            processor_for(b"application/json"),
            Some(BodyProcessor::Json)
        );
        assert_eq!(processor_for(b"text/xml"), Some(BodyProcessor::Xml));
        assert_eq!(processor_for(b"text/plain"), None);
    }
}
