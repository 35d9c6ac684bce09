//! PROXY protocol v1 and v2: the real source address from a load balancer.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::config::spec::ProxyProtocolMode;
use crate::listener::client_ip::TrustedProxies;

#[derive(Debug, thiserror::Error)]
pub enum ProxyProtocolError {
    #[error("PROXY header required but peer {0} is not a trusted proxy")]
    UntrustedPeer(SocketAddr),
    #[error("PROXY header required but missing")]
    Missing,
    #[error("malformed PROXY header: {0}")]
    Malformed(String),
    #[error("timed out reading PROXY header")]
    Timeout,
    #[error("i/o error reading PROXY header: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads a PROXY header, consuming exactly its bytes from `stream`.
///
/// Returns the source address it names (`None` when the mode is `off`, when an
/// `optional` listener got no header or an untrusted peer, or for a v2 `LOCAL`
/// command). Only peers inside `trusted` may send a header.
pub async fn read_proxy_header(
    stream: &mut TcpStream,
    mode: ProxyProtocolMode,
    peer: SocketAddr,
    trusted: &TrustedProxies,
    timeout: Duration,
) -> Result<Option<SocketAddr>, ProxyProtocolError> {
    let _ = (stream, mode, peer, trusted, timeout);
    todo!("H3")
}
