//! Chunked-body framing for the framing validator: chunk-size lines,
//! extensions, data lengths and the trailer section, checked as they pass.

use super::lex::{HEX, Lx, TCHAR, VALUE, hex_val, is, lf_or, trailer_byte};
use super::{Chunk, FramingValidator, State, Step};
use crate::guard::framing::Violation;

/// Longest chunk size: 16 hex digits is the whole u64 range.
const MAX_CHUNK_DIGITS: u8 = 16;

impl FramingValidator {
    pub(super) fn step_chunked(&mut self, input: &[u8]) -> Step {
        let State::Chunked { mut at, mut size } = self.state else {
            return Step::Pass(0);
        };
        let mut i = 0;
        // Bytes before a violation still pass (as if they had arrived in a
        // read of their own), so the outcome never depends on read splits.
        macro_rules! fail {
            ($v:expr) => {{
                if i > 0 {
                    self.state = State::Chunked { at, size };
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
                Chunk::Trailers(lx) => match trailer_byte(lx, b) {
                    Ok(Some(next)) => at = Chunk::Trailers(next),
                    Ok(None) => {
                        self.state = self.after_body();
                        return Step::Pass(i + 1);
                    }
                    Err(v) => fail!(v),
                },
            }
            i += 1;
        }
        self.state = State::Chunked { at, size };
        Step::Pass(input.len())
    }
}
