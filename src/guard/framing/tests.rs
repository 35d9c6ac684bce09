//! Unit tests of the framing guard: the validator's verdicts and the exact
//! bytes the wrapper hands to hyper, for every way the input can be split.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::*;

const LIMITS: FramingLimits = FramingLimits {
    max_head_bytes: 4096,
    max_headers: 64,
    head_timeout: Duration::from_secs(60),
};

/// Serves a fixed list of chunks, one per read (never Pending).
struct Chunks {
    parts: Vec<Vec<u8>>,
    next: usize,
    offset: usize,
}

impl AsyncRead for Chunks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(part) = this.parts.get(this.next) {
            let n = buf.remaining().min(part.len() - this.offset);
            buf.put_slice(&part[this.offset..this.offset + n]);
            this.offset += n;
            if this.offset == part.len() {
                this.next += 1;
                this.offset = 0;
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The guard only writes to its connection for a head timeout, which these
/// never-pending reads cannot reach.
impl AsyncWrite for Chunks {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// What hyper would read.
    delivered: Vec<u8>,
    /// The stream ended in an error (mid-body violation).
    error: Option<io::ErrorKind>,
    violation: Option<&'static str>,
    deferred: bool,
    too_large: bool,
}

/// Reads everything through a guard with `read_size`-byte reads.
fn run(parts: Vec<Vec<u8>>, read_size: usize, limits: FramingLimits) -> Outcome {
    let io = Chunks {
        parts,
        next: 0,
        offset: 0,
    };
    let mut guard = FramingGuard::new(io, limits);
    let mut cx = Context::from_waker(Waker::noop());
    let mut delivered = Vec::new();
    let mut storage = vec![0u8; read_size];
    let mut error = None;
    // Bounded: every read makes progress or ends the stream.
    for _ in 0..1_000_000 {
        let mut buf = ReadBuf::new(&mut storage);
        match Pin::new(&mut guard).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => break,
            Poll::Ready(Ok(())) => delivered.extend_from_slice(buf.filled()),
            Poll::Ready(Err(e)) => {
                error = Some(e.kind());
                break;
            }
            Poll::Pending => panic!("mock reader never pends"),
        }
    }
    Outcome {
        delivered,
        error,
        violation: guard.violation(),
        deferred: guard.is_deferred(),
        too_large: guard.is_too_large(),
    }
}

/// Runs `input` whole, in 1-byte pieces, split in two at every point, and
/// with several caller buffer sizes; all must give the same outcome, which
/// is returned.
fn run_all_splits(input: &[u8], limits: FramingLimits) -> Outcome {
    let whole = run(vec![input.to_vec()], 64 * 1024, limits);
    let bytes: Vec<Vec<u8>> = input.iter().map(|b| vec![*b]).collect();
    assert_eq!(run(bytes, 64 * 1024, limits), whole, "1-byte splits");
    for read_size in [1, 3, 24, 100] {
        let o = run(vec![input.to_vec()], read_size, limits);
        assert_eq!(o, whole, "read size {read_size}");
    }
    for cut in 1..input.len() {
        let parts = vec![input[..cut].to_vec(), input[cut..].to_vec()];
        assert_eq!(run(parts, 64 * 1024, limits), whole, "split at {cut}");
    }
    // The plain validator agrees with the wrapper.
    let mut v = FramingValidator::new(limits);
    let verdict = v.feed(input).err().map(Violation::as_str);
    assert_eq!(verdict, whole.violation);
    whole
}

fn assert_valid(input: &[u8]) -> Outcome {
    let o = run_all_splits(input, LIMITS);
    assert_eq!(o.violation, None, "{:?}", String::from_utf8_lossy(input));
    assert_eq!(o.delivered, input, "valid input passes unchanged");
    assert_eq!(o.error, None);
    o
}

/// `good` is delivered, then the head-level violation in `bad` becomes the
/// synthetic rejection head and EOF.
fn assert_rejected_head(good: &[u8], bad: &[u8], reason: &str) {
    let input = [good, bad].concat();
    let o = run_all_splits(&input, LIMITS);
    assert_eq!(
        o.violation,
        Some(reason),
        "{:?}",
        String::from_utf8_lossy(&input)
    );
    assert_eq!(o.delivered, [good, REJECT_HEAD].concat());
    assert_eq!(o.error, None);
}

/// `good` is delivered, then the read fails (violation inside a chunked body
/// at the first byte of `bad`).
fn assert_rejected_body(good: &[u8], bad: &[u8], reason: &str) {
    let input = [good, bad].concat();
    let o = run_all_splits(&input, LIMITS);
    assert_eq!(
        o.violation,
        Some(reason),
        "{:?}",
        String::from_utf8_lossy(&input)
    );
    assert_eq!(o.delivered, good);
    assert_eq!(o.error, Some(io::ErrorKind::InvalidData));
}

const GET: &[u8] = b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
const CHUNKED_HEAD: &[u8] = b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

#[test]
fn simple_requests_pass_unchanged() {
    assert_valid(GET);
    assert_valid(b"GET / HTTP/1.0\r\n\r\n");
    assert_valid(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_valid(b"GET / HTTP/1.1\r\nHost:a\r\nX-Empty:\r\nX-Ows: \t v \t\r\n\r\n");
    assert_valid(b"GET / HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xc3\xa9\r\n\r\n");
    assert_valid(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_valid(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  ChUnKeD \r\n\r\n0\r\n\r\n");
}

#[test]
fn pipelined_requests_pass_unchanged() {
    let input = [
        GET,
        b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
        CHUNKED_HEAD,
        b"5\r\nhello\r\n0\r\n\r\n",
        GET,
    ]
    .concat();
    assert_valid(&input);
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let body = b"5;name=value;flag;q=\"a b\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0;last\r\nX-Trailer: t\r\nX-Other:\r\n\r\n";
    let input = [CHUNKED_HEAD, body, GET].concat();
    assert_valid(&input);
}

#[test]
fn body_bytes_are_not_interpreted() {
    // A body that looks like a smuggled request is just counted.
    let input = [
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 32\r\n\r\n".as_slice(),
        b"GET /x HTTP/1.1\nHost: evil\n\n\0\0\0\0",
        GET,
    ]
    .concat();
    assert_valid(&input);
}

#[test]
fn upgrade_and_connect_become_opaque() {
    let junk: &[u8] = b"\x81\x05hello\n\r\0 anything goes\n";
    let ws = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    assert_valid(&[ws.as_slice(), junk].concat());
    let connect = b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n";
    assert_valid(&[connect.as_slice(), junk].concat());
    // With a body: opaque only after the body.
    let with_body = b"POST /up HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nContent-Length: 3\r\n\r\nabc";
    assert_valid(&[with_body.as_slice(), junk].concat());
    let mut v = FramingValidator::new(LIMITS);
    assert_eq!(v.feed(with_body), Ok(()));
    assert!(v.is_opaque());
    // Before the body is complete it is not opaque yet.
    let mut v = FramingValidator::new(LIMITS);
    assert_eq!(v.feed(&with_body[..with_body.len() - 1]), Ok(()));
    assert!(!v.is_opaque());
}

#[test]
fn h2_preface_becomes_opaque() {
    let input = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00\n\n\r";
    assert_valid(input);
    let mut v = FramingValidator::new(LIMITS);
    assert_eq!(v.feed(input), Ok(()));
    assert!(v.is_opaque());
    // Only at connection start.
    assert_rejected_head(GET, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "bad_request_line");
    // A near miss of the preface is an HTTP/1 head and judged as one.
    assert_rejected_head(b"", b"PRI * HTTP/2.0\r\n\r\nSX\r\n\r\n", "bad_request_line");
    assert_rejected_head(b"", b"PRI * HTTP/1.1\r\n\n", "bare_lf");
    assert_valid(b"PRI * HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[test]
fn oversize_heads() {
    let limits = FramingLimits {
        max_head_bytes: 64,
        max_headers: 3,
        ..LIMITS
    };
    let mut too_large_head = Vec::new();
    push_too_large_head(&mut too_large_head, limits.max_headers);
    assert_eq!(
        too_large_head,
        b"GET / HTTP/1.1\r\nx:\r\nx:\r\nx:\r\nx:\r\n\r\n".as_slice()
    );
    // Too many bytes: replaced by the 431 head, even if otherwise valid; an
    // earlier request still gets through.
    let big = [
        b"GET / HTTP/1.1\r\nHost: a\r\nX: ".as_slice(),
        &[b'v'; 100],
        b"\r\n\r\n",
    ]
    .concat();
    let short = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let o = run_all_splits(&[short.as_slice(), &big].concat(), limits);
    assert!(o.too_large && !o.deferred);
    assert_eq!(o.violation, None);
    assert_eq!(o.delivered, [short.as_slice(), &too_large_head].concat());
    // Smuggling material hidden past the byte limit never passes.
    let cl_te =
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let o = run_all_splits(cl_te, limits);
    assert!(o.too_large);
    assert_eq!(o.delivered, too_large_head);
    // Too many header lines: passes unchanged, even with later junk (hyper
    // rejects the head exactly, and closes).
    let many = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\nGET / HTTP/1.1\nbad\n\n";
    let o = run_all_splits(many, limits);
    assert!(o.deferred && !o.too_large);
    assert_eq!(o.violation, None);
    assert_eq!(o.delivered, many);
    // Exactly at the limits is judged normally.
    let at = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 23456789012345678901234567\r\n\r\n";
    assert_eq!(at.len(), 64);
    let o = run_all_splits(at, limits);
    assert!(!o.deferred && !o.too_large);
    assert_eq!(o.delivered, at);
    // Long trailers are still judged (nothing is stored for them).
    let trailers = [
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: ".as_slice(),
        &[b't'; 200],
        b"\n\r\n",
    ]
    .concat();
    let o = run_all_splits(
        &trailers,
        FramingLimits {
            max_head_bytes: 80,
            ..limits
        },
    );
    assert_eq!(o.violation, Some("bare_lf"));
}

#[test]
fn line_ending_violations() {
    assert_rejected_head(b"", b"GET / HTTP/1.1\nHost: a\r\n\r\n", "bare_lf");
    assert_rejected_head(b"", b"GET / HTTP/1.1\r\nHost: a\n\r\n", "bare_lf");
    assert_rejected_head(b"", b"GET / HTTP/1.1\r\nHost: a\r\n\n", "bare_lf");
    assert_rejected_head(b"", b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "bare_lf");
    assert_rejected_head(GET, b"GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", "bare_cr");
    assert_rejected_head(GET, b"GET / HTTP/1.1\r\nHost: a\r\n\rX", "bare_cr");
    assert_rejected_head(b"", b"GET / HTTP/1.1\rHost: a\r\n\r\n", "bare_cr");
}

#[test]
fn header_syntax_violations() {
    let h = |line: &[u8]| [b"GET / HTTP/1.1\r\nHost: a\r\n".as_slice(), line, b"\r\n"].concat();
    assert_rejected_head(b"", &h(b"X: a\r\n b"), "obs_fold");
    assert_rejected_head(b"", &h(b"X: a\r\n\tb"), "obs_fold");
    assert_rejected_head(b"", &h(b"X : a"), "space_before_colon");
    assert_rejected_head(b"", &h(b"X\t: a"), "space_before_colon");
    assert_rejected_head(b"", &h(b"X: a\0b"), "invalid_header_byte");
    assert_rejected_head(b"", &h(b"X: a\x7fb"), "invalid_header_byte");
    assert_rejected_head(b"", &h(b"X: a\x0bb"), "invalid_header_byte");
    assert_rejected_head(b"", &h(b"X(y): a"), "invalid_header_byte");
    assert_rejected_head(b"", &h(b"NoColon"), "invalid_header_byte");
    assert_rejected_head(b"", &h(b": empty name"), "invalid_header_byte");
    assert_rejected_head(b"", &h(b"Host: b"), "duplicate_host");
    assert_rejected_head(b"", b"GET / HTTP/1.1\r\nX: y\r\n\r\n", "missing_host");
}

#[test]
fn request_line_violations() {
    for line in [
        b"GET  / HTTP/1.1".as_slice(),
        b" GET / HTTP/1.1",
        b"GET / HTTP/1.2",
        b"GET / HTTP/2.0",
        b"GET / http/1.1",
        b"GET /a b HTTP/1.1",
        b"GET / HTTP/1.1 ",
        b"GET /\x7f HTTP/1.1",
        b"GET /\xc3\xa9 HTTP/1.1",
        b"G(T / HTTP/1.1",
        b"GET /",
        b"GET",
    ] {
        let bad = [line, b"\r\nHost: a\r\n\r\n"].concat();
        assert_rejected_head(GET, &bad, "bad_request_line");
    }
}

#[test]
fn framing_header_violations() {
    let h = |lines: &[u8]| [b"POST / HTTP/1.1\r\nHost: a\r\n".as_slice(), lines, b"\r\n"].concat();
    let te = "bad_transfer_encoding";
    let cases: &[(&[u8], &str)] = &[
        (
            b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
            "cl_and_te",
        ),
        (
            b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
            "cl_and_te",
        ),
        (b"Transfer-Encoding: chunked, identity\r\n", te),
        (b"Transfer-Encoding: identity\r\n", te),
        (b"Transfer-Encoding: xchunked\r\n", te),
        (
            b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            te,
        ),
        (b"Transfer-Encoding: \"chunked\"\r\n", te),
        (b"Transfer-Encoding:\r\n", te),
        (
            b"Content-Length: 3\r\nContent-Length: 3\r\n",
            "duplicate_content_length",
        ),
        (
            b"Content-Length: 3\r\ncontent-length: 4\r\n",
            "duplicate_content_length",
        ),
        (b"Content-Length: 3, 3\r\n", "bad_content_length"),
        (b"Content-Length: +3\r\n", "bad_content_length"),
        (b"Content-Length: 0x3\r\n", "bad_content_length"),
        (b"Content-Length:\r\n", "bad_content_length"),
        (
            b"Content-Length: 1234567890123456789\r\n",
            "bad_content_length",
        ),
    ];
    for (lines, reason) in cases {
        assert_rejected_head(GET, &h(lines), reason);
    }
    assert_rejected_head(
        b"",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        te,
    );
    // 18 digits is allowed.
    let mut v = FramingValidator::new(LIMITS);
    assert_eq!(
        v.feed(&h(b"Content-Length: 000000000000000005\r\n")),
        Ok(())
    );
}

#[test]
fn chunk_framing_violations() {
    let cases: &[(&[u8], &[u8], &str)] = &[
        (b"", b"zz\r\n", "bad_chunk"),
        (b"5", b"\nhello\r\n0\r\n\r\n", "bare_lf"),
        (b"5\r", b"hello", "bare_cr"),
        (b"5", b" \r\nhello", "bad_chunk"),
        (b"5\r\nhello", b"X\r\n0\r\n\r\n", "bad_chunk"),
        (b"5\r\nhello", b"\n0\r\n\r\n", "bare_lf"),
        (b"5\r\nhello\r", b"X0\r\n\r\n", "bare_cr"),
        (b"0000000000000005", b"0\r\n", "bad_chunk"),
        (b"5;", b"\r\nhello\r\n", "bad_chunk"),
        (b"5;", b"=v\r\nhello\r\n", "bad_chunk"),
        (b"5;a=b", b"\x01\r\nhello\r\n", "bad_chunk"),
        (b"5;a=b", b"\nhello\r\n", "bare_lf"),
        (b"", b"-5\r\n", "bad_chunk"),
        (b"0\r\nX: t", b"\n\r\n", "bare_lf"),
        (b"0\r\nX: t\r\n", b" folded\r\n\r\n", "obs_fold"),
        (b"0\r\nX", b" : t\r\n\r\n", "space_before_colon"),
        (b"0\r\n", b"\n", "bare_lf"),
        (b"0\r\n\r", b"X", "bare_cr"),
    ];
    for (good, bad, reason) in cases {
        assert_rejected_body(&[GET, CHUNKED_HEAD, good].concat(), bad, reason);
    }
    // 16 hex digits is the maximum.
    let mut v = FramingValidator::new(LIMITS);
    assert_eq!(
        v.feed(&[CHUNKED_HEAD, b"0000000000000001\r\nx\r\n"].concat()),
        Ok(())
    );
}

#[test]
fn valid_then_invalid_pipelined() {
    let first = b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    let bad = b"POST /q HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_rejected_head(&[GET, first].concat(), bad, "cl_and_te");
}

#[test]
fn violation_handle_outlives_guard() {
    let io = Chunks {
        parts: vec![b"GET / HTTP/1.1\nHost: a\r\n\r\n".to_vec()],
        next: 0,
        offset: 0,
    };
    let mut guard = FramingGuard::new(io, LIMITS);
    let handle = guard.violation_handle();
    assert_eq!(handle.get(), None);
    let mut storage = [0u8; 64];
    let mut buf = ReadBuf::new(&mut storage);
    let mut cx = Context::from_waker(Waker::noop());
    let polled = Pin::new(&mut guard).poll_read(&mut cx, &mut buf);
    assert!(matches!(polled, Poll::Ready(Ok(()))));
    assert_eq!(buf.filled(), REJECT_HEAD);
    drop(guard);
    assert_eq!(handle.get(), Some(Violation::BareLf));
    assert_eq!(handle.get().map(Violation::as_str), Some("bare_lf"));
}

#[test]
fn reason_codes_round_trip() {
    for v in Violation::ALL {
        assert_eq!(Violation::from_code(v as u8), Some(v));
        assert!(!v.as_str().is_empty());
    }
    assert_eq!(Violation::from_code(0), None);
}

#[test]
fn arbitrary_bytes_never_panic() {
    // Cheap deterministic stand-in for the fuzz target.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let alphabet = b"GETPOST /HTP1.0\r\n:;=chunkedContent-LengthTransfer-EncodingHost\t \0\x7f\xff0123456789abcdef";
    for _ in 0..2000 {
        let len = (fastrand_next(&mut seed) % 120) as usize;
        let mut input = GET.to_vec();
        for _ in 0..len {
            let i = fastrand_next(&mut seed) as usize % alphabet.len();
            input.push(alphabet[i]);
        }
        let limits = FramingLimits {
            max_head_bytes: 80,
            max_headers: 4,
            ..LIMITS
        };
        let whole = run(vec![input.clone()], 4096, limits);
        let bytes: Vec<Vec<u8>> = input.iter().map(|b| vec![*b]).collect();
        assert_eq!(run(bytes, 7, limits), whole);
        assert!(whole.delivered.starts_with(GET));
    }
}

fn fastrand_next(s: &mut u64) -> u64 {
    // xorshift64*
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    s.wrapping_mul(0x2545_f491_4f6c_dd1d)
}
