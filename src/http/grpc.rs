//! gRPC facts the gateway needs without speaking protobuf: whether a
//! request is gRPC, its `grpc-timeout`, and the gRPC status of an answer
//! the gateway writes itself (a gRPC client reads `grpc-status`, not the
//! HTTP status, and expects HTTP 200).

use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};

/// gRPC status codes the gateway uses (grpc/doc/statuscodes.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum GrpcCode {
    Unknown = 2,
    DeadlineExceeded = 4,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

impl GrpcCode {
    pub fn header(self) -> HeaderValue {
        HeaderValue::from(u16::from(self as u8))
    }
}

/// `content-type: application/grpc` or `application/grpc+proto` etc.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.as_bytes())
        .is_some_and(|v| {
            v.len() >= 16
                && v[..16].eq_ignore_ascii_case(b"application/grpc")
                && matches!(v.get(16), None | Some(b'+' | b';'))
        })
}

/// Whether `te` names `trailers` (the only `te` HTTP/2 allows, and one
/// gRPC requires end to end).
pub fn asks_trailers(headers: &HeaderMap) -> bool {
    headers.get_all(header::TE).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"trailers"))
    })
}

/// The client's deadline from `grpc-timeout` (`TimeoutValue TimeoutUnit`:
/// at most 8 digits, then one of `H M S m u n`).
pub fn timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.as_bytes();
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n.saturating_mul(3600)),
        b'M' => Duration::from_secs(n.saturating_mul(60)),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The gRPC status for an HTTP status the gateway answers with, after
/// gRPC's HTTP-to-gRPC mapping (doc/http-grpc-status-mapping.md), with a
/// timeout as DEADLINE_EXCEEDED and an oversized body as RESOURCE_EXHAUSTED.
pub fn code_for(status: http::StatusCode) -> GrpcCode {
    match status.as_u16() {
        400 | 414 | 431 => GrpcCode::Internal,
        401 | 302 => GrpcCode::Unauthenticated,
        403 => GrpcCode::PermissionDenied,
        404 => GrpcCode::Unimplemented,
        408 | 504 => GrpcCode::DeadlineExceeded,
        413 => GrpcCode::ResourceExhausted,
        429 | 502 | 503 => GrpcCode::Unavailable,
        _ => GrpcCode::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn recognises_grpc_content_types_only() {
        assert!(is_grpc(&with("content-type", "application/grpc")));
        assert!(is_grpc(&with("content-type", "application/grpc+proto")));
        assert!(is_grpc(&with("content-type", "Application/GRPC;charset=x")));
        assert!(!is_grpc(&with("content-type", "application/grpc-web")));
        assert!(!is_grpc(&with("content-type", "application/json")));
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn parses_grpc_timeouts() {
        assert_eq!(
            timeout(&with("grpc-timeout", "250m")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            timeout(&with("grpc-timeout", "2S")),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            timeout(&with("grpc-timeout", "1H")),
            Some(Duration::from_secs(3600))
        );
        for bad in ["", "m", "123456789m", "10x", "-1S", "1.5S"] {
            assert_eq!(timeout(&with("grpc-timeout", bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn maps_gateway_statuses() {
        assert_eq!(
            code_for(http::StatusCode::BAD_GATEWAY),
            GrpcCode::Unavailable
        );
        assert_eq!(
            code_for(http::StatusCode::SERVICE_UNAVAILABLE),
            GrpcCode::Unavailable
        );
        assert_eq!(
            code_for(http::StatusCode::GATEWAY_TIMEOUT),
            GrpcCode::DeadlineExceeded
        );
        assert_eq!(
            code_for(http::StatusCode::NOT_FOUND),
            GrpcCode::Unimplemented
        );
        assert_eq!(
            code_for(http::StatusCode::FORBIDDEN),
            GrpcCode::PermissionDenied
        );
        assert_eq!(code_for(http::StatusCode::IM_A_TEAPOT), GrpcCode::Unknown);
    }
}
