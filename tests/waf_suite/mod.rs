//! The CRS regression suite (go-ftw YAML) as data: tests, the requests they
//! send, and the verdict on what an engine reported. Shared by the
//! in-process runner and the through-the-gateway runner.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// `$PORTCULLIS_SHARED` (default `../shared` beside the repository) + `waf/crs-v4.28.0`.
pub fn crs_dir() -> PathBuf {
    let shared = std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let dir = shared.join("waf/crs-v4.28.0");
    assert!(
        dir.join("rules").is_dir(),
        "CRS not found at {} (set PORTCULLIS_SHARED to the shared/ folder)",
        dir.display()
    );
    dir
}

/// One HTTP request a stage sends.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub uri: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `encoded_request`: raw bytes sent as they are.
    pub raw: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub ids: Vec<u32>,
    pub no_ids: Vec<u32>,
    pub match_regex: Option<String>,
    pub no_match_regex: Option<String>,
    pub status: Option<u16>,
    pub error: bool,
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub request: Request,
    pub expect: Expect,
}

#[derive(Debug, Clone)]
pub struct Case {
    /// `942100-3`.
    pub name: String,
    pub stages: Vec<Stage>,
}

/// What the engine reported for one stage.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub ids: Vec<u32>,
    pub log: String,
    pub status: Option<u16>,
    pub transport_error: bool,
}

impl Expect {
    /// `None` when the stage passes, else why not.
    pub fn verdict(&self, seen: &Observed) -> Option<String> {
        if self.error {
            return (!seen.transport_error).then(|| "expected a transport error".into());
        }
        let missing: Vec<u32> = self
            .ids
            .iter()
            .copied()
            .filter(|id| !seen.ids.contains(id))
            .collect();
        if !missing.is_empty() {
            return Some(format!("missing ids {missing:?} (matched {:?})", seen.ids));
        }
        let unwanted: Vec<u32> = self
            .no_ids
            .iter()
            .copied()
            .filter(|id| seen.ids.contains(id))
            .collect();
        if !unwanted.is_empty() {
            return Some(format!("unexpected ids {unwanted:?}"));
        }
        if let Some(re) = &self.match_regex
            && !regex::Regex::new(re).is_ok_and(|r| r.is_match(&seen.log))
        {
            return Some(format!("log does not match {re:?}"));
        }
        if let Some(re) = &self.no_match_regex
            && regex::Regex::new(re).is_ok_and(|r| r.is_match(&seen.log))
        {
            return Some(format!("log matches {re:?}"));
        }
        if let Some(status) = self.status
            && seen.status != Some(status)
        {
            return Some(format!("status {:?}, expected {status}", seen.status));
        }
        None
    }
}

/// Every test of every YAML file under `tests/regression`, sorted by name.
pub fn load_cases(crs: &Path) -> Vec<Case> {
    load_cases_from(&crs.join("tests/regression"))
}

/// Every test of every YAML file under `dir` (go-ftw format).
pub fn load_cases_from(dir: &Path) -> Vec<Case> {
    let mut files = Vec::new();
    collect_yaml(dir, &mut files);
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let docs =
            YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for doc in docs {
            let rule_id = doc["rule_id"].as_i64().unwrap_or_default();
            for test in doc["tests"].as_vec().into_iter().flatten() {
                let test_id = test["test_id"].as_i64().unwrap_or_default();
                let stages = test["stages"]
                    .as_vec()
                    .into_iter()
                    .flatten()
                    .map(stage)
                    .collect();
                cases.push(Case {
                    name: format!("{rule_id}-{test_id}"),
                    stages,
                });
            }
        }
    }
    cases
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn ids(y: &Yaml) -> Vec<u32> {
    y.as_vec()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_i64().and_then(|i| u32::try_from(i).ok()))
        .collect()
}

fn stage(y: &Yaml) -> Stage {
    // go-ftw 2.x nests under `stage:` in older files; accept both.
    let y = if y["stage"].is_badvalue() {
        y
    } else {
        &y["stage"]
    };
    let input = &y["input"];
    let output = &y["output"];
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(map) = input["headers"].as_hash() {
        for (k, v) in map {
            if let (Some(k), Some(v)) = (text(k), text(v)) {
                headers.push((k, v));
            }
        }
    }
    let mut body = text(&input["data"])
        .map(|d| expand_template(&d))
        .unwrap_or_default()
        .into_bytes();
    let autocomplete = input["autocomplete_headers"].as_bool().unwrap_or(true);
    let method = text(&input["method"]).unwrap_or_else(|| "GET".into());
    complete_like_go_ftw(&method, &mut headers, &mut body, autocomplete);
    let raw = text(&input["encoded_request"]).and_then(|b| decode_base64(&b));
    let log = &output["log"];
    Stage {
        request: Request {
            method,
            uri: text(&input["uri"]).unwrap_or_else(|| "/".into()),
            version: text(&input["version"]).unwrap_or_else(|| "HTTP/1.1".into()),
            headers,
            body,
            raw,
        },
        expect: Expect {
            ids: ids(&log["expect_ids"]),
            no_ids: ids(&log["no_expect_ids"]),
            match_regex: text(&log["match_regex"]),
            no_match_regex: text(&log["no_match_regex"]),
            status: output["status"]
                .as_i64()
                .and_then(|s| u16::try_from(s).ok()),
            error: output["expect_error"].as_bool().unwrap_or(false),
        },
    }
}

/// What go-ftw (ftwhttp/request.go) does to a request before sending it:
/// with autocompletion, a form Content-Type when none is set and the form
/// data URL-encoded pair by pair unless it already is; multipart bodies get
/// bare LFs turned into CRLF (always); then `Connection: close` and a
/// `Content-Length` for a body or a body method, unless already present.
fn complete_like_go_ftw(
    method: &str,
    headers: &mut Vec<(String, String)>,
    body: &mut Vec<u8>,
    autocomplete: bool,
) {
    let has = |h: &[(String, String)], n: &str| h.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    let get = |h: &[(String, String)], n: &str| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if !body.is_empty() && autocomplete {
        if !has(headers, "content-type") {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        if get(headers, "content-type") == "application/x-www-form-urlencoded"
            && query_unescape(body).as_deref() == Some(body.as_slice())
        {
            *body = encode_form(body);
        }
    }
    if get(headers, "content-type").starts_with("multipart/form-data;") {
        // go-ftw turns every LF into CRLF; no CRS multipart test holds a CR,
        // so converting only bare LFs is the same there and keeps bodies
        // already written with CRLF (the benign corpus) intact.
        let mut crlf = Vec::with_capacity(body.len() + 64);
        let mut previous = 0u8;
        for &b in body.iter() {
            if b == b'\n' && previous != b'\r' {
                crlf.push(b'\r');
            }
            crlf.push(b);
            previous = b;
        }
        *body = crlf;
    }
    if autocomplete {
        if !has(headers, "connection") {
            headers.push(("Connection".into(), "close".into()));
        }
        let body_method = method.starts_with("POST")
            || method.contains("PUT")
            || method.contains("PATCH")
            || method.ends_with("DELETE");
        if (!body.is_empty() || body_method) && !has(headers, "content-length") {
            headers.push(("Content-Length".into(), body.len().to_string()));
        }
    }
}

/// Go's `url.QueryUnescape`: `None` on a bad escape.
fn query_unescape(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'%' => {
                let hex = data.get(i + 1..i + 3)?;
                let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                out.push(v);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Go's `url.QueryEscape` applied to each key and value of `k=v&k=v`.
fn encode_form(data: &[u8]) -> Vec<u8> {
    let escape = |s: &[u8], out: &mut Vec<u8>| {
        for &b in s {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b),
                b' ' => out.push(b'+'),
                _ => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
            }
        }
    };
    let mut out = Vec::with_capacity(data.len() * 2);
    // Like go-ftw's loop, a trailing '&' ends the data rather than adding an empty pair.
    let data = data.strip_suffix(b"&").unwrap_or(data);
    for (n, token) in data.split(|&b| b == b'&').enumerate() {
        if n > 0 {
            out.push(b'&');
        }
        match token.iter().position(|&b| b == b'=') {
            Some(eq) => {
                escape(&token[..eq], &mut out);
                out.push(b'=');
                escape(&token[eq + 1..], &mut out);
            }
            None => escape(token, &mut out),
        }
    }
    out
}

/// go-ftw's `{{ "x" | repeat N }}` templates.
fn expand_template(data: &str) -> String {
    let re =
        regex::Regex::new(r#"\{\{\s*"((?:[^"\\]|\\.)*)"\s*\|\s*repeat\s+(\d+)\s*\}\}"#).unwrap();
    re.replace_all(data, |c: &regex::Captures| {
        c[1].repeat(c[2].parse().unwrap_or(0))
    })
    .into_owned()
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b'\n' | b'\r' | b' ' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Splits raw request bytes into the parts a `Request` holds.
pub fn parse_raw(raw: &[u8]) -> Request {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, p + 4));
    let head_end = head_end.or_else(|| {
        raw.windows(2)
            .position(|w| w == b"\n\n")
            .map(|p| (p, p + 2))
    });
    let (head, body) = match head_end {
        Some((h, b)) => (&raw[..h], &raw[b..]),
        None => (raw, &b""[..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
    let line = lines.next().unwrap_or_default();
    let mut parts = line.splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_string();
    let uri = parts.next().unwrap_or_default().to_string();
    let version = parts.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.to_string(), v.trim_start().to_string()))
        })
        .collect();
    Request {
        method,
        uri,
        version,
        headers,
        body: body.to_vec(),
        raw: None,
    }
}

/// The CRS test backend ("albedo"): `/reflect` answers with the status,
/// headers and body the JSON request spells; anything else is an empty 200.
pub fn albedo(req: &Request) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let path = req.uri.split('?').next().unwrap_or_default();
    if path != "/reflect" || !req.method.eq_ignore_ascii_case("POST") {
        return (200, Vec::new(), Vec::new());
    }
    let Ok(spec) = serde_json::from_slice::<serde_json::Value>(&req.body) else {
        return (400, Vec::new(), Vec::new());
    };
    let status = spec["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(200);
    let mut headers: Vec<(String, String)> = spec["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let body = match spec["encodedBody"].as_str() {
        Some(b) if !b.is_empty() => decode_base64(b).unwrap_or_default(),
        _ => spec["body"]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .to_vec(),
    };
    if !body.is_empty()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), sniff(&body).into()));
    }
    (status, headers, body)
}

/// Go's `http.DetectContentType` for the two answers the suite relies on.
fn sniff(body: &[u8]) -> &'static str {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let lower = body[start..body.len().min(start + 16)].to_ascii_lowercase();
    let html = [
        "<!doctype html",
        "<html",
        "<head",
        "<script",
        "<iframe",
        "<h1",
        "<div",
        "<font",
        "<table",
        "<a",
        "<style",
        "<title",
        "<b",
        "<body",
        "<br",
        "<p",
        "<!--",
    ];
    let is_html = html.iter().any(|tag| {
        lower.starts_with(tag.as_bytes())
            && lower
                .get(tag.len())
                .is_none_or(|&b| b == b' ' || b == b'>' || tag == &"<!--")
    });
    if is_html {
        "text/html; charset=utf-8"
    } else if lower.starts_with(b"<?xml") {
        "text/xml; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// What an HTTP/1.1 server does to the message framing before the WAF sees
/// it (RFC 9112 §6.1, Apache's `ap_read_request`): with `Transfer-Encoding:
/// chunked` the chunks are decoded and a `Content-Length` is dropped.
pub fn server_framing(mut req: Request) -> Request {
    let chunked = req.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    if !chunked {
        return req;
    }
    req.headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
    if let Some(body) = dechunk(&req.body) {
        req.body = body;
    }
    req
}

/// The data of a chunked body; `None` when the framing is broken.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

#[cfg(test)]
mod framing_tests {
    use super::*;

    #[test]
    fn chunked_body_is_decoded_and_content_length_dropped() {
        let req = Request {
            method: "POST".into(),
            uri: "/".into(),
            version: "HTTP/1.1".into(),
            headers: vec![
                ("Content-Length".into(), "7".into()),
                ("Transfer-Encoding".into(), "chunked".into()),
            ],
            body: b"7\r\nfoo=bar\r\n0\r\n\r\n".to_vec(),
            raw: None,
        };
        let req = server_framing(req);
        assert_eq!(req.body, b"foo=bar");
        assert_eq!(req.headers.len(), 1);
        assert_eq!(dechunk(b"zz\r\n"), None);
    }
}
