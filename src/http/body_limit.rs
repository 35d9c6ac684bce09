//! Request body limits, enforced while the body streams (chunked too):
//!
//! - size: the frame that would cross `max_body_bytes` is never handed to
//!   the upstream writer, so a backend receives at most the limit (a body
//!   whose declared length is over it is refused before it is read, in the
//!   pipeline);
//! - upload rate (slow POST): after `grace`, each byte must arrive by
//!   `start + grace + received / bytes_per_sec`; one timer, moved forward as
//!   data arrives, fires when a client falls behind — also when it sends
//!   nothing at all;
//! - inactivity (`body_timeout`, nginx's `client_body_timeout`): at most this
//!   long between two reads of body data.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::config::spec_conn_limit::MinBodyRateSpec;

/// Which body limit the client broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    TooLarge,
    TooSlow,
    /// Nothing arrived for `body_timeout`, or the backend's request timeout
    /// ran out while the gateway was still waiting for the client's body.
    Idle,
    /// The body's framing was broken (bad chunk, shorter or longer than
    /// its declared length) or the client aborted it.
    Malformed,
}

/// Errors of a request body: the client's stream, or a limit.
#[derive(Debug)]
pub enum RequestBodyError {
    Client(hyper::Error),
    Limit(BodyFault),
}

impl std::fmt::Display for RequestBodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestBodyError::Client(e) => e.fmt(f),
            RequestBodyError::Limit(BodyFault::TooLarge) => {
                f.write_str("request body exceeds the configured limit")
            }
            RequestBodyError::Limit(BodyFault::TooSlow) => {
                f.write_str("request body arrives slower than the minimum rate")
            }
            RequestBodyError::Limit(BodyFault::Idle) => {
                f.write_str("request body stalled past the body timeout")
            }
            RequestBodyError::Limit(BodyFault::Malformed) => f.write_str("malformed request body"),
        }
    }
}

impl std::error::Error for RequestBodyError {}

/// The minimum upload rate of one body.
#[derive(Debug)]
pub struct MinRate {
    bytes_per_sec: u64,
    grace: Duration,
    start: Instant,
    /// Boxed: only bodies on listeners with a rate limit pay for it.
    deadline: Pin<Box<Sleep>>,
}

impl MinRate {
    pub fn from_spec(spec: &MinBodyRateSpec) -> Self {
        let start = Instant::now();
        Self {
            bytes_per_sec: spec.bytes_per_sec.max(1),
            grace: spec.grace,
            start,
            deadline: Box::pin(tokio::time::sleep_until(start + spec.grace)),
        }
    }

    fn advance(&mut self, received: u64) {
        let owed = Duration::from_secs_f64(received as f64 / self.bytes_per_sec as f64);
        self.deadline.as_mut().reset(self.start + self.grace + owed);
    }
}

/// The longest pause between two reads of body data.
#[derive(Debug)]
pub struct Inactivity {
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Inactivity {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

/// The client's body with a byte budget, an optional minimum rate and an
/// optional inactivity timeout.
#[derive(Debug)]
pub struct LimitedBody {
    inner: Incoming,
    remaining: u64,
    received: u64,
    min_rate: Option<MinRate>,
    inactivity: Option<Inactivity>,
    fault: Option<BodyFault>,
}

impl LimitedBody {
    pub fn new(
        inner: Incoming,
        limit: Option<u64>,
        min_rate: Option<MinRate>,
        inactivity: Option<Inactivity>,
    ) -> Self {
        Self {
            inner,
            remaining: limit.unwrap_or(u64::MAX),
            received: 0,
            min_rate,
            inactivity,
            fault: None,
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
        if let Some(fault) = this.fault {
            return Poll::Ready(Some(Err(RequestBodyError::Limit(fault))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                if len > this.remaining {
                    this.fault = Some(BodyFault::TooLarge);
                    return Poll::Ready(Some(Err(RequestBodyError::Limit(BodyFault::TooLarge))));
                }
                this.remaining -= len;
                this.received += len;
                if let Some(rate) = this.min_rate.as_mut() {
                    rate.advance(this.received);
                }
                if let Some(idle) = this.inactivity.as_mut() {
                    let next = Instant::now() + idle.timeout;
                    idle.deadline.as_mut().reset(next);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(RequestBodyError::Client(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if let Some(rate) = this.min_rate.as_mut()
                    && rate.deadline.as_mut().poll(cx).is_ready()
                {
                    this.fault = Some(BodyFault::TooSlow);
                    return Poll::Ready(Some(Err(RequestBodyError::Limit(BodyFault::TooSlow))));
                }
                if let Some(idle) = this.inactivity.as_mut()
                    && idle.deadline.as_mut().poll(cx).is_ready()
                {
                    this.fault = Some(BodyFault::Idle);
                    return Poll::Ready(Some(Err(RequestBodyError::Limit(BodyFault::Idle))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
