//! One request/response exchange on an upstream connection.

use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use http::{HeaderMap, Method, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use crate::http::body::RequestBody;
use crate::http::body_limit::{BodyFault, RequestBodyError};
use crate::upstream::h1::body::{Release, UpstreamBody};
use crate::upstream::h1::conn::Connection;
use crate::upstream::h1::encode::{self, BodyFraming};
use crate::upstream::h1::response::{self, ResponseHead};

/// What the upstream answered.
#[derive(Debug)]
pub enum Outcome {
    /// A final response; its body streams from the connection.
    Response(ResponseHead, UpstreamBody),
    /// `101 Switching Protocols`: the connection now belongs to a tunnel.
    Upgraded(ResponseHead, Connection),
}

#[derive(Debug)]
pub enum ExchangeError {
    /// A pooled connection failed before any response byte: the upstream
    /// most likely closed it while idle. Safe to retry when `body` came back.
    Stale,
    /// The upstream broke the exchange or answered with a malformed response.
    Protocol(String),
    /// The client's body broke a limit (over `max_body_bytes`: the upstream
    /// got at most the limit; or too slow); the exchange is abandoned.
    ClientBody(BodyFault),
}

#[derive(Debug)]
pub struct Failure {
    pub error: ExchangeError,
    /// The request body, when it was not touched (so a retry can send it).
    pub body: Option<RequestBody>,
}

fn protocol(e: impl ToString, body: Option<RequestBody>) -> Failure {
    Failure {
        error: ExchangeError::Protocol(e.to_string()),
        body,
    }
}

/// Whether the exchange is waiting for the client's next body frame. The
/// caller reads it when its request timeout fires: a timeout while the
/// gateway waits for a slow client is the client's fault (408), never the
/// endpoint's (no health mark).
#[derive(Debug, Default)]
pub struct Progress {
    pub(crate) awaiting: AtomicBool,
    /// The client body's fault, when its stream failed (0: none); set where
    /// the body is polled in another task (HTTP/2 upstreams).
    fault: AtomicU8,
}

impl Progress {
    pub fn awaiting_client(&self) -> bool {
        self.awaiting.load(Ordering::Relaxed)
    }

    pub fn record_fault(&self, fault: BodyFault) {
        let code = match fault {
            BodyFault::TooLarge => 1,
            BodyFault::TooSlow => 2,
            BodyFault::Idle => 3,
            BodyFault::Malformed => 4,
        };
        self.fault.store(code, Ordering::Relaxed);
    }

    pub fn fault(&self) -> Option<BodyFault> {
        match self.fault.load(Ordering::Relaxed) {
            1 => Some(BodyFault::TooLarge),
            2 => Some(BodyFault::TooSlow),
            3 => Some(BodyFault::Idle),
            4 => Some(BodyFault::Malformed),
            _ => None,
        }
    }
}

/// Sends the request and reads the response head. `headers` are sent as
/// they are (the pipeline already rewrote them); framing is chosen here.
pub async fn exchange(
    mut conn: Connection,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    body: RequestBody,
    release: Release,
    progress: &Progress,
) -> Result<Outcome, Failure> {
    let framing = encode::framing(method, body.is_end_stream(), body.size_hint().exact());
    let mut head = std::mem::take(&mut conn.head);
    encode::encode_head(&mut head, method, target, headers, framing);
    let written = conn.stream.write_all(&head).await;
    conn.head = head;
    if let Err(e) = written {
        let error = if conn.reused {
            ExchangeError::Stale
        } else {
            ExchangeError::Protocol(e.to_string())
        };
        return Err(Failure {
            error,
            body: Some(body),
        });
    }

    // An upstream may answer early (e.g. 413) and stop reading; a failed
    // body write then still leaves its response to read.
    let mut body_write_failed = false;
    if framing != BodyFraming::None {
        match send_body(&mut conn, body, framing, progress).await {
            Ok(()) => {}
            Err(BodyError::Upstream(e)) => {
                tracing::debug!(error = %e, "upstream stopped reading the request body");
                body_write_failed = true;
            }
            // The client's body broke off or lied about its length: the
            // upstream is mid-request, so the exchange is abandoned; the
            // client's fault (400), not the endpoint's.
            Err(BodyError::Client(reason)) => {
                tracing::debug!(%reason, "client request body failed");
                return Err(Failure {
                    error: ExchangeError::ClientBody(BodyFault::Malformed),
                    body: None,
                });
            }
            Err(BodyError::Limit(fault)) => {
                return Err(Failure {
                    error: ExchangeError::ClientBody(fault),
                    body: None,
                });
            }
        }
    }

    let mut received_any = false;
    loop {
        match response::parse(conn.buffered(), method) {
            Ok(Some((head, len))) => {
                conn.consume(len);
                if head.status == StatusCode::SWITCHING_PROTOCOLS {
                    return Ok(Outcome::Upgraded(head, conn));
                }
                if head.status.is_informational() {
                    // 100 Continue, 103 Early Hints: the final answer follows.
                    continue;
                }
                let keep_alive = head.keep_alive && !body_write_failed;
                let body = UpstreamBody::new(conn, head.framing, keep_alive, release);
                return Ok(Outcome::Response(head, body));
            }
            Ok(None) => {}
            Err(reason) => return Err(protocol(reason, None)),
        }
        match conn.fill().await {
            Ok(0) if !received_any && conn.reused && framing == BodyFraming::None => {
                return Err(Failure {
                    error: ExchangeError::Stale,
                    body: Some(RequestBody::Empty),
                });
            }
            Ok(0) => {
                return Err(protocol(
                    "upstream closed before a complete response head",
                    None,
                ));
            }
            Ok(_) => received_any = true,
            Err(e) => return Err(protocol(e, None)),
        }
    }
}

#[derive(Debug)]
enum BodyError {
    Client(String),
    Limit(BodyFault),
    Upstream(io::Error),
}

impl From<io::Error> for BodyError {
    fn from(e: io::Error) -> Self {
        BodyError::Upstream(e)
    }
}

/// Streams the client's body upstream with the chosen framing.
async fn send_body(
    conn: &mut Connection,
    mut body: RequestBody,
    framing: BodyFraming,
    progress: &Progress,
) -> Result<(), BodyError> {
    let mut sent: u64 = 0;
    loop {
        progress.awaiting.store(true, Ordering::Relaxed);
        let next = body.frame().await;
        progress.awaiting.store(false, Ordering::Relaxed);
        let Some(frame) = next else { break };
        let frame = frame.map_err(|e| match e {
            RequestBodyError::Limit(fault) => BodyError::Limit(fault),
            RequestBodyError::Client(e) => BodyError::Client(format!("client body: {e}")),
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers are not forwarded
        };
        if data.is_empty() {
            continue;
        }
        sent += data.len() as u64;
        match framing {
            BodyFraming::Length(declared) => {
                if sent > declared {
                    return Err(BodyError::Client("body longer than declared".into()));
                }
                conn.stream.write_all(&data).await?;
            }
            BodyFraming::Chunked => {
                let mut size = [0u8; 18];
                let size = encode::chunk_header(data.len(), &mut size);
                write_all_vectored(
                    conn,
                    &mut [
                        IoSlice::new(size),
                        IoSlice::new(&data),
                        IoSlice::new(b"\r\n"),
                    ],
                )
                .await?;
            }
            BodyFraming::None => {}
        }
    }
    match framing {
        BodyFraming::Chunked => Ok(conn.stream.write_all(b"0\r\n\r\n").await?),
        BodyFraming::Length(declared) if sent != declared => {
            Err(BodyError::Client("body shorter than declared".into()))
        }
        _ => Ok(()),
    }
}

async fn write_all_vectored(
    conn: &mut Connection,
    mut slices: &mut [IoSlice<'_>],
) -> io::Result<()> {
    while !slices.is_empty() {
        let n = conn.stream.write_vectored(slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
}
