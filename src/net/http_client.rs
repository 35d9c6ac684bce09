//! A small HTTP/1.1 client for the gateway's own calls to identity
//! services (JWKS and discovery documents, token and introspection
//! endpoints, external authorization): HTTPS verified against the Mozilla
//! roots or a configured CA, plain HTTP only where the caller allows it,
//! one deadline for the whole exchange and a cap on the answer's size, so a
//! slow or hostile service can neither hang a request nor fill memory.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::tls::certs;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("invalid URL: {0}")]
    Url(String),
    #[error("plain http is not allowed for {0} (use https or set the insecure flag)")]
    PlainHttp(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("timed out")]
    Timeout,
    #[error("HTTP: {0}")]
    Protocol(String),
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
}

impl FetchError {
    /// A stable code for metrics (`unreachable`, `timeout`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Url(_) | FetchError::PlainHttp(_) => "bad_url",
            FetchError::Connect(_) => "unreachable",
            FetchError::Tls(_) => "tls_error",
            FetchError::Timeout => "timeout",
            FetchError::Protocol(_) | FetchError::TooLarge(_) => "bad_answer",
        }
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A client with its trust roots, deadline and size cap.
#[derive(Clone)]
pub struct HttpClient {
    tls: TlsConnector,
    allow_plain: bool,
    timeout: Duration,
    max_body: usize,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("allow_plain", &self.allow_plain)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// `ca_file`: PEM roots to trust instead of the Mozilla set.
    pub fn new(
        ca_file: Option<&str>,
        allow_plain: bool,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Self, String> {
        let roots = match ca_file {
            Some(path) => certs::read_roots(path)?,
            None => rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        };
        let config = ClientConfig::builder_with_provider(certs::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            tls: TlsConnector::from(Arc::new(config)),
            allow_plain,
            timeout,
            max_body,
        })
    }

    pub async fn get(&self, url: &str, headers: HeaderMap) -> Result<Fetched, FetchError> {
        self.send(Method::GET, url, headers, Bytes::new()).await
    }

    /// A form POST (token and introspection endpoints).
    pub async fn post_form(
        &self,
        url: &str,
        mut headers: HeaderMap,
        form: &[(&str, &str)],
    ) -> Result<Fetched, FetchError> {
        let body = form_encode(form);
        headers.insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self.send(Method::POST, url, headers, Bytes::from(body))
            .await
    }

    /// One exchange on a new connection, within the client's deadline.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(self.timeout, self.exchange(method, url, headers, body)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout),
        }
    }

    async fn exchange(
        &self,
        method: Method,
        url: &str,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<Fetched, FetchError> {
        let uri: Uri = url.parse().map_err(|_| FetchError::Url(url.to_owned()))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if self.allow_plain => false,
            Some("http") => return Err(FetchError::PlainHttp(url.to_owned())),
            _ => return Err(FetchError::Url(url.to_owned())),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| FetchError::Url(url.to_owned()))?
            .clone();
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let target = uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        if let Ok(value) = http::HeaderValue::from_str(authority.as_str()) {
            headers.insert(header::HOST, value);
        }
        let mut request = Request::builder()
            .method(method)
            .uri(target)
            .body(Full::new(body))
            .map_err(|e| FetchError::Protocol(e.to_string()))?;
        *request.headers_mut() = headers;
        if tls {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| FetchError::Tls(e.to_string()))?;
            let stream = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| FetchError::Tls(e.to_string()))?;
            self.over(TokioIo::new(stream), request).await
        } else {
            self.over(TokioIo::new(tcp), request).await
        }
    }

    async fn over<IO>(&self, io: IO, request: Request<Full<Bytes>>) -> Result<Fetched, FetchError>
    where
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| FetchError::Protocol(e.to_string()))?;
        // The connection task ends with the exchange (the sender is dropped).
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| FetchError::Protocol(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, self.max_body)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge(self.max_body)
                } else {
                    FetchError::Protocol(e.to_string())
                }
            })?
            .to_bytes();
        Ok(Fetched {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// `application/x-www-form-urlencoded` encoding.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode_into(k, &mut out);
        out.push('=');
        percent_encode_into(v, &mut out);
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode_into(text: &str, out: &mut String) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_encode(&[("a b", "c&d"), ("token", "x=y/z")]),
            "a%20b=c%26d&token=x%3Dy%2Fz"
        );
    }

    #[tokio::test]
    async fn plain_http_needs_the_flag() {
        let client = HttpClient::new(None, false, Duration::from_secs(1), 1024).unwrap();
        let err = client
            .get("http://127.0.0.1:1/x", HeaderMap::new())
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::PlainHttp(_)));
    }
}
