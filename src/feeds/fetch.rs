//! Loading a feed: a file (skipped when size and mtime are unchanged) or
//! an HTTPS GET with conditional headers (`If-None-Match` from the last
//! `ETag`, `If-Modified-Since` from the last `Last-Modified`; `304` keeps
//! the list). A download larger than `max_bytes`, cut short (its
//! `Content-Length` not met), slower than the deadline or answered with an
//! error status keeps the last good list.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

use crate::feeds::Feed;
use crate::tls::client::BackendTls;
use crate::tls::spec::BackendTlsSpec;

/// A whole download (connect, TLS, headers, body) must finish in this.
const DOWNLOAD_DEADLINE: Duration = Duration::from_secs(60);

/// What the previous successful load left for the next conditional one.
#[derive(Debug, Default)]
pub struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
    file_stamp: Option<(u64, SystemTime)>,
}

/// Loads at once, then every `refresh`, until the feed is dropped.
pub async fn refresh_loop(feed: std::sync::Weak<Feed>) {
    let mut validators = Validators::default();
    loop {
        let Some(strong) = feed.upgrade() else { return };
        load_once(&strong, &mut validators).await;
        let wait = strong.refresh();
        drop(strong);
        tokio::time::sleep(wait).await;
    }
}

/// One load; errors are recorded in the feed's status and logged.
pub async fn load_once(feed: &Arc<Feed>, validators: &mut Validators) {
    let text = match (&feed.spec.file, &feed.spec.url) {
        (Some(path), _) => read_file(feed, path, validators).await,
        (None, Some(url)) => {
            match tokio::time::timeout(DOWNLOAD_DEADLINE, download(feed, url, validators)).await {
                Ok(result) => result,
                Err(_) => Err("download timed out".to_owned()),
            }
        }
        (None, None) => Err("no file or url".to_owned()),
    };
    match text {
        Ok(Some(text)) => {
            let feed = Arc::clone(feed);
            // Parsing a million lines takes a while: off the runtime threads.
            let _ = tokio::task::spawn_blocking(move || feed.install(&text)).await;
        }
        Ok(None) => {
            feed.status.unchanged.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => feed.fail(&e),
    }
}

async fn read_file(
    feed: &Feed,
    path: &str,
    validators: &mut Validators,
) -> Result<Option<String>, String> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    if meta.len() > feed.spec.max_bytes {
        return Err(format!("{path}: larger than max_bytes"));
    }
    let stamp = (
        meta.len(),
        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    );
    if validators.file_stamp == Some(stamp) && !feed.is_empty() {
        return Ok(None);
    }
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    validators.file_stamp = Some(stamp);
    Ok(Some(text))
}

async fn download(
    feed: &Feed,
    url: &str,
    validators: &mut Validators,
) -> Result<Option<String>, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("url: {e}"))?;
    if parsed.scheme() != "https" {
        return Err("only https:// feeds are fetched".to_owned());
    }
    let host = parsed.host_str().ok_or("url without host")?.to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let tls = BackendTls::compile(&BackendTlsSpec {
        ca: feed.spec.ca_file.clone(),
        server_name: Some(host.trim_matches(['[', ']']).to_owned()),
        client_certificate: None,
        insecure_skip_verify: false,
    })?;
    let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("connect {host}:{port}: {e}"))?;
    let name = tls
        .server_name
        .clone()
        .ok_or("no server name for the feed's TLS")?;
    let stream = tls
        .connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with {host}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP with {host}: {e}"))?;
    tokio::spawn(conn);
    let target = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let mut request = Request::get(target)
        .header(header::HOST, parsed.host_str().unwrap_or(""))
        .header(header::USER_AGENT, "portcullis-feeds");
    // An empty list (nothing loaded yet) always asks for the full body.
    if !feed.is_empty() {
        if let Some(etag) = &validators.etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(date) = &validators.last_modified {
            request = request.header(header::IF_MODIFIED_SINCE, date);
        }
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    match response.status() {
        StatusCode::NOT_MODIFIED => return Ok(None),
        StatusCode::OK => {}
        other => return Err(format!("GET {url}: status {other}")),
    }
    let header_text = |name: header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let etag = header_text(header::ETAG);
    let last_modified = header_text(header::LAST_MODIFIED);
    let limit = usize::try_from(feed.spec.max_bytes).unwrap_or(usize::MAX);
    // hyper reports a body shorter than its Content-Length as an error:
    // a truncated download never reaches the parser.
    let body = Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map_err(|e| format!("GET {url}: body: {e}"))?
        .to_bytes();
    let text = String::from_utf8(body.to_vec()).map_err(|_| "the list is not UTF-8".to_owned())?;
    validators.etag = etag;
    validators.last_modified = last_modified;
    Ok(Some(text))
}
