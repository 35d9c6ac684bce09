//! HTTP/2 control-frame flood guard: a client that sends more SETTINGS or
//! PING frames (each of which the server must acknowledge) than
//! `h2_max_control_frames_per_second` within a second gets a GOAWAY with
//! ENHANCE_YOUR_CALM and the connection is closed.
//!
//! Why here: the `h2` crate answers every SETTINGS and PING and only stops
//! reading while an acknowledgement is queued; it has no flood limit and no
//! option for one, so a flood costs CPU and keeps the connection alive.
//! This wrapper reads frame headers only (9 bytes each, no HPACK) of what
//! the client sends, and of what hyper writes, so the GOAWAY it writes
//! itself lands between two of hyper's frames, never inside one. For an
//! HTTP/1 connection (no client preface) it is a plain pass-through after
//! the first bytes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::guard::framing::{Violation, ViolationHandle};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEAD: usize = 9;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const HEADERS: u8 = 0x1;
const ACK: u8 = 0x1;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// Parses frame boundaries in one direction of an HTTP/2 byte stream.
#[derive(Debug, Default)]
struct Frames {
    head: [u8; FRAME_HEAD],
    head_len: usize,
    /// Payload bytes of the current frame still to pass.
    payload_left: usize,
}

impl Frames {
    /// Runs `bytes` through; calls `on_head(type, flags, stream)` for each
    /// complete frame header.
    fn feed(&mut self, mut bytes: &[u8], mut on_head: impl FnMut(u8, u8, u32)) {
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let n = self.payload_left.min(bytes.len());
                self.payload_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (FRAME_HEAD - self.head_len).min(bytes.len());
            self.head[self.head_len..self.head_len + n].copy_from_slice(&bytes[..n]);
            self.head_len += n;
            bytes = &bytes[n..];
            if self.head_len == FRAME_HEAD {
                let h = self.head;
                self.head_len = 0;
                self.payload_left =
                    usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
                on_head(h[3], h[4], stream);
            }
        }
    }

    /// Between two frames (no partial frame passed).
    fn at_boundary(&self) -> bool {
        self.head_len == 0 && self.payload_left == 0
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Mode {
    /// Matching the first bytes against the client preface.
    Sniffing(usize),
    /// Not HTTP/2 (or a prior-knowledge preface mismatch): pass-through.
    Off,
    H2,
    /// Flooded: the GOAWAY (from `goaway_pos`) is being written.
    Closing,
    /// GOAWAY written (or impossible): every read and write fails.
    Closed,
}

/// The state of a connection that spoke the preface: boxed, so an HTTP/1
/// connection carries only the mode and a pointer.
#[derive(Debug)]
struct H2State {
    inbound: Frames,
    outbound: Frames,
    window_start: Instant,
    in_window: u32,
    last_stream: u32,
    goaway: [u8; FRAME_HEAD + 8],
    goaway_pos: usize,
}

#[derive(Debug)]
pub struct H2FloodGuard<IO> {
    io: IO,
    mode: Mode,
    max_per_second: u32,
    state: Option<Box<H2State>>,
    handle: ViolationHandle,
}

impl<IO> H2FloodGuard<IO> {
    /// `handle` records the flood for the connection's refusal record.
    pub fn new(io: IO, max_per_second: u32, handle: ViolationHandle) -> Self {
        Self {
            io,
            mode: if max_per_second == 0 {
                Mode::Off
            } else {
                Mode::Sniffing(0)
            },
            max_per_second,
            state: None,
            handle,
        }
    }

    /// Inspects bytes the client sent; returns whether they flood.
    fn inspect(&mut self, mut bytes: &[u8]) -> bool {
        if let Mode::Sniffing(matched) = self.mode {
            let n = (PREFACE.len() - matched).min(bytes.len());
            if bytes[..n] != PREFACE[matched..matched + n] {
                self.mode = Mode::Off;
                return false;
            }
            bytes = &bytes[n..];
            self.mode = if matched + n == PREFACE.len() {
                self.state = Some(Box::new(H2State {
                    inbound: Frames::default(),
                    outbound: Frames::default(),
                    window_start: Instant::now(),
                    in_window: 0,
                    last_stream: 0,
                    goaway: [0; FRAME_HEAD + 8],
                    goaway_pos: 0,
                }));
                Mode::H2
            } else {
                Mode::Sniffing(matched + n)
            };
        }
        let (Mode::H2, Some(state)) = (&self.mode, self.state.as_deref_mut()) else {
            return false;
        };
        let mut control = 0u32;
        let mut last_stream = state.last_stream;
        state.inbound.feed(bytes, |kind, flags, stream| match kind {
            SETTINGS | PING if flags & ACK == 0 => control += 1,
            HEADERS => last_stream = last_stream.max(stream),
            _ => {}
        });
        state.last_stream = last_stream;
        if control == 0 {
            return false;
        }
        let now = Instant::now();
        if now.duration_since(state.window_start) >= Duration::from_secs(1) {
            state.window_start = now;
            state.in_window = 0;
        }
        state.in_window = state.in_window.saturating_add(control);
        state.in_window > self.max_per_second
    }

    fn outbound(&mut self, bytes: &[u8]) {
        if let Some(state) = self.state.as_deref_mut() {
            state.outbound.feed(bytes, |_, _, _| {});
        }
    }

    fn start_goaway(&mut self) {
        self.handle.set(Violation::H2ControlFlood);
        let Some(state) = self.state.as_deref_mut() else {
            self.mode = Mode::Closed;
            return;
        };
        if !state.outbound.at_boundary() {
            // hyper is inside a frame of its own: no clean place for ours.
            self.mode = Mode::Closed;
            return;
        }
        let mut frame = [0u8; FRAME_HEAD + 8];
        frame[2] = 8; // payload length
        frame[3] = 0x7; // GOAWAY, stream 0
        frame[FRAME_HEAD..FRAME_HEAD + 4].copy_from_slice(&state.last_stream.to_be_bytes());
        frame[FRAME_HEAD + 4..].copy_from_slice(&ENHANCE_YOUR_CALM.to_be_bytes());
        state.goaway = frame;
        state.goaway_pos = 0;
        self.mode = Mode::Closing;
    }
}

fn flooded() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "HTTP/2 control-frame flood",
    )
}

impl<IO: AsyncWrite + Unpin> H2FloodGuard<IO> {
    /// Writes the rest of the GOAWAY and flushes; Ready once done or failed.
    fn poll_goaway(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while self.mode == Mode::Closing {
            let Some(state) = self.state.as_deref_mut() else {
                self.mode = Mode::Closed;
                break;
            };
            if state.goaway_pos < state.goaway.len() {
                match Pin::new(&mut self.io).poll_write(cx, &state.goaway[state.goaway_pos..]) {
                    Poll::Ready(Ok(n)) if n > 0 => state.goaway_pos += n,
                    Poll::Ready(_) => self.mode = Mode::Closed,
                    Poll::Pending => return Poll::Pending,
                }
            } else {
                match Pin::new(&mut self.io).poll_flush(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(_) => self.mode = Mode::Closed,
                }
            }
        }
        Poll::Ready(())
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for H2FloodGuard<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.mode {
            Mode::Off => return Pin::new(&mut this.io).poll_read(cx, buf),
            Mode::Closing => {
                if this.poll_goaway(cx).is_pending() {
                    return Poll::Pending;
                }
                return Poll::Ready(Err(flooded()));
            }
            Mode::Closed => return Poll::Ready(Err(flooded())),
            Mode::Sniffing(_) | Mode::H2 => {}
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            // The new bytes are inspected before hyper sees them; a flood
            // is never handed on.
            let flood = this.inspect(&buf.filled()[before..]);
            if flood {
                buf.set_filled(before);
                this.start_goaway();
                if this.poll_goaway(cx).is_pending() {
                    return Poll::Pending;
                }
                return Poll::Ready(Err(flooded()));
            }
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for H2FloodGuard<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.mode {
            Mode::Off | Mode::Sniffing(_) => Pin::new(&mut this.io).poll_write(cx, buf),
            Mode::H2 => {
                let polled = Pin::new(&mut this.io).poll_write(cx, buf);
                if let Poll::Ready(Ok(n)) = polled {
                    this.outbound(&buf[..n]);
                }
                polled
            }
            Mode::Closing => {
                if this.poll_goaway(cx).is_pending() {
                    return Poll::Pending;
                }
                Poll::Ready(Err(flooded()))
            }
            Mode::Closed => Poll::Ready(Err(flooded())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.mode {
            Mode::Off | Mode::Sniffing(_) => Pin::new(&mut this.io).poll_write_vectored(cx, bufs),
            Mode::H2 => {
                let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
                if let Poll::Ready(Ok(mut n)) = polled {
                    for slice in bufs {
                        if n == 0 {
                            break;
                        }
                        let take = n.min(slice.len());
                        this.outbound(&slice[..take]);
                        n -= take;
                    }
                }
                polled
            }
            Mode::Closing => {
                if this.poll_goaway(cx).is_pending() {
                    return Poll::Pending;
                }
                Poll::Ready(Err(flooded()))
            }
            Mode::Closed => Poll::Ready(Err(flooded())),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_split_at_their_headers_across_reads() {
        let mut frames = Frames::default();
        let mut seen = Vec::new();
        // SETTINGS (6-byte payload), then PING (8), fed in odd pieces.
        let mut bytes = vec![0, 0, 6, SETTINGS, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&[0; 6]);
        bytes.extend_from_slice(&[0, 0, 8, PING, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[7; 8]);
        for piece in bytes.chunks(5) {
            frames.feed(piece, |kind, flags, stream| {
                seen.push((kind, flags, stream))
            });
        }
        assert_eq!(seen, [(SETTINGS, 0, 0), (PING, 0, 0)]);
        assert!(frames.at_boundary());
    }

    #[tokio::test]
    async fn http1_bytes_pass_untouched() {
        let mut guard = H2FloodGuard::new(tokio::io::empty(), 10, ViolationHandle::default());
        assert!(!guard.inspect(b"GET / HTTP/1.1\r\n\r\n"));
        assert_eq!(guard.mode, Mode::Off);
    }

    #[tokio::test]
    async fn a_ping_flood_is_detected_and_acks_are_not_counted() {
        let mut guard = H2FloodGuard::new(tokio::io::empty(), 10, ViolationHandle::default());
        assert!(!guard.inspect(PREFACE));
        let ping = |flags| {
            let mut f = vec![0, 0, 8, PING, flags, 0, 0, 0, 0];
            f.extend_from_slice(&[0; 8]);
            f
        };
        let acks: Vec<u8> = (0..50).flat_map(|_| ping(ACK)).collect();
        assert!(!guard.inspect(&acks));
        let pings: Vec<u8> = (0..10).flat_map(|_| ping(0)).collect();
        assert!(!guard.inspect(&pings));
        assert!(guard.inspect(&ping(0)));
    }
}
