//! Loading a feed: a file (skipped when size and mtime are unchanged) or
//! an HTTPS GET with conditional headers (`If-None-Match` from the last
//! `ETag`, `If-Modified-Since` from the last `Last-Modified`; `304` keeps
//! the list). A download larger than `max_bytes`, cut short (its
//! `Content-Length` not met), slower than the deadline or answered with an
//! error status keeps the last good list.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use http::{StatusCode, header};

use crate::feeds::Feed;
use crate::feeds::http_get::get;

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
    let mut bouncer = crate::feeds::crowdsec::Bouncer::default();
    loop {
        let Some(strong) = feed.upgrade() else { return };
        match &strong.spec.crowdsec {
            Some(cs) => match std::fs::read_to_string(&cs.api_key_file) {
                Ok(key) => bouncer.poll(&strong, &cs.lapi_url, key.trim()).await,
                Err(e) => strong.fail(&format!("crowdsec.api_key_file: {e}")),
            },
            None => load_once(&strong, &mut validators).await,
        }
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
    if !url.starts_with("https://") {
        return Err("only https:// feeds are fetched".to_owned());
    }
    let mut headers = Vec::new();
    // An empty list (nothing loaded yet) always asks for the full body.
    if !feed.is_empty() {
        if let Some(etag) = &validators.etag {
            headers.push((header::IF_NONE_MATCH, etag.clone()));
        }
        if let Some(date) = &validators.last_modified {
            headers.push((header::IF_MODIFIED_SINCE, date.clone()));
        }
    }
    let answer = get(
        url,
        feed.spec.ca_file.as_deref(),
        &headers,
        feed.spec.max_bytes,
    )
    .await?;
    match answer.status {
        StatusCode::NOT_MODIFIED => return Ok(None),
        StatusCode::OK => {}
        other => return Err(format!("GET {url}: status {other}")),
    }
    let header_text = |name: header::HeaderName| {
        answer
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let text =
        String::from_utf8(answer.body.to_vec()).map_err(|_| "the list is not UTF-8".to_owned())?;
    validators.etag = header_text(header::ETAG);
    validators.last_modified = header_text(header::LAST_MODIFIED);
    Ok(Some(text))
}
