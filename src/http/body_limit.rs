//! The request body limit, enforced while the body streams (chunked too):
//! the frame that would cross the limit is never handed to the upstream
//! writer, so a backend receives at most the limit. A body whose declared
//! length is over the limit is refused before any of it is read (see the
//! pipeline).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// The error a limited body ends with once the client sent too much; the
/// upstream side recognises it (`is_too_large`) and answers 413.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTooLarge;

impl std::fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body exceeds the configured limit")
    }
}

impl std::error::Error for BodyTooLarge {}

/// Errors of a request body: the client's stream, or the limit.
#[derive(Debug)]
pub enum RequestBodyError {
    Client(hyper::Error),
    TooLarge,
}

impl std::fmt::Display for RequestBodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestBodyError::Client(e) => e.fmt(f),
            RequestBodyError::TooLarge => BodyTooLarge.fmt(f),
        }
    }
}

impl std::error::Error for RequestBodyError {}

/// The client's body with a byte budget.
#[derive(Debug)]
pub struct LimitedBody {
    inner: Incoming,
    remaining: u64,
    exceeded: bool,
}

impl LimitedBody {
    pub fn new(inner: Incoming, limit: u64) -> Self {
        Self {
            inner,
            remaining: limit,
            exceeded: false,
        }
    }
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestBodyError>>> {
        let this = self.get_mut();
        if this.exceeded {
            return Poll::Ready(Some(Err(RequestBodyError::TooLarge)));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                if len > this.remaining {
                    this.exceeded = true;
                    return Poll::Ready(Some(Err(RequestBodyError::TooLarge)));
                }
                this.remaining -= len;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(RequestBodyError::Client(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
