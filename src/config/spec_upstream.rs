//! Spec types for how the gateway talks to a backend's endpoints. Pure
//! data; the runtime lives in `src/upstream/`.

use serde::{Deserialize, Serialize};

/// The protocol spoken to a backend's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendProtocol {
    /// HTTP/1.1 (TLS with ALPN `http/1.1` when `tls` is set).
    #[default]
    Http1,
    /// HTTP/2: TLS with ALPN `h2` when `tls` is set, else cleartext h2c with
    /// prior knowledge. One multiplexed connection per endpoint.
    H2,
    /// gRPC: HTTP/2 as `h2`, with `te: trailers` kept and every answer the
    /// gateway writes itself given as a gRPC status.
    Grpc,
}

impl BackendProtocol {
    /// Whether the endpoints speak HTTP/2.
    pub fn is_h2(self) -> bool {
        matches!(self, BackendProtocol::H2 | BackendProtocol::Grpc)
    }

    /// For `skip_serializing_if`: the default is not written out.
    pub fn is_http1(&self) -> bool {
        *self == BackendProtocol::Http1
    }
}
