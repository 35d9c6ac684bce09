//! The response body streamed from an upstream connection. When it ends
//! cleanly on a keep-alive connection, the connection goes back to the pool;
//! if the client goes away mid-body it is dropped (its state is unknown).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::upstream::endpoint::InFlight;
use crate::upstream::h1::chunked::{Chunk, ChunkedDecoder};
use crate::upstream::h1::conn::Connection;
use crate::upstream::h1::pool::Pool;
use crate::upstream::h1::response::ResponseFraming;

/// Where a finished connection goes back to.
#[derive(Debug, Clone)]
pub struct Release {
    /// The pool of the endpoint the connection belongs to.
    pub pool: Arc<Pool>,
}

#[derive(Debug)]
enum State {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    Done,
}

#[derive(Debug)]
pub struct UpstreamBody {
    conn: Option<Connection>,
    state: State,
    keep_alive: bool,
    release: Option<Release>,
    /// Keeps the request counted against its endpoint while the body streams.
    in_flight: Option<InFlight>,
    /// A stream of an HTTP/2 upstream connection instead (data and
    /// trailers relayed as they come).
    h2: Option<hyper::body::Incoming>,
}

impl UpstreamBody {
    pub fn new(
        conn: Connection,
        framing: ResponseFraming,
        keep_alive: bool,
        release: Release,
    ) -> Self {
        let state = match framing {
            ResponseFraming::Empty => State::Done,
            ResponseFraming::Length(n) => State::Length(n),
            ResponseFraming::Chunked => State::Chunked(ChunkedDecoder::default()),
            ResponseFraming::UntilClose => State::UntilClose,
        };
        let mut body = Self {
            conn: Some(conn),
            state,
            keep_alive,
            release: Some(release),
            in_flight: None,
            h2: None,
        };
        if matches!(body.state, State::Done) {
            // Nothing to stream (HEAD, 204, 304, Content-Length: 0): the
            // connection is free right away.
            body.finish();
        }
        body
    }

    /// A body with nothing in it and no connection (upgrades).
    pub fn empty() -> Self {
        Self {
            conn: None,
            state: State::Done,
            keep_alive: false,
            release: None,
            in_flight: None,
            h2: None,
        }
    }

    /// The body of a response on an HTTP/2 upstream stream.
    pub fn h2(body: hyper::body::Incoming) -> Self {
        Self {
            h2: Some(body),
            ..Self::empty()
        }
    }

    /// Ties the endpoint's in-flight count to this body's lifetime.
    pub fn count_in_flight(&mut self, guard: InFlight) {
        if self.conn.is_some() || self.h2.is_some() {
            self.in_flight = Some(guard);
        }
    }

    /// Returns the connection to the pool if it is clean and keep-alive.
    fn finish(&mut self) {
        self.state = State::Done;
        self.in_flight = None;
        let (Some(conn), Some(release)) = (self.conn.take(), self.release.take()) else {
            return;
        };
        // Extra bytes after the response mean the upstream is out of step.
        if self.keep_alive && conn.buffered().is_empty() {
            release.pool.release(conn);
        }
    }

    fn fail(&mut self, error: io::Error) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.state = State::Done;
        self.conn = None;
        self.in_flight = None;
        Poll::Ready(Some(Err(error)))
    }
}

fn eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "upstream closed mid-body")
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if let Some(h2) = this.h2.as_mut() {
            let polled = ready!(Pin::new(h2).poll_frame(cx));
            if !matches!(polled, Some(Ok(_))) {
                this.h2 = None;
                this.in_flight = None;
            }
            return Poll::Ready(polled.map(|r| r.map_err(io::Error::other)));
        }
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut this.state {
                State::Done => {
                    this.finish();
                    return Poll::Ready(None);
                }
                State::Length(0) => this.state = State::Done,
                State::Length(left) => {
                    let buffered = conn.buffered();
                    if !buffered.is_empty() {
                        let take = buffered
                            .len()
                            .min(usize::try_from(*left).unwrap_or(usize::MAX));
                        let data = Bytes::copy_from_slice(&buffered[..take]);
                        conn.consume(take);
                        *left -= take as u64;
                        if *left == 0 {
                            this.finish();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    match ready!(conn.poll_fill(cx)) {
                        Ok(0) => return this.fail(eof()),
                        Ok(_) => {}
                        Err(e) => return this.fail(e),
                    }
                }
                State::Chunked(decoder) => {
                    let (used, next) = match decoder.step(conn.buffered()) {
                        Ok(step) => step,
                        Err(reason) => {
                            return this.fail(io::Error::new(io::ErrorKind::InvalidData, reason));
                        }
                    };
                    conn.consume(used);
                    match next {
                        Chunk::End => this.state = State::Done,
                        Chunk::Data(n) if !conn.buffered().is_empty() => {
                            let buffered = conn.buffered();
                            let take = buffered.len().min(usize::try_from(n).unwrap_or(usize::MAX));
                            let data = Bytes::copy_from_slice(&buffered[..take]);
                            conn.consume(take);
                            decoder.data_done(take as u64);
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                        Chunk::Data(_) | Chunk::NeedMore => match ready!(conn.poll_fill(cx)) {
                            Ok(0) => return this.fail(eof()),
                            Ok(_) => {}
                            Err(e) => return this.fail(e),
                        },
                    }
                }
                State::UntilClose => {
                    let buffered = conn.buffered();
                    if !buffered.is_empty() {
                        let data = Bytes::copy_from_slice(buffered);
                        let n = buffered.len();
                        conn.consume(n);
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    match ready!(conn.poll_fill(cx)) {
                        Ok(0) => {
                            this.keep_alive = false;
                            this.state = State::Done;
                        }
                        Ok(_) => {}
                        Err(e) => return this.fail(e),
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if let Some(h2) = &self.h2 {
            return h2.is_end_stream();
        }
        matches!(self.state, State::Done | State::Length(0))
    }

    fn size_hint(&self) -> SizeHint {
        if let Some(h2) = &self.h2 {
            return h2.size_hint();
        }
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}
