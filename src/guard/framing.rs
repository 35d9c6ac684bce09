//! Stage 2 guard: strict HTTP/1.1 request framing, checked on the raw byte
//! stream before hyper parses it, so ambiguous framing (request smuggling
//! material) is answered with 400 and never reaches a backend.
//!
//! How it works: [`FramingGuard`] wraps the client connection and runs every
//! byte hyper reads through a [`FramingValidator`]. Request heads are held
//! back until they are complete and judged, so hyper never sees any byte of a
//! rejected head. Bodies, chunk framing and opaque streams (h2, upgrades) pass
//! through in place, counted rather than copied.
//!
//! On a violation between requests, everything before the bad request is
//! delivered (earlier pipelined requests complete normally), then a short
//! synthetic request head with an invalid method byte, then EOF: hyper itself
//! answers `400 Bad Request` and closes. On a violation inside a chunked body
//! the bytes before it are delivered and the next read fails with
//! `io::ErrorKind::InvalidData`: the body errors, the request is aborted and
//! hyper closes the connection.
//!
//! Head deadline (`head_timeout`, the slowloris defence): from connection
//! start until the first head is complete, and from the first byte of each
//! later head until it is complete, a timer runs; if it fires first, the
//! connection ends (reason `head_timeout`): a `408 Request Timeout` is written
//! when nothing was written on the connection yet, and the read fails with
//! `io::ErrorKind::TimedOut`, so hyper closes it. hyper's own
//! `header_read_timeout` cannot cover the first head (hyper-util's auto
//! builder reads the protocol preface before hyper starts its timer, and the
//! guard holds the head back), and the idle time between keep-alive requests
//! is left to it. Bodies are not covered.
//!
//! Limits (not framing violations; both end in hyper's own 431):
//! - more than `max_headers` header lines: the head is not judged
//!   ("deferred") and passes unchanged from there on; hyper, configured with
//!   the same `max_headers`, rejects it exactly (its header array is full).
//! - more than `max_head_bytes`: hyper's byte limit (`max_buf_size`) is only
//!   approximate (a head somewhat over it can still parse when it arrives in
//!   one read), so passing the head on would let it through unjudged. Instead
//!   the guard drops it and hands hyper a head with `max_headers + 1` header
//!   lines, which hyper answers with 431, then EOF.

mod deadline;
mod validator;
mod violation;

#[cfg(test)]
mod deadline_tests;
#[cfg(test)]
mod e2e_tests;
#[cfg(test)]
mod tests;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pub use validator::{FramingValidator, Step};
pub use violation::{Violation, ViolationHandle};

/// Limits the framing guard enforces.
#[derive(Debug, Clone, Copy)]
pub struct FramingLimits {
    pub max_head_bytes: usize,
    pub max_headers: usize,
    /// Deadline for a complete request head (see the module docs).
    pub head_timeout: Duration,
}

/// Replaces the rest of the stream after a violation between requests. The NUL
/// is an invalid method byte, which hyper rejects with 400 whatever its
/// header leniency options; the rest makes it a complete head so hyper does not
/// wait for more.
const REJECT_HEAD: &[u8] = b"\0 / HTTP/1.1\r\n\r\n";

/// Replaces the rest of the stream after a head over `max_head_bytes`: a
/// request with one header line more than hyper accepts (`max_headers`,
/// which hyper enforces exactly), so hyper itself answers 431 and closes.
fn push_too_large_head(out: &mut Vec<u8>, max_headers: usize) {
    // Bounded whatever the configuration; past hyper's buffer limit the answer
    // is 431 as well.
    let lines = max_headers.min(1 << 16) + 1;
    out.extend_from_slice(b"GET / HTTP/1.1\r\n");
    for _ in 0..lines {
        out.extend_from_slice(b"x:\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Open,
    /// EOF once `out` is drained.
    Closed,
    /// InvalidData error once `out` is drained.
    Failed,
    /// The head deadline passed: TimedOut error.
    TimedOut,
}

/// A connection wrapper that enforces strict HTTP/1.1 framing on what is read;
/// writes pass straight through.
#[derive(Debug)]
pub struct FramingGuard<IO> {
    io: IO,
    validator: FramingValidator,
    /// Bytes to hand out before anything else: a head that spanned reads, or
    /// the synthetic rejection head. Reused, so normally allocation-free.
    out: Vec<u8>,
    out_pos: usize,
    /// Input read but not yet validated (only after a held head spanning
    /// reads was released mid-read).
    carry: Vec<u8>,
    carry_pos: usize,
    end: End,
    handle: ViolationHandle,
    max_headers: usize,
    head_timeout: Duration,
    /// When the head being awaited must be complete; `None` while no head is
    /// awaited (bodies, keep-alive idle time, opaque streams).
    head_deadline: Option<Instant>,
    /// The timer for `head_deadline`: allocated the first time a read has to
    /// wait for a head, then reset, never re-allocated.
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether anything was written to the client yet.
    wrote: bool,
}

impl<IO> FramingGuard<IO> {
    pub fn new(io: IO, limits: FramingLimits) -> Self {
        Self::awaiting_since(io, limits, Instant::now())
    }

    /// A guard whose first head has been awaited since `since` (the head
    /// deadline runs from then, e.g. from accept when the guard is only built
    /// once the client's first bytes arrive).
    pub fn awaiting_since(io: IO, limits: FramingLimits, since: Instant) -> Self {
        Self {
            io,
            validator: FramingValidator::new(limits),
            out: Vec::new(),
            out_pos: 0,
            carry: Vec::new(),
            carry_pos: 0,
            end: End::Open,
            handle: ViolationHandle::default(),
            max_headers: limits.max_headers,
            head_timeout: limits.head_timeout,
            // The first head is awaited from connection start.
            head_deadline: since.checked_add(limits.head_timeout),
            timer: None,
            wrote: false,
        }
    }

    /// The reason code of the violation found, if any.
    pub fn violation(&self) -> Option<&'static str> {
        self.handle.get().map(Violation::as_str)
    }

    /// A handle that reports the violation after the guard is gone.
    pub fn violation_handle(&self) -> ViolationHandle {
        self.handle.clone()
    }

    /// True once validation stopped for a head with more than `max_headers`
    /// header lines (passed on; hyper answers 431).
    pub fn is_deferred(&self) -> bool {
        self.validator.is_deferred()
    }

    /// True once a head over `max_head_bytes` was replaced by one that makes
    /// hyper answer 431.
    pub fn is_too_large(&self) -> bool {
        self.validator.is_too_large()
    }

    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    pub fn into_inner(self) -> IO {
        self.io
    }

    /// Validates the `n` new bytes at `buf.filled()[base..]` in place, keeping
    /// only what may reach the parser now; held, queued and rejected bytes are
    /// cut off. `from_carry` says the bytes came from `carry[carry_pos..]`.
    fn process(&mut self, buf: &mut ReadBuf<'_>, base: usize, n: usize, from_carry: bool) {
        let mut pos = 0;
        // Released bytes kept in place end at base + w.
        let mut w = 0;
        // Bytes of the current head held from earlier reads.
        let mut carried_in = if self.validator.is_holding() {
            self.validator.held().len()
        } else {
            0
        };
        // Where unvalidated input resumes, if processing stops early.
        let mut resume = n;
        while pos < n {
            match self.validator.step(&buf.filled()[base + pos..base + n]) {
                Step::Pass(k) => {
                    if w != pos {
                        buf.filled_mut()
                            .copy_within(base + pos..base + pos + k, base + w);
                    }
                    w += k;
                    pos += k;
                }
                Step::Hold(k) => pos += k,
                Step::Release(k) => {
                    self.head_deadline = None;
                    let end = pos + k;
                    let held = self.validator.held().len();
                    match end.checked_sub(held) {
                        // The whole head is in this read: release it in place.
                        Some(start) if carried_in == 0 && start >= w => {
                            if start != w {
                                buf.filled_mut()
                                    .copy_within(base + start..base + end, base + w);
                            }
                            w += held;
                            pos = end;
                            carried_in = 0;
                        }
                        // It began in an earlier read: queue it whole and
                        // validate the rest of this read afterwards.
                        _ => {
                            self.out.extend_from_slice(self.validator.held());
                            resume = end;
                            break;
                        }
                    }
                }
                Step::TooLarge => {
                    push_too_large_head(&mut self.out, self.max_headers);
                    self.end = End::Closed;
                    if from_carry {
                        self.carry.clear();
                        self.carry_pos = 0;
                    }
                    buf.set_filled(base + w);
                    return;
                }
                Step::Reject { reason, in_body } => {
                    self.handle.set(reason);
                    if in_body {
                        self.end = End::Failed;
                    } else {
                        self.out.extend_from_slice(REJECT_HEAD);
                        self.end = End::Closed;
                    }
                    if from_carry {
                        self.carry.clear();
                        self.carry_pos = 0;
                    }
                    buf.set_filled(base + w);
                    return;
                }
            }
        }
        if from_carry {
            self.carry_pos += resume;
            if self.carry_pos >= self.carry.len() {
                self.carry.clear();
                self.carry_pos = 0;
            }
        } else if resume < n {
            self.carry.clear();
            self.carry
                .extend_from_slice(&buf.filled()[base + resume..base + n]);
            self.carry_pos = 0;
        }
        // The first byte of a later head starts its deadline.
        if self.head_deadline.is_none() && self.validator.is_holding() {
            self.head_deadline = Instant::now().checked_add(self.head_timeout);
        }
        buf.set_filled(base + w);
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for FramingGuard<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_pos < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.out_pos);
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            match this.end {
                End::Open => {}
                End::Closed => return Poll::Ready(Ok(())),
                End::Failed => {
                    let reason = this.handle.get().map_or("framing", Violation::as_str);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("request framing violation: {reason}"),
                    )));
                }
                End::TimedOut => return Poll::Ready(Err(deadline::timed_out())),
            }
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let base = buf.filled().len();
            let from_carry = this.carry_pos < this.carry.len();
            if from_carry {
                let n = buf.remaining().min(this.carry.len() - this.carry_pos);
                buf.put_slice(&this.carry[this.carry_pos..this.carry_pos + n]);
            } else {
                match Pin::new(&mut this.io).poll_read(cx, buf) {
                    Poll::Ready(result) => result?,
                    Poll::Pending if this.head_deadline_passed(cx) => {
                        return Poll::Ready(Err(this.time_out(cx)));
                    }
                    Poll::Pending => return Poll::Pending,
                }
                if buf.filled().len() == base {
                    // EOF. An unfinished held head is dropped: it was never
                    // a request.
                    return Poll::Ready(Ok(()));
                }
            }
            let n = buf.filled().len() - base;
            this.process(buf, base, n, from_carry);
            if buf.filled().len() > base {
                return Poll::Ready(Ok(()));
            }
            // Everything was held or queued: go round for more (or for the
            // queued bytes).
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for FramingGuard<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.wrote = true;
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.wrote = true;
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
