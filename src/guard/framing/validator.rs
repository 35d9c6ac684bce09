//! The synchronous framing state machine behind `FramingGuard`: it classifies
//! each run of raw request bytes as pass-through, held (part of a request head
//! not yet judged), released, or rejected. No I/O here, so it can be unit
//! tested and fuzzed directly.

use super::{FramingLimits, Violation};

/// The HTTP/2 prior-knowledge connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Longest `Content-Length` accepted: 18 digits always fits in a u64, so no
/// overflow arithmetic is needed and no parser can disagree about the value.
const MAX_CL_DIGITS: usize = 18;
/// Longest chunk size: 16 hex digits is the whole u64 range.
const MAX_CHUNK_DIGITS: u8 = 16;

// Byte classes, one table lookup per byte in the hot loops.
const TCHAR: u8 = 1; // RFC 9110 token character
const TARGET: u8 = 2; // visible ASCII: request-target bytes
const VALUE: u8 = 4; // field-value bytes: HTAB, SP, VCHAR, obs-text
const HEX: u8 = 8;

const fn build_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let mut f = 0u8;
        let tchar_punct = matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        );
        if c.is_ascii_alphanumeric() || tchar_punct {
            f |= TCHAR;
        }
        if c >= 0x21 && c <= 0x7e {
            f |= TARGET;
        }
        if c == b'\t' || (c >= 0x20 && c != 0x7f) {
            f |= VALUE;
        }
        if c.is_ascii_hexdigit() {
            f |= HEX;
        }
        t[b] = f;
        b += 1;
    }
    t
}

static CLASS: [u8; 256] = build_classes();

#[inline]
fn is(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

/// What the caller must do with the bytes a [`FramingValidator::step`] consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// This many bytes pass to the HTTP parser unchanged (bodies, chunk
    /// framing, opaque streams).
    Pass(usize),
    /// This many bytes became part of the request head being held back; the
    /// parser must not see them until the head is judged.
    Hold(usize),
    /// This many bytes completed the held head, or the head was deferred to
    /// the parser's own limits: everything in [`FramingValidator::held`] may
    /// now reach the parser.
    Release(usize),
    /// Ambiguous framing. Nothing from here on (and nothing still held) may
    /// reach the parser. `in_body` tells whether the parser is mid-body
    /// (chunked framing) rather than between requests.
    Reject { reason: Violation, in_body: bool },
}

/// Where a line-oriented section (request head or chunked trailers) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lx {
    /// At the start of a line.
    LineStart,
    /// CR at the start of a line: the section ends at the LF.
    LineStartCr,
    Method,
    /// First byte of the request-target.
    TargetStart,
    Target,
    /// Matching `HTTP/1.x`, this many bytes in.
    Version(u8),
    Name,
    Value,
    /// CR at the end of a request or header line.
    LineCr,
}

/// Per-request facts gathered while the head streams past.
#[derive(Debug, Default, Clone, Copy)]
struct HeadFacts {
    request_line_done: bool,
    http11: bool,
    connect: bool,
    upgrade: bool,
    headers: usize,
    content_length: Option<u64>,
    chunked: bool,
    hosts: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading chunk-size hex digits (this many so far).
    Size(u8),
    /// After `;`: this many chunk-ext-name bytes so far.
    ExtName(u8),
    /// After `=` of a chunk extension.
    ExtValue,
    /// CR ending the chunk-size line.
    SizeCr,
    Data,
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// Trailer section after the last chunk.
    Trailers(Lx),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Connection start while the bytes still match the h2 preface.
    Preface(u8),
    Head(Lx),
    /// Content-Length body: bytes left.
    Body(u64),
    /// Chunked body; `size` is the chunk size being read or the data left.
    Chunked {
        at: Chunk,
        size: u64,
        trailer_bytes: usize,
    },
    /// No more checks: h2, upgraded/CONNECT tunnels, or a deferred head.
    Opaque,
    Rejected(Violation),
}

/// Incremental strict HTTP/1.1 framing validator for one connection.
///
/// Feed it the connection's bytes in any split; the verdicts are the same as
/// for the bytes in one piece.
#[derive(Debug)]
pub struct FramingValidator {
    limits: FramingLimits,
    state: State,
    /// The request head being held (reused across requests: no per-request
    /// allocation once it has grown to the usual head size).
    head: Vec<u8>,
    /// True while `head` holds the head of a request not yet released.
    holding: bool,
    /// Start (in `head`) of the line being lexed, and of its colon.
    line_start: usize,
    colon: usize,
    facts: HeadFacts,
    /// After the current body: opaque (upgrade/CONNECT) rather than a new head.
    opaque_after_body: bool,
    deferred: bool,
}

impl FramingValidator {
    pub fn new(limits: FramingLimits) -> Self {
        Self {
            limits,
            state: State::Preface(0),
            head: Vec::new(),
            holding: false,
            line_start: 0,
            colon: 0,
            facts: HeadFacts::default(),
            opaque_after_body: false,
            deferred: false,
        }
    }

    /// The head bytes held back: the head in progress, or, right after a
    /// [`Step::Release`], the released head.
    pub fn held(&self) -> &[u8] {
        &self.head
    }

    /// Whether bytes of an unfinished head are being held back.
    pub fn is_holding(&self) -> bool {
        self.holding
    }

    /// The violation, once one was found.
    pub fn violation(&self) -> Option<Violation> {
        match self.state {
            State::Rejected(v) => Some(v),
            _ => None,
        }
    }

    /// True once validation stopped because a head exceeded the limits
    /// (the HTTP parser enforces them itself).
    pub fn is_deferred(&self) -> bool {
        self.deferred
    }

    /// True once the connection is no longer HTTP/1 framed (h2 preface,
    /// upgrade/CONNECT, or deferred).
    pub fn is_opaque(&self) -> bool {
        self.state == State::Opaque
    }

    /// Whole-buffer convenience for tests and fuzzing: runs [`Self::step`]
    /// until `bytes` is consumed or a violation is found.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Violation> {
        let mut pos = 0;
        while pos < bytes.len() {
            match self.step(&bytes[pos..]) {
                Step::Pass(n) | Step::Hold(n) | Step::Release(n) => pos += n,
                Step::Reject { reason, .. } => return Err(reason),
            }
        }
        Ok(())
    }

    /// Consumes a prefix of `input` (at least one byte unless rejecting or
    /// releasing a deferred head) and says what to do with it.
    pub fn step(&mut self, input: &[u8]) -> Step {
        if input.is_empty() {
            return Step::Pass(0);
        }
        match self.state {
            State::Opaque => Step::Pass(input.len()),
            State::Rejected(reason) => Step::Reject {
                reason,
                in_body: false,
            },
            State::Body(left) => {
                // Counted, never copied or scanned.
                let n = usize::try_from(left).map_or(input.len(), |l| l.min(input.len()));
                let left = left - n as u64;
                self.state = if left == 0 {
                    self.after_body()
                } else {
                    State::Body(left)
                };
                Step::Pass(n)
            }
            State::Chunked { .. } => self.step_chunked(input),
            State::Preface(matched) => self.step_preface(matched, input),
            State::Head(_) => self.step_head(input),
        }
    }

    fn reject(&mut self, reason: Violation, in_body: bool) -> Step {
        self.state = State::Rejected(reason);
        self.holding = false;
        self.head.clear();
        Step::Reject { reason, in_body }
    }

    fn after_body(&mut self) -> State {
        if self.opaque_after_body {
            State::Opaque
        } else {
            State::Head(Lx::LineStart)
        }
    }

    fn start_head(&mut self) {
        self.head.clear();
        self.holding = true;
        self.line_start = 0;
        self.facts = HeadFacts::default();
    }

    fn step_preface(&mut self, matched: u8, input: &[u8]) -> Step {
        if matched == 0 {
            self.start_head();
        }
        let done = usize::from(matched);
        let want = &PREFACE[done..];
        let n = want.len().min(input.len());
        let same = want
            .iter()
            .zip(&input[..n])
            .take_while(|(a, b)| a == b)
            .count();
        if same == want.len() {
            // Full preface: the h2 crate frames everything from here on.
            self.head.extend_from_slice(want);
            self.state = State::Opaque;
            self.holding = false;
            return Step::Release(same);
        }
        if same == n {
            self.head.extend_from_slice(&input[..n]);
            self.state = State::Preface((done + n) as u8);
            return Step::Hold(n);
        }
        // Not h2: re-lex what matched so far as an HTTP/1 head. The held bytes
        // are exactly PREFACE[..done + same].
        self.start_head();
        self.state = State::Head(Lx::LineStart);
        let replay = &PREFACE[..done];
        if !replay.is_empty() {
            match self.step_head(replay) {
                Step::Reject { reason, in_body } => return Step::Reject { reason, in_body },
                // A prefix of the preface is too short to end a head or to
                // exceed any sane limit, but handle it rather than assume.
                Step::Release(_) | Step::Pass(_) => {
                    self.holding = false;
                    self.state = State::Opaque;
                    self.deferred = true;
                    return Step::Release(0);
                }
                Step::Hold(_) => {}
            }
        }
        self.step_head(input)
    }

    fn step_head(&mut self, input: &[u8]) -> Step {
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
            // Head larger than allowed: the parser answers 431 itself.
            return self.defer(avail.len());
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
                trailer_bytes: 0,
            }
        } else {
            match f.content_length {
                Some(n) if n > 0 => State::Body(n),
                _ => self.after_body(),
            }
        };
        Step::Release(consumed)
    }

    fn step_chunked(&mut self, input: &[u8]) -> Step {
        let State::Chunked {
            mut at,
            mut size,
            mut trailer_bytes,
        } = self.state
        else {
            return Step::Pass(0);
        };
        let mut i = 0;
        // Bytes before a violation still pass (as if they had arrived in a
        // read of their own), so the outcome never depends on read splits.
        macro_rules! fail {
            ($v:expr) => {{
                if i > 0 {
                    self.state = State::Chunked {
                        at,
                        size,
                        trailer_bytes,
                    };
                    return Step::Pass(i);
                }
                return self.reject($v, true);
            }};
        }
        while i < input.len() {
            let b = input[i];
            match at {
                Chunk::Size(digits) => {
                    if is(b, HEX) {
                        if digits >= MAX_CHUNK_DIGITS {
                            fail!(Violation::BadChunk);
                        }
                        // 16 hex digits fit a u64 exactly; shifting is exact.
                        size = (size << 4) | u64::from(hex_val(b));
                        at = Chunk::Size(digits + 1);
                    } else if digits == 0 {
                        fail!(lf_or(b, Violation::BadChunk));
                    } else if b == b';' {
                        at = Chunk::ExtName(0);
                    } else if b == b'\r' {
                        at = Chunk::SizeCr;
                    } else {
                        fail!(lf_or(b, Violation::BadChunk));
                    }
                }
                Chunk::ExtName(len) => {
                    if is(b, TCHAR) {
                        at = Chunk::ExtName(len.saturating_add(1));
                    } else if len == 0 {
                        fail!(lf_or(b, Violation::BadChunk));
                    } else if b == b'=' {
                        at = Chunk::ExtValue;
                    } else if b == b';' {
                        at = Chunk::ExtName(0);
                    } else if b == b'\r' {
                        at = Chunk::SizeCr;
                    } else {
                        fail!(lf_or(b, Violation::BadChunk));
                    }
                }
                Chunk::ExtValue => {
                    // Token or quoted-string; only control bytes matter for
                    // framing, so any other byte is accepted.
                    let run = input[i..]
                        .iter()
                        .take_while(|&&c| is(c, VALUE) && c != b';')
                        .count();
                    i += run;
                    let Some(&b) = input.get(i) else { break };
                    match b {
                        b';' => at = Chunk::ExtName(0),
                        b'\r' => at = Chunk::SizeCr,
                        _ => fail!(lf_or(b, Violation::BadChunk)),
                    }
                }
                Chunk::SizeCr => {
                    if b != b'\n' {
                        fail!(Violation::BareCr);
                    }
                    at = if size == 0 {
                        Chunk::Trailers(Lx::LineStart)
                    } else {
                        Chunk::Data
                    };
                }
                Chunk::Data => {
                    // Chunk data is counted, not scanned.
                    let n =
                        usize::try_from(size).map_or(input.len() - i, |s| s.min(input.len() - i));
                    size -= n as u64;
                    i += n;
                    if size == 0 {
                        at = Chunk::DataCr;
                    }
                    continue;
                }
                Chunk::DataCr => {
                    if b != b'\r' {
                        fail!(lf_or(b, Violation::BadChunk));
                    }
                    at = Chunk::DataLf;
                }
                Chunk::DataLf => {
                    if b != b'\n' {
                        fail!(Violation::BareCr);
                    }
                    at = Chunk::Size(0);
                    size = 0;
                }
                Chunk::Trailers(lx) => {
                    if trailer_bytes >= self.limits.max_head_bytes {
                        // The parser bounds trailers itself.
                        self.deferred = true;
                        self.state = State::Opaque;
                        return Step::Pass(i);
                    }
                    match trailer_byte(lx, b) {
                        Ok(Some(next)) => {
                            trailer_bytes += 1;
                            at = Chunk::Trailers(next);
                        }
                        Ok(None) => {
                            self.state = self.after_body();
                            return Step::Pass(i + 1);
                        }
                        Err(v) => fail!(v),
                    }
                }
            }
            i += 1;
        }
        self.state = State::Chunked {
            at,
            size,
            trailer_bytes,
        };
        Step::Pass(input.len())
    }
}

/// Lexes one byte of a trailer section (header-line rules, nothing kept).
/// `Ok(None)` means the section ended with this byte.
fn trailer_byte(lx: Lx, b: u8) -> Result<Option<Lx>, Violation> {
    let next = match lx {
        Lx::LineStart if b == b'\r' => Lx::LineStartCr,
        Lx::LineStart if is(b, TCHAR) => Lx::Name,
        Lx::LineStart => return Err(line_start_violation(b)),
        Lx::LineStartCr if b == b'\n' => return Ok(None),
        Lx::LineStartCr => return Err(Violation::BareCr),
        Lx::Name if is(b, TCHAR) => Lx::Name,
        Lx::Name if b == b':' => Lx::Value,
        Lx::Name if b == b' ' || b == b'\t' => return Err(Violation::SpaceBeforeColon),
        Lx::Name => return Err(lf_or(b, Violation::InvalidHeaderByte)),
        Lx::Value if is(b, VALUE) => Lx::Value,
        Lx::Value if b == b'\r' => Lx::LineCr,
        Lx::Value => return Err(lf_or(b, Violation::InvalidHeaderByte)),
        Lx::LineCr if b == b'\n' => Lx::LineStart,
        Lx::LineCr => return Err(Violation::BareCr),
        // Request-line states never occur in trailers.
        _ => return Err(Violation::BadChunk),
    };
    Ok(Some(next))
}

/// The violation for an unexpected byte at the start of a header line.
fn line_start_violation(b: u8) -> Violation {
    match b {
        b' ' | b'\t' => Violation::ObsFold,
        b'\n' => Violation::BareLf,
        _ => Violation::InvalidHeaderByte,
    }
}

/// A stray LF is always reported as a bare LF, whatever else was expected.
fn lf_or(b: u8, other: Violation) -> Violation {
    if b == b'\n' { Violation::BareLf } else { other }
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}
