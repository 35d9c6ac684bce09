//! The head deadline of `FramingGuard` (see the parent module): the timer
//! that bounds how long a request head may take, and how a late head ends
//! the connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use super::{End, FramingGuard, Violation};

/// Written when the first head misses its deadline (hyper has written
/// nothing yet, so the response cannot interleave with one of its own).
const TIMEOUT_RESPONSE: &[u8] =
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

impl<IO> FramingGuard<IO> {
    /// Whether the head deadline has passed; if not, the task is woken when
    /// it does.
    pub(super) fn head_deadline_passed(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(at) = self.head_deadline else {
            return false;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        if timer.deadline() != at {
            timer.as_mut().reset(at);
        }
        timer.as_mut().poll(cx).is_ready()
    }
}

impl<IO: AsyncWrite + Unpin> FramingGuard<IO> {
    /// Ends the connection for a late head: a best-effort 408 when nothing
    /// was written yet (a partial or refused write is not retried; the
    /// connection closes either way), then a TimedOut error for hyper.
    pub(super) fn time_out(&mut self, cx: &mut Context<'_>) -> io::Error {
        self.handle.set(Violation::HeadTimeout);
        self.head_deadline = None;
        self.end = End::TimedOut;
        if !self.wrote {
            self.wrote = true;
            let mut sent = 0;
            while sent < TIMEOUT_RESPONSE.len() {
                match Pin::new(&mut self.io).poll_write(cx, &TIMEOUT_RESPONSE[sent..]) {
                    Poll::Ready(Ok(n)) if n > 0 => sent += n,
                    _ => break,
                }
            }
            let _ = Pin::new(&mut self.io).poll_flush(cx);
        }
        timed_out()
    }
}

pub(super) fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "request head not complete within head_timeout",
    )
}
