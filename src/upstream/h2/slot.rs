//! The one HTTP/2 connection of an endpoint. Requests clone its sender (a
//! channel handle) and run as streams on it; a connection that closed
//! (GOAWAY, reset, failed keep-alive ping) is replaced by the next request,
//! and only one request at a time dials, so a burst after a failure opens
//! one connection, not one per request.

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use hyper::client::conn::http2::{Builder, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::tls::client::BackendTls;
use crate::upstream::h1::conn::open;
use crate::upstream::h1::stream::UpstreamStream;
use crate::upstream::h2::body::TrackedBody;

/// How often an idle connection is pinged, and how long a ping may go
/// unanswered before the connection is dropped (a silently dead peer).
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

pub type Sender = SendRequest<TrackedBody>;

#[derive(Debug, Default)]
pub struct H2Slot {
    sender: Mutex<Option<Sender>>,
    /// Held while dialling: later requests wait and share the result.
    dialling: tokio::sync::Mutex<()>,
}

impl H2Slot {
    /// A sender on a live connection, dialling one when there is none.
    /// Returns whether the connection is new.
    pub async fn sender(
        &self,
        address: SocketAddr,
        timeout: Duration,
        tls: Option<&BackendTls>,
    ) -> io::Result<(Sender, bool)> {
        if let Some(sender) = self.current() {
            return Ok((sender, false));
        }
        let _dialling = self.dialling.lock().await;
        if let Some(sender) = self.current() {
            return Ok((sender, false));
        }
        let sender = connect(address, timeout, tls).await?;
        if let Ok(mut slot) = self.sender.lock() {
            *slot = Some(sender.clone());
        }
        Ok((sender, true))
    }

    /// The live sender, if any; a closed one is dropped here.
    fn current(&self) -> Option<Sender> {
        let mut slot = self.sender.lock().ok()?;
        match slot.as_ref() {
            Some(sender) if !sender.is_closed() => Some(sender.clone()),
            Some(_) => {
                *slot = None;
                None
            }
            None => None,
        }
    }

    /// Forgets the connection after a failure on it, so the next request
    /// dials afresh (a no-op when another request replaced it already).
    pub fn forget_if_closed(&self) {
        let _ = self.current();
    }

    /// Whether a connection is open (for tests and the admin view).
    pub fn is_connected(&self) -> bool {
        self.current().is_some()
    }
}

async fn connect(
    address: SocketAddr,
    timeout: Duration,
    tls: Option<&BackendTls>,
) -> io::Result<Sender> {
    let stream = open(address, timeout, tls).await?;
    if let UpstreamStream::Tls(session) = &stream
        && session.get_ref().1.alpn_protocol() != Some(b"h2")
    {
        // Never a silent downgrade to HTTP/1.1.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "backend did not negotiate h2 (ALPN)",
        ));
    }
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    let (sender, connection) =
        tokio::time::timeout(timeout, builder.handshake(TokioIo::new(stream)))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "h2 handshake timed out"))?
            .map_err(io::Error::other)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(endpoint = %address, error = %e, "upstream h2 connection ended");
        }
    });
    Ok(sender)
}
