//! `X-Request-Id`: propagated when the client sent a sane one, else generated.

use http::{HeaderMap, HeaderValue};

const MAX_LEN: usize = 128;

/// The request id for this request: the client's when it is 1–128 visible
/// ASCII characters, otherwise a new random 128-bit hex id.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(value) = headers.get("x-request-id") {
        let bytes = value.as_bytes();
        if !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| b.is_ascii_graphic())
        {
            return value.clone();
        }
    }
    generate()
}

fn generate() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    for (i, slot) in out.iter_mut().enumerate() {
        let word = if i < 16 { a } else { b };
        let shift = (15 - (i % 16)) * 4;
        *slot = HEX[((word >> shift) & 0xf) as usize];
    }
    // 32 lower-case hex digits are always a valid header value.
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagates_sane_ids_and_replaces_others() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert("x-request-id", HeaderValue::from_static("has space"));
        assert_eq!(request_id(&h).len(), 32);
        let long = "a".repeat(200);
        h.insert("x-request-id", HeaderValue::from_str(&long).unwrap());
        assert_eq!(request_id(&h).len(), 32);
    }

    #[test]
    fn generated_ids_differ() {
        let h = HeaderMap::new();
        assert_ne!(request_id(&h), request_id(&h));
    }
}
