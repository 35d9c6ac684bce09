//! One request as a stream on an endpoint's HTTP/2 connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method, Request, Response, Uri, Version, header};
use http_body::Body;
use hyper::body::Incoming;

use crate::http::body::RequestBody;
use crate::http::body_limit::BodyFault;
use crate::tls::client::BackendTls;
use crate::upstream::h1::exchange::Progress;
use crate::upstream::h2::body::TrackedBody;
use crate::upstream::h2::slot::H2Slot;

#[derive(Debug)]
pub enum H2Error {
    /// No connection could be made (refused, timed out, TLS, no `h2`).
    Connect(std::io::Error),
    /// The stream or connection broke before a response head.
    Protocol(String),
    /// The client's body broke a limit or its framing.
    ClientBody(BodyFault),
}

/// Where and how to reach the endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Dial<'a> {
    pub address: SocketAddr,
    pub connect_timeout: Duration,
    pub tls: Option<&'a BackendTls>,
}

/// Sends the request on the endpoint's connection and waits for the
/// response head; the request body keeps streaming after it (both ways).
/// A request the connection never took (it was closing, or the server
/// refused the stream unprocessed) is sent once more on a fresh connection
/// when its body can be replayed: none, or untouched.
pub async fn exchange(
    slot: &H2Slot,
    dial: Dial<'_>,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    body: RequestBody,
    progress: &Arc<Progress>,
) -> Result<Response<Incoming>, H2Error> {
    let scheme = if dial.tls.is_some() { "https" } else { "http" };
    let uri = uri(scheme, headers, dial.address, target)
        .ok_or_else(|| H2Error::Protocol("request target is not a valid URI".into()))?;
    let empty = body.is_end_stream();
    let mut body = Some(body);
    for round in 0..2 {
        let (mut sender, _fresh) = slot
            .sender(dial.address, dial.connect_timeout, dial.tls)
            .await
            .map_err(H2Error::Connect)?;
        let tracked = TrackedBody::new(
            body.take().unwrap_or(RequestBody::Empty),
            Arc::clone(progress),
        );
        let mut request = Request::new(tracked);
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri.clone();
        *request.version_mut() = Version::HTTP_2;
        let mut sent_headers = headers.clone();
        // `:authority` carries the host on HTTP/2.
        sent_headers.remove(header::HOST);
        *request.headers_mut() = sent_headers;
        match sender.try_send_request(request).await {
            Ok(response) => return Ok(response),
            Err(mut failed) => {
                slot.forget_if_closed();
                if let Some(fault) = progress.fault() {
                    return Err(H2Error::ClientBody(fault));
                }
                let returned = failed.take_message();
                let untouched = returned.is_some();
                if round == 0 && (untouched || (empty && unprocessed(failed.error()))) {
                    body = Some(returned.map_or(RequestBody::Empty, |r| r.into_body().inner));
                    continue;
                }
                return Err(H2Error::Protocol(failed.into_error().to_string()));
            }
        }
    }
    Err(H2Error::Protocol(
        "the connection refused the stream twice".into(),
    ))
}

/// Whether the server said it did not process the stream (RFC 9113 §8.7):
/// a GOAWAY that excluded it, or `REFUSED_STREAM`.
fn unprocessed(error: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.is_go_away() || h2.reason() == Some(h2::Reason::REFUSED_STREAM);
        }
        source = e.source();
    }
    false
}

/// The absolute URI hyper turns into `:scheme`, `:authority`, `:path`: the
/// authority is the request's `Host` (as rewritten), else the endpoint.
fn uri(scheme: &str, headers: &HeaderMap, address: SocketAddr, target: &str) -> Option<Uri> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.parse::<http::uri::Authority>().is_ok());
    let authority = match host {
        Some(host) => host.to_owned(),
        None => address.to_string(),
    };
    Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(target)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_takes_the_host_header_else_the_endpoint() {
        let address: SocketAddr = "127.0.0.1:9000".parse().unwrap_or_else(|_| unreachable!());
        let mut headers = HeaderMap::new();
        let u = uri("http", &headers, address, "/svc/M?x=1");
        assert_eq!(
            u.map(|u| u.to_string()),
            Some("http://127.0.0.1:9000/svc/M?x=1".into())
        );
        headers.insert(
            header::HOST,
            http::HeaderValue::from_static("api.example:8443"),
        );
        let u = uri("https", &headers, address, "/a");
        assert_eq!(
            u.map(|u| u.to_string()),
            Some("https://api.example:8443/a".into())
        );
        headers.insert(header::HOST, http::HeaderValue::from_static("bad host"));
        let u = uri("http", &headers, address, "/a");
        assert_eq!(
            u.map(|u| u.to_string()),
            Some("http://127.0.0.1:9000/a".into())
        );
    }
}
