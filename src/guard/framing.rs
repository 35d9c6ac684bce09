//! Strict HTTP/1.1 request framing, checked on the raw byte stream.
//! Filled by H2.

/// Limits the framing guard enforces.
#[derive(Debug, Clone, Copy)]
pub struct FramingLimits {
    pub max_head_bytes: usize,
    pub max_headers: usize,
}
