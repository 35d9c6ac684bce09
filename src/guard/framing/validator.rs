//! The synchronous framing state machine behind `FramingGuard`: it classifies
//! each run of raw request bytes as pass-through, held (part of a request head
//! not yet judged), released, or rejected. No I/O here, so it can be unit
//! tested and fuzzed directly.

mod chunked;
mod head;
mod lex;

use super::{FramingLimits, Violation};
use lex::Lx;

/// The HTTP/2 prior-knowledge connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the caller must do with the bytes a [`FramingValidator::step`] consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// This many bytes pass to the HTTP parser unchanged (bodies, chunk
    /// framing, opaque streams).
    Pass(usize),
    /// This many bytes became part of the request head being held back; the
    /// parser must not see them until the head is judged.
    Hold(usize),
    /// This many bytes completed the held head, or the head has more header
    /// lines than `max_headers` and is deferred to the parser, which enforces
    /// that limit exactly (431): everything in [`FramingValidator::held`] may
    /// now reach the parser.
    Release(usize),
    /// Ambiguous framing. Nothing from here on (and nothing still held) may
    /// reach the parser. `in_body` tells whether the parser is mid-body
    /// (chunked framing) rather than between requests.
    Reject { reason: Violation, in_body: bool },
    /// The request head exceeds `max_head_bytes`: like a rejection between
    /// requests, but answered 431, and not a framing violation.
    TooLarge,
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
    },
    /// No more checks: h2, upgraded/CONNECT tunnels, or a deferred head.
    Opaque,
    Rejected(Violation),
    /// Terminal: a head over `max_head_bytes`.
    TooLarge,
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

    /// True once validation stopped because a head had more than
    /// `max_headers` header lines (the HTTP parser enforces that itself).
    pub fn is_deferred(&self) -> bool {
        self.deferred
    }

    /// True once a head exceeded `max_head_bytes`.
    pub fn is_too_large(&self) -> bool {
        self.state == State::TooLarge
    }

    /// True once the connection is no longer HTTP/1 framed (h2 preface,
    /// upgrade/CONNECT, or a deferred head).
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
                Step::TooLarge => return Ok(()),
            }
        }
        Ok(())
    }

    /// Consumes a prefix of `input` and says what to do with it. Every step
    /// on non-empty input consumes at least one byte, except the terminal
    /// `Reject` and `TooLarge` (which consume none), so a caller's loop
    /// always ends.
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
            State::TooLarge => Step::TooLarge,
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
        // Not h2: re-lex the bytes held so far (exactly PREFACE[..done]) as
        // an HTTP/1 head, then go on with this input.
        self.start_head();
        self.state = State::Head(Lx::LineStart);
        let replay = &PREFACE[..done];
        if !replay.is_empty() {
            match self.step_head(replay) {
                Step::Hold(_) => {}
                // A rejection (e.g. `PRI * HTTP/2` is no HTTP/1 version) or a
                // tiny `max_head_bytes`: nothing consumed from `input`.
                other => return other,
            }
        }
        self.step_head(input)
    }
}
