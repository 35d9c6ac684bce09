//! Body types of the pipeline: no boxing, so a request costs no body allocation.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::http::body_limit::{LimitedBody, RequestBodyError};
use crate::observe::access_log::AccessRecord;
use crate::policy::inflight::InflightPermit;
use crate::upstream::h1::body::UpstreamBody;

/// Errors of a response body stream (an upstream that broke off mid-body).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The body sent upstream: the client's stream, or nothing (a retry of a
/// request that had no body, which is the only kind retried).
#[derive(Debug)]
pub enum RequestBody {
    Incoming(Incoming),
    /// The client's stream under `http.max_body_bytes`.
    Limited(LimitedBody),
    /// A body a policy buffered whole (request-body phase).
    Buffered {
        data: Option<Bytes>,
        trailers: Option<http::HeaderMap>,
    },
    /// A body buffered up to a policy's budget, then the unread rest.
    Prefixed {
        prefix: Option<Bytes>,
        rest: Box<RequestBody>,
    },
    Empty,
    /// The body, copied for a mirrored request as it streams.
    Tee(Box<crate::upstream::mirror::Tee>),
}

impl RequestBody {
    /// The body to send on after a policy buffered `buffered`.
    pub fn from_buffered(buffered: crate::http::body_buffer::Buffered<RequestBody>) -> Self {
        let data = (!buffered.data.is_empty()).then_some(buffered.data);
        match buffered.rest {
            None => RequestBody::Buffered {
                data,
                trailers: buffered.trailers,
            },
            Some(rest) => RequestBody::Prefixed {
                prefix: data,
                rest: Box::new(rest),
            },
        }
    }
}

impl RequestBody {
    /// A copy to send again, when the body can be replayed exactly: none
    /// at all, or buffered whole by a policy. A streamed body cannot.
    pub fn replayable(&self) -> Option<RequestBody> {
        match self {
            RequestBody::Buffered { data, trailers } => Some(RequestBody::Buffered {
                data: data.clone(),
                trailers: trailers.clone(),
            }),
            body if body.is_end_stream() => Some(RequestBody::Empty),
            _ => None,
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestBodyError>>> {
        match self.get_mut() {
            RequestBody::Incoming(body) => match Pin::new(body).poll_frame(cx) {
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(RequestBodyError::Client(e)))),
                Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
            RequestBody::Limited(body) => Pin::new(body).poll_frame(cx),
            RequestBody::Buffered { data, trailers } => match data.take() {
                Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                None => Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(t)))),
            },
            RequestBody::Prefixed { prefix, rest } => match prefix.take() {
                Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                None => Pin::new(rest.as_mut()).poll_frame(cx),
            },
            RequestBody::Empty => Poll::Ready(None),
            RequestBody::Tee(tee) => Pin::new(tee.as_mut()).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Incoming(body) => body.is_end_stream(),
            RequestBody::Limited(body) => body.is_end_stream(),
            RequestBody::Buffered { data, trailers } => data.is_none() && trailers.is_none(),
            RequestBody::Prefixed { prefix, rest } => prefix.is_none() && rest.is_end_stream(),
            RequestBody::Empty => true,
            RequestBody::Tee(tee) => tee.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Incoming(body) => body.size_hint(),
            RequestBody::Limited(body) => body.size_hint(),
            RequestBody::Buffered { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            RequestBody::Prefixed { prefix, rest } => {
                prefixed_hint(prefix.as_ref().map_or(0, Bytes::len), rest.size_hint())
            }
            RequestBody::Empty => SizeHint::with_exact(0),
            RequestBody::Tee(tee) => tee.size_hint(),
        }
    }
}

/// The body sent to the client. It carries the request's access record and
/// emits it when the body ends or is dropped (client gone), so the record has
/// the real byte count and duration, and early rejections are logged too.
#[derive(Debug)]
pub struct ResponseBody {
    kind: Kind,
    /// Boxed: the record is large, and the response moves several times
    /// on its way to hyper.
    record: Option<Box<AccessRecord>>,
    /// In-flight places released when the body is done (dropped).
    held: Vec<InflightPermit>,
}

#[derive(Debug)]
enum Kind {
    Full(Option<Bytes>),
    Upstream(UpstreamBody),
    /// An upstream body a policy buffered up to its budget, then the rest.
    Prefixed(Option<Bytes>, UpstreamBody),
}

/// The size of `prefix` bytes followed by a body hinted as `rest`.
fn prefixed_hint(prefix: usize, rest: SizeHint) -> SizeHint {
    let mut hint = SizeHint::new();
    hint.set_lower(rest.lower() + prefix as u64);
    if let Some(upper) = rest.upper() {
        hint.set_upper(upper + prefix as u64);
    }
    hint
}

impl ResponseBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
            record: None,
            held: Vec::new(),
        }
    }

    pub fn empty() -> Self {
        Self {
            kind: Kind::Full(None),
            record: None,
            held: Vec::new(),
        }
    }

    pub fn upstream(body: UpstreamBody) -> Self {
        Self {
            kind: Kind::Upstream(body),
            record: None,
            held: Vec::new(),
        }
    }

    /// An upstream body after a policy buffered `buffered` of it.
    pub fn from_buffered(buffered: crate::http::body_buffer::Buffered<UpstreamBody>) -> Self {
        let data = (!buffered.data.is_empty()).then_some(buffered.data);
        let kind = match buffered.rest {
            None => Kind::Full(data),
            Some(rest) => Kind::Prefixed(data, rest),
        };
        Self {
            kind,
            record: None,
            held: Vec::new(),
        }
    }

    /// Attach the access record; it is emitted when this body is finished.
    pub fn with_record(mut self, record: AccessRecord) -> Self {
        self.record = Some(Box::new(record));
        self
    }

    /// Keep `permits` until this body is finished or dropped.
    pub fn holding(mut self, permits: Vec<InflightPermit>) -> Self {
        self.held = permits;
        self
    }

    fn count(&mut self, n: usize) {
        if let Some(record) = self.record.as_mut() {
            record.bytes_sent += n as u64;
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let polled: Poll<Option<Result<Frame<Bytes>, BodyError>>> = match &mut this.kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Upstream(body) | Kind::Prefixed(None, body) => {
                match Pin::new(body).poll_frame(cx) {
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
                    Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
                    Poll::Ready(None) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            }
            Kind::Prefixed(prefix, _) => Poll::Ready(prefix.take().map(|b| Ok(Frame::data(b)))),
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len();
                    this.count(n);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(record) = this.record.as_mut() {
                    record.body_error = true;
                }
            }
            Poll::Ready(None) | Poll::Pending => {}
        }
        if let Poll::Ready(None) = polled {
            // Done: free in-flight places now rather than when hyper drops us.
            this.held.clear();
            if let Some(record) = this.record.take() {
                (*record).emit();
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Upstream(body) => body.is_end_stream(),
            Kind::Prefixed(prefix, body) => prefix.is_none() && body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Upstream(body) => body.size_hint(),
            Kind::Prefixed(prefix, body) => {
                prefixed_hint(prefix.as_ref().map_or(0, Bytes::len), body.size_hint())
            }
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            (*record).emit();
        }
    }
}
