//! The request body as hyper's HTTP/2 client polls it (in the connection's
//! task): it notes when it waits on the client and why the client's body
//! failed, so a timeout or reset is charged to the client (408/400/413),
//! never to the endpoint.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::http::body::RequestBody;
use crate::http::body_limit::{BodyFault, RequestBodyError};
use crate::upstream::h1::exchange::Progress;

#[derive(Debug)]
pub struct TrackedBody {
    pub(crate) inner: RequestBody,
    progress: Arc<Progress>,
}

impl TrackedBody {
    pub fn new(inner: RequestBody, progress: Arc<Progress>) -> Self {
        Self { inner, progress }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestBodyError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let waiting = polled.is_pending();
        this.progress.awaiting.store(waiting, Ordering::Relaxed);
        if let Poll::Ready(Some(Err(e))) = &polled {
            let fault = match e {
                RequestBodyError::Limit(fault) => *fault,
                RequestBodyError::Client(_) => BodyFault::Malformed,
            };
            this.progress.record_fault(fault);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
