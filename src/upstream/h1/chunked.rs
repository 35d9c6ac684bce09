//! A strict decoder for chunked response bodies (RFC 9112 §7.1). Malformed
//! framing is an error: an upstream that frames ambiguously gets no benefit
//! of the doubt.

/// What the decoder wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// `n` body bytes are next; pass them through, then call [`ChunkedDecoder::data_done`].
    Data(u64),
    /// More input is needed to make progress.
    NeedMore,
    /// The body (and its trailers) ended; `consumed` bytes of the input belong to it.
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// Longest chunk-size line (size, extensions, CRLF) accepted.
const MAX_LINE: usize = 4096;
/// Most trailer bytes accepted (they are discarded).
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    trailer_bytes: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self {
            state: State::Size,
            trailer_bytes: 0,
        }
    }
}

impl ChunkedDecoder {
    /// Consumes framing bytes from the front of `input`; returns how many
    /// were consumed and what comes next.
    pub fn step(&mut self, input: &[u8]) -> Result<(usize, Chunk), &'static str> {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            match self.state {
                State::Done => return Ok((used, Chunk::End)),
                State::Data(n) => return Ok((used, Chunk::Data(n))),
                State::Size => {
                    let Some(line_len) = find_crlf(rest, MAX_LINE)? else {
                        return Ok((used, Chunk::NeedMore));
                    };
                    let size = parse_size_line(&rest[..line_len])?;
                    used += line_len + 2;
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::DataEnd => {
                    if rest.len() < 2 {
                        return Ok((used, Chunk::NeedMore));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err("chunk data not followed by CRLF");
                    }
                    used += 2;
                    self.state = State::Size;
                }
                State::Trailers => {
                    let Some(line_len) = find_crlf(rest, MAX_TRAILERS)? else {
                        return Ok((used, Chunk::NeedMore));
                    };
                    self.trailer_bytes += line_len + 2;
                    if self.trailer_bytes > MAX_TRAILERS {
                        return Err("trailers too large");
                    }
                    let line = &rest[..line_len];
                    used += line_len + 2;
                    if line.is_empty() {
                        self.state = State::Done;
                    } else if !is_field_line(line) {
                        return Err("malformed trailer");
                    }
                }
            }
        }
    }

    /// Reports that `n` data bytes of the current chunk were passed on.
    pub fn data_done(&mut self, n: u64) {
        if let State::Data(left) = self.state {
            let left = left.saturating_sub(n);
            self.state = if left == 0 {
                State::DataEnd
            } else {
                State::Data(left)
            };
        }
    }
}

/// Position of the CRLF ending the first line; a bare CR or LF is an error.
fn find_crlf(input: &[u8], max: usize) -> Result<Option<usize>, &'static str> {
    for (i, &b) in input.iter().enumerate() {
        if i >= max {
            return Err("chunk line too long");
        }
        match b {
            b'\r' => {
                return match input.get(i + 1) {
                    Some(b'\n') => Ok(Some(i)),
                    Some(_) => Err("bare CR in chunk framing"),
                    None => Ok(None),
                };
            }
            b'\n' => return Err("bare LF in chunk framing"),
            _ => {}
        }
    }
    Ok(None)
}

/// `1*HEXDIG [ ";" ext ]`; at most 15 hex digits (no overflow).
fn parse_size_line(line: &[u8]) -> Result<u64, &'static str> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 15 {
        return Err("invalid chunk size");
    }
    let mut size = 0u64;
    for &b in &line[..digits] {
        let v = (b as char).to_digit(16).ok_or("invalid chunk size")?;
        size = (size << 4) | u64::from(v);
    }
    let ext = &line[digits..];
    let ext_ok = ext.is_empty()
        || (ext[0] == b';' && ext.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)));
    if !ext_ok {
        return Err("invalid chunk extension");
    }
    Ok(size)
}

fn is_field_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0
        && line[..colon]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && line[colon + 1..]
            .iter()
            .all(|&b| b == b'\t' || b >= 0x20 && b != 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a whole body fed in pieces of `split` bytes.
    fn decode(input: &[u8], split: usize) -> Result<Vec<u8>, &'static str> {
        let mut d = ChunkedDecoder::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        let mut fed = 0;
        loop {
            let (used, next) = d.step(&buf)?;
            buf.drain(..used);
            match next {
                Chunk::End => return Ok(out),
                Chunk::Data(n) if !buf.is_empty() => {
                    let take = (n as usize).min(buf.len());
                    out.extend(buf.drain(..take));
                    d.data_done(take as u64);
                }
                _ => {
                    if fed >= input.len() {
                        return Err("truncated");
                    }
                    let end = (fed + split).min(input.len());
                    buf.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
            }
        }
    }

    #[test]
    fn decodes_in_any_split() {
        let body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n";
        for split in 1..body.len() {
            assert_eq!(
                decode(body, split).unwrap(),
                b"hello world",
                "split {split}"
            );
        }
    }

    #[test]
    fn rejects_ambiguous_framing() {
        for bad in [
            &b"5\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"zz\r\n",
            b"ffffffffffffffff1\r\n",
            b"5 ;x\r\nhello\r\n0\r\n\r\n",
            b"0\r\nbad trailer\r\n\r\n",
            b"5\rhello",
        ] {
            assert!(
                decode(bad, 3).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
