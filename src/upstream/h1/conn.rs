//! One upstream connection (TCP or TLS) with its read buffer.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

use crate::tls::client::BackendTls;
use crate::upstream::h1::stream::UpstreamStream;

/// Initial read buffer; it grows up to [`MAX_HEAD_BYTES`] for a large head.
const READ_BUF: usize = 16 * 1024;
/// The largest response head accepted from an upstream.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub struct Connection {
    pub(crate) stream: UpstreamStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Served a request before: a failure before any response byte may just
    /// mean the upstream closed it while idle.
    pub(crate) reused: bool,
    /// Reused buffer for encoding request heads.
    pub(crate) head: Vec<u8>,
}

impl Connection {
    /// Connects and, for a TLS backend, completes the handshake, all within
    /// `timeout`. A TLS failure (bad certificate, wrong name) is an
    /// `InvalidData` error naming the cause; it never falls back to plain.
    pub async fn connect(
        address: SocketAddr,
        timeout: Duration,
        tls: Option<&BackendTls>,
    ) -> io::Result<Self> {
        let stream = open(address, timeout, tls).await?;
        Ok(Self {
            stream,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            reused: false,
            head: Vec::with_capacity(1024),
        })
    }

    /// Bytes read from the socket and not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` is end of stream. Errors
    /// when the buffer is full of unconsumed bytes at its maximum size.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < MAX_HEAD_BYTES {
                let grown = (self.buf.len() * 2).min(MAX_HEAD_BYTES);
                self.buf.resize(grown, 0);
            } else {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "upstream response head too large",
                )));
            }
        }
        let mut read = ReadBuf::new(&mut self.buf[self.end..]);
        // tokio's poll_read clears the socket's readiness on a short read,
        // so an idle pooled connection reads as "not ready" without a syscall.
        match Pin::new(&mut self.stream).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                self.end += n;
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    pub async fn fill(&mut self) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// Whether an idle connection can take a request: no bytes and no EOF
    /// arrived while it sat in the pool. Costs a syscall only when the socket
    /// reports readiness.
    pub fn is_reusable(&self) -> bool {
        if self.start != self.end {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.tcp().poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.stream.tcp().try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Splits into the socket and the bytes already read past the response
    /// head (for protocol upgrades).
    pub fn into_parts(self) -> (UpstreamStream, Vec<u8>) {
        let leftover = self.buf[self.start..self.end].to_vec();
        (self.stream, leftover)
    }
}

/// Opens the byte stream to `address` and, for a TLS backend, completes the
/// handshake, all within `timeout`. A TLS failure (bad certificate, wrong
/// name) is an `InvalidData` error naming the cause; it never falls back
/// to plain.
pub(crate) async fn open(
    address: SocketAddr,
    timeout: Duration,
    tls: Option<&BackendTls>,
) -> io::Result<UpstreamStream> {
    let open = async {
        let tcp = TcpStream::connect(address).await?;
        tcp.set_nodelay(true)?;
        match tls {
            None => Ok::<_, io::Error>(UpstreamStream::Plain(tcp)),
            Some(tls) => {
                let mut session = tls
                    .connector
                    .connect(tls.name_for(address), tcp)
                    .await
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                session.flush().await?;
                Ok(UpstreamStream::Tls(Box::new(session)))
            }
        }
    };
    tokio::time::timeout(timeout, open)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
}
