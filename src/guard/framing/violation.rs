//! Why a guarded connection was refused: stable reason codes, and a handle
//! that reports them after hyper has dropped the guard.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Why a connection was refused: a framing violation, or (`HeadTimeout`) a
/// request head that did not arrive in time. Codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Violation {
    BareLf = 1,
    BareCr,
    ClAndTe,
    BadTransferEncoding,
    DuplicateContentLength,
    BadContentLength,
    BadChunk,
    ObsFold,
    InvalidHeaderByte,
    SpaceBeforeColon,
    DuplicateHost,
    MissingHost,
    BadRequestLine,
    /// Not a framing violation: the request head was not complete within
    /// `head_timeout` (slowloris).
    HeadTimeout,
    /// More HTTP/2 SETTINGS/PING frames than allowed per second (GOAWAY
    /// ENHANCE_YOUR_CALM).
    H2ControlFlood,
}

impl Violation {
    pub(super) const ALL: [Violation; 15] = [
        Violation::BareLf,
        Violation::BareCr,
        Violation::ClAndTe,
        Violation::BadTransferEncoding,
        Violation::DuplicateContentLength,
        Violation::BadContentLength,
        Violation::BadChunk,
        Violation::ObsFold,
        Violation::InvalidHeaderByte,
        Violation::SpaceBeforeColon,
        Violation::DuplicateHost,
        Violation::MissingHost,
        Violation::BadRequestLine,
        Violation::HeadTimeout,
        Violation::H2ControlFlood,
    ];

    /// Stable reason code for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Violation::BareLf => "bare_lf",
            Violation::BareCr => "bare_cr",
            Violation::ClAndTe => "cl_and_te",
            Violation::BadTransferEncoding => "bad_transfer_encoding",
            Violation::DuplicateContentLength => "duplicate_content_length",
            Violation::BadContentLength => "bad_content_length",
            Violation::BadChunk => "bad_chunk",
            Violation::ObsFold => "obs_fold",
            Violation::InvalidHeaderByte => "invalid_header_byte",
            Violation::SpaceBeforeColon => "space_before_colon",
            Violation::DuplicateHost => "duplicate_host",
            Violation::MissingHost => "missing_host",
            Violation::BadRequestLine => "bad_request_line",
            Violation::HeadTimeout => "head_timeout",
            Violation::H2ControlFlood => "h2_control_flood",
        }
    }

    pub(super) fn from_code(code: u8) -> Option<Violation> {
        Violation::ALL.into_iter().find(|v| *v as u8 == code)
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cloneable view of a guard's verdict that outlives the guard (hyper owns
/// and drops the guard; the connection task keeps this to log the reason).
#[derive(Debug, Clone, Default)]
pub struct ViolationHandle(Arc<AtomicU8>);

impl ViolationHandle {
    pub fn get(&self) -> Option<Violation> {
        Violation::from_code(self.0.load(Ordering::Relaxed))
    }

    pub(crate) fn set(&self, v: Violation) {
        self.0.store(v as u8, Ordering::Relaxed);
    }
}
