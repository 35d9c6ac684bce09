//! One bounded HTTP(S) GET for feed sources: HTTP/1.1 over a fresh
//! connection, rustls for `https://` (the bundled Mozilla roots or a given
//! CA), the body capped at `max_bytes`. A body shorter than its
//! `Content-Length` is an error (hyper checks it), so a cut download never
//! reaches a parser. The caller bounds the whole call with a deadline.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

use crate::tls::client::BackendTls;
use crate::tls::spec::BackendTlsSpec;

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub async fn get(
    url: &str,
    ca_file: Option<&str>,
    headers: &[(HeaderName, String)],
    max_bytes: u64,
) -> Result<Answer, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("url: {e}"))?;
    let tls = match parsed.scheme() {
        "https" => true,
        "http" => false,
        other => return Err(format!("unsupported scheme {other:?}")),
    };
    let host = parsed
        .host_str()
        .ok_or("url without host")?
        .trim_matches(['[', ']'])
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("connect {host}:{port}: {e}"))?;
    let target = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let mut request = Request::get(target)
        .header(header::HOST, parsed.host_str().unwrap_or(""))
        .header(header::USER_AGENT, "portcullis");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("request: {e}"))?;
    let response = if tls {
        let client = BackendTls::compile(&BackendTlsSpec {
            ca: ca_file.map(str::to_owned),
            server_name: Some(host.clone()),
            client_certificate: None,
            insecure_skip_verify: false,
        })?;
        let name = client.server_name.clone().ok_or("no TLS server name")?;
        let stream = client
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host}: {e}"))?;
        send(TokioIo::new(stream), request).await?
    } else {
        send(TokioIo::new(tcp), request).await?
    };
    let status = response.status();
    let headers = response.headers().clone();
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let body = Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map_err(|e| format!("GET {url}: body: {e}"))?
        .to_bytes();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

async fn send<T>(
    io: TokioIo<T>,
    request: Request<Empty<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(conn);
    sender
        .send_request(request)
        .await
        .map_err(|e| format!("GET: {e}"))
}
