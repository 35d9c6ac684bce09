//! W3C Trace Context (`traceparent`): a request keeps the trace it came
//! with, or starts one; the gateway is a span of its own, so the upstream
//! sees the same trace id with the gateway's span as parent.

use http::HeaderValue;

/// The trace facts of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: u128,
    /// The gateway's span (the parent id sent upstream).
    pub span_id: u64,
    /// The caller's span, when the request carried a valid `traceparent`.
    pub parent_id: Option<u64>,
    pub sampled: bool,
}

impl TraceContext {
    /// Continues the incoming trace when `header` is a valid version-00
    /// `traceparent`; starts a new (sampled) one otherwise.
    pub fn from_header(header: Option<&HeaderValue>) -> Self {
        let span_id = nonzero_u64();
        match header.and_then(|h| parse(h.as_bytes())) {
            Some((trace_id, parent, flags)) => Self {
                trace_id,
                span_id,
                parent_id: Some(parent),
                sampled: flags & 1 == 1,
            },
            None => Self {
                trace_id: (u128::from(nonzero_u64()) << 64) | u128::from(fastrand::u64(..)),
                span_id,
                parent_id: None,
                sampled: true,
            },
        }
    }

    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    pub fn span_id_hex(&self) -> String {
        format!("{:016x}", self.span_id)
    }

    /// The trace id as 32 lower-case hex digits, on the stack.
    pub fn trace_id_bytes(&self) -> [u8; 32] {
        hex(self.trace_id)
    }

    /// The span id as 16 lower-case hex digits, on the stack.
    pub fn span_id_bytes(&self) -> [u8; 16] {
        hex(u128::from(self.span_id))
    }

    /// The `traceparent` to send upstream (formatted on the stack: this runs
    /// for every proxied request).
    pub fn header(&self) -> HeaderValue {
        let mut text = *b"00-00000000000000000000000000000000-0000000000000000-00";
        text[3..35].copy_from_slice(&self.trace_id_bytes());
        text[36..52].copy_from_slice(&self.span_id_bytes());
        text[53..].copy_from_slice(&hex::<2>(u128::from(u8::from(self.sampled))));
        // Only hex digits and dashes: always a valid header value.
        HeaderValue::from_bytes(&text).unwrap_or(HeaderValue::from_static(
            "00-00000000000000000000000000000000-0000000000000000-00",
        ))
    }
}

/// The low `4 * N` bits of `value` as `N` lower-case hex digits.
fn hex<const N: usize>(value: u128) -> [u8; N] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; N];
    for (i, digit) in out.iter_mut().enumerate() {
        let shift = 4 * (N - 1 - i);
        *digit = DIGITS[((value >> shift) & 0xf) as usize];
    }
    out
}

fn nonzero_u64() -> u64 {
    fastrand::u64(1..)
}

/// `00-<32 hex>-<16 hex>-<2 hex>`, lower-case, ids not all zero.
fn parse(v: &[u8]) -> Option<(u128, u64, u8)> {
    if v.len() != 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' || &v[..2] != b"00" {
        return None;
    }
    let lower_hex = |s: &[u8]| {
        s.iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    };
    let (trace, parent, flags) = (&v[3..35], &v[36..52], &v[53..55]);
    if !lower_hex(trace) || !lower_hex(parent) || !lower_hex(flags) {
        return None;
    }
    let trace = u128::from_str_radix(std::str::from_utf8(trace).ok()?, 16).ok()?;
    let parent = u64::from_str_radix(std::str::from_utf8(parent).ok()?, 16).ok()?;
    let flags = u8::from_str_radix(std::str::from_utf8(flags).ok()?, 16).ok()?;
    (trace != 0 && parent != 0).then_some((trace, parent, flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagates_a_valid_traceparent() {
        let h = HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let t = TraceContext::from_header(Some(&h));
        assert_eq!(t.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.parent_id, Some(0x00f067aa0ba902b7));
        assert!(t.sampled);
        let sent = t.header();
        let sent = sent.to_str().unwrap();
        assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert_ne!(&sent[36..52], "00f067aa0ba902b7");
    }

    #[test]
    fn stack_hex_matches_formatted_hex() {
        for (trace_id, span_id, sampled) in [(1u128, 1u64, false), (u128::MAX, u64::MAX, true)] {
            let t = TraceContext {
                trace_id,
                span_id,
                parent_id: None,
                sampled,
            };
            assert_eq!(t.trace_id_bytes(), t.trace_id_hex().as_bytes());
            assert_eq!(t.span_id_bytes(), t.span_id_hex().as_bytes());
            let expected = format!(
                "00-{trace_id:032x}-{span_id:016x}-{:02x}",
                u8::from(sampled)
            );
            assert_eq!(t.header(), expected.as_str());
        }
    }

    #[test]
    fn starts_a_trace_for_invalid_or_missing_headers() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "garbage",
        ] {
            let t = TraceContext::from_header(Some(&HeaderValue::from_static(bad)));
            assert_eq!(t.parent_id, None, "{bad}");
            assert_ne!(t.trace_id, 0);
        }
        let t = TraceContext::from_header(None);
        assert_eq!(t.trace_id_hex().len(), 32);
        assert!(parse(t.header().as_bytes()).is_some());
    }
}
