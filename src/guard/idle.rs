//! Connection lifetime limits: an I/O wrapper that notes the last time a
//! byte moved either way (for the idle timeout), and the watcher that asks
//! hyper to close the connection gracefully on idle or at its maximum age.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Milliseconds since the connection started when a byte last moved.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    /// Without an idle timeout nobody reads `last_ms`: skip the clock read
    /// that every read and write would otherwise pay.
    track_idle: bool,
}

impl Activity {
    pub fn new(track_idle: bool) -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            track_idle,
        })
    }

    fn touch(&self) {
        if !self.track_idle {
            return;
        }
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Resolves when the connection has been idle for `idle` or is older than
/// `max_age` (whichever comes first); never when both are unset.
pub async fn expired(activity: &Activity, idle: Option<Duration>, max_age: Option<Duration>) {
    let age_deadline = max_age.map(|a| activity.start + a);
    loop {
        let idle_deadline = idle.map(|i| activity.last() + i);
        let next = match (idle_deadline, age_deadline) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return std::future::pending().await,
        };
        tokio::time::sleep_until(next).await;
        let now = Instant::now();
        if age_deadline.is_some_and(|d| now >= d) {
            return;
        }
        // Bytes moved since the deadline was computed: wait again.
        if idle.is_some_and(|i| now >= activity.last() + i) {
            return;
        }
    }
}

/// The connection's I/O, noting activity.
#[derive(Debug)]
pub struct ActivityIo<IO> {
    inner: IO,
    activity: Arc<Activity>,
}

impl<IO> ActivityIo<IO> {
    pub fn new(inner: IO, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for ActivityIo<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for ActivityIo<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
