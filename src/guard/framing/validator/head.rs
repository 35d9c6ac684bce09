//! Request-head lexing for the framing validator: the request line and
//! header lines byte by byte, and the framing rules judged at the end of the head.

use super::lex::{Lx, TARGET, TCHAR, VALUE, is, lf_or, line_start_violation};
use super::{Chunk, FramingValidator, State, Step};
use crate::guard::framing::Violation;

/// Longest `Content-Length` accepted: 18 digits always fits in a u64, so no
/// overflow arithmetic is needed and no parser can disagree about the value.
const MAX_CL_DIGITS: usize = 18;

impl FramingValidator {
    pub(super) fn step_head(&mut self, input: &[u8]) -> Step {
        let State::Head(mut lx) = self.state else {
            return Step::Pass(0);
        };
        if !self.holding {
            self.start_head();
        }
        let start_len = self.head.len();
        let budget = self.limits.max_head_bytes.saturating_sub(start_len);
        let avail = &input[..input.len().min(budget)];
        // Bytes of `input` up to `flushed` are already appended to `head`;
        // the absolute head offset of input[i] is start_len + i.
        let mut flushed = 0;
        let mut i = 0;
        while i < avail.len() {
            let b = avail[i];
            match lx {
                Lx::LineStart => {
                    self.line_start = start_len + i;
                    if b == b'\r' {
                        lx = Lx::LineStartCr;
                    } else if !self.facts.request_line_done {
                        if is(b, TCHAR) {
                            lx = Lx::Method;
                        } else if b == b'\n' {
                            return self.reject(Violation::BareLf, false);
                        } else {
                            return self.reject(Violation::BadRequestLine, false);
                        }
                    } else if is(b, TCHAR) {
                        lx = Lx::Name;
                    } else {
                        return self.reject(line_start_violation(b), false);
                    }
                }
                Lx::LineStartCr => {
                    if b != b'\n' {
                        return self.reject(Violation::BareCr, false);
                    }
                    if !self.facts.request_line_done {
                        // An empty line before the request line is tolerated
                        // (RFC 9112 §2.2), as the HTTP parser does.
                        lx = Lx::LineStart;
                    } else {
                        self.head.extend_from_slice(&avail[flushed..=i]);
                        return self.end_of_head(i + 1);
                    }
                }
                Lx::Method => {
                    let run = avail[i..].iter().take_while(|&&c| is(c, TCHAR)).count();
                    i += run;
                    let Some(&b) = avail.get(i) else { break };
                    if b != b' ' {
                        return self.reject(lf_or(b, Violation::BadRequestLine), false);
                    }
                    // `line_start` is the method start; CONNECT changes framing.
                    self.head.extend_from_slice(&avail[flushed..i]);
                    flushed = i;
                    self.facts.connect = self
                        .head
                        .get(self.line_start..)
                        .is_some_and(|m| m == b"CONNECT");
                    lx = Lx::TargetStart;
                }
                Lx::TargetStart => {
                    if !is(b, TARGET) {
                        return self.reject(lf_or(b, Violation::BadRequestLine), false);
                    }
                    lx = Lx::Target;
                }
                Lx::Target => {
                    let run = avail[i..].iter().take_while(|&&c| is(c, TARGET)).count();
                    i += run;
                    let Some(&b) = avail.get(i) else { break };
                    if b != b' ' {
                        return self.reject(lf_or(b, Violation::BadRequestLine), false);
                    }
                    lx = Lx::Version(0);
                }
                Lx::Version(k) => {
                    const V: &[u8] = b"HTTP/1.";
                    let k = usize::from(k);
                    if k < V.len() {
                        if b != V[k] {
                            return self.reject(lf_or(b, Violation::BadRequestLine), false);
                        }
                        lx = Lx::Version(k as u8 + 1);
                    } else if k == V.len() {
                        match b {
                            b'0' => self.facts.http11 = false,
                            b'1' => self.facts.http11 = true,
                            _ => return self.reject(lf_or(b, Violation::BadRequestLine), false),
                        }
                        lx = Lx::Version(k as u8 + 1);
                    } else if b == b'\r' {
                        lx = Lx::LineCr;
                    } else {
                        return self.reject(lf_or(b, Violation::BadRequestLine), false);
                    }
                }
                Lx::Name => {
                    let run = avail[i..].iter().take_while(|&&c| is(c, TCHAR)).count();
                    i += run;
                    let Some(&b) = avail.get(i) else { break };
                    match b {
                        b':' => {
                            self.colon = start_len + i;
                            lx = Lx::Value;
                        }
                        b' ' | b'\t' => return self.reject(Violation::SpaceBeforeColon, false),
                        _ => return self.reject(lf_or(b, Violation::InvalidHeaderByte), false),
                    }
                }
                Lx::Value => {
                    let run = avail[i..].iter().take_while(|&&c| is(c, VALUE)).count();
                    i += run;
                    let Some(&b) = avail.get(i) else { break };
                    if b != b'\r' {
                        return self.reject(lf_or(b, Violation::InvalidHeaderByte), false);
                    }
                    lx = Lx::LineCr;
                }
                Lx::LineCr => {
                    if b != b'\n' {
                        return self.reject(Violation::BareCr, false);
                    }
                    self.head.extend_from_slice(&avail[flushed..=i]);
                    flushed = i + 1;
                    lx = Lx::LineStart;
                    if !self.facts.request_line_done {
                        self.facts.request_line_done = true;
                    } else {
                        if let Err(v) = self.header_line_done() {
                            return self.reject(v, false);
                        }
                        if self.facts.headers > self.limits.max_headers {
                            // The parser answers 431 itself.
                            return self.defer(i + 1);
                        }
                    }
                }
            }
            i += 1;
        }
        self.head.extend_from_slice(&avail[flushed..]);
        self.state = State::Head(lx);
        if avail.len() < input.len() {
            // Head larger than allowed. Not passed on: hyper's own byte limit
            // (max_buf_size) is approximate and could accept it unjudged.
            self.holding = false;
            self.head.clear();
            self.state = State::TooLarge;
            return Step::TooLarge;
        }
        Step::Hold(avail.len())
    }

    fn defer(&mut self, consumed: usize) -> Step {
        self.deferred = true;
        self.holding = false;
        self.state = State::Opaque;
        Step::Release(consumed)
    }

    /// Judges one complete header line, `head[line_start..]` ending in CRLF.
    fn header_line_done(&mut self) -> Result<(), Violation> {
        self.facts.headers += 1;
        let line = self.head.get(self.line_start..).unwrap_or_default();
        let colon = self.colon.saturating_sub(self.line_start);
        let (name, rest) = line.split_at(colon.min(line.len()));
        // Skip the colon, drop the CRLF, trim OWS.
        let value = rest
            .get(1..rest.len().saturating_sub(2))
            .unwrap_or_default();
        let value = value.trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            if self.facts.content_length.is_some() {
                return Err(Violation::DuplicateContentLength);
            }
            if value.is_empty()
                || value.len() > MAX_CL_DIGITS
                || !value.iter().all(u8::is_ascii_digit)
            {
                return Err(Violation::BadContentLength);
            }
            let n = value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            self.facts.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if self.facts.chunked || !value.eq_ignore_ascii_case(b"chunked") {
                return Err(Violation::BadTransferEncoding);
            }
            self.facts.chunked = true;
        } else if name.eq_ignore_ascii_case(b"host") {
            self.facts.hosts = self.facts.hosts.saturating_add(1);
            if self.facts.hosts > 1 {
                return Err(Violation::DuplicateHost);
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            self.facts.upgrade = true;
        }
        Ok(())
    }

    /// The head ended after `consumed` bytes of this step's input: apply the
    /// cross-header framing rules and pick the body state.
    fn end_of_head(&mut self, consumed: usize) -> Step {
        let f = self.facts;
        if f.chunked && f.content_length.is_some() {
            return self.reject(Violation::ClAndTe, false);
        }
        if f.chunked && !f.http11 {
            return self.reject(Violation::BadTransferEncoding, false);
        }
        if f.http11 && f.hosts == 0 {
            return self.reject(Violation::MissingHost, false);
        }
        self.holding = false;
        // After a refused upgrade the gateway closes the connection, so
        // treating the rest as opaque cannot smuggle a request past it.
        self.opaque_after_body = f.connect || f.upgrade;
        self.state = if f.chunked {
            State::Chunked {
                at: Chunk::Size(0),
                size: 0,
            }
        } else {
            match f.content_length {
                Some(n) if n > 0 => State::Body(n),
                _ => self.after_body(),
            }
        };
        Step::Release(consumed)
    }
}
