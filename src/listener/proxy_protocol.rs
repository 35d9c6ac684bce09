//! PROXY protocol v1 and v2: the real source address from a load balancer.
//!
//! Runs first on an accepted connection, before any HTTP byte is read. The
//! header is looked at with `peek` and only its own bytes are consumed, so the
//! HTTP request that follows (often in the same segment) stays on the socket
//! for hyper.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ppp::{v1, v2};
use tokio::io::AsyncReadExt;
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

/// The v1 header starts with this (the space rules out a `PROXYFOO` method).
const V1_PREFIX: &[u8] = b"PROXY ";
/// The whole v1 line, CRLF included, fits in 107 bytes.
const V1_MAX_LEN: usize = 107;
/// The v2 signature, version/command, family/protocol and a u16 length.
const V2_FIXED_LEN: usize = 16;

/// While the first bytes are still ambiguous, `peek` returns at once with the
/// same bytes; back off between attempts instead of spinning.
const PEEK_BACKOFF: Duration = Duration::from_millis(2);

/// Reads a PROXY header, consuming exactly its bytes from `stream`.
///
/// Returns the source address it names (`None` when the mode is `off`, when an
/// `optional` listener got no header or an untrusted peer, or for a v2 `LOCAL`
/// command). Only peers inside `trusted` may send a header.
///
/// Also `None`: v1 `PROXY UNKNOWN`, and v2 `PROXY` with an unspecified or
/// UNIX address family (the connection's own peer is then the source).
///
/// `timeout` bounds the whole read. An `optional` listener waits for the
/// first bytes too (it cannot tell a header from HTTP before they arrive), so a
/// trusted peer that sends nothing gets `Timeout` in both modes. An `optional`
/// listener whose peer closes before sending a complete signature gets
/// `Ok(None)`: the HTTP layer sees the same bytes and the EOF.
pub async fn read_proxy_header(
    stream: &mut TcpStream,
    mode: ProxyProtocolMode,
    peer: SocketAddr,
    trusted: &TrustedProxies,
    timeout: Duration,
) -> Result<Option<SocketAddr>, ProxyProtocolError> {
    let required = match mode {
        ProxyProtocolMode::Off => return Ok(None),
        ProxyProtocolMode::Optional => false,
        ProxyProtocolMode::Required => true,
    };
    if !trusted.is_trusted(peer.ip()) {
        // Never read from an untrusted peer: in optional mode its bytes belong
        // to HTTP, and a header it sends is just a malformed request there.
        return if required {
            Err(ProxyProtocolError::UntrustedPeer(peer))
        } else {
            Ok(None)
        };
    }
    tokio::time::timeout(timeout, read_trusted(stream, required))
        .await
        .map_err(|_| ProxyProtocolError::Timeout)?
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    V1,
    V2,
    NotAHeader,
    Undecided,
}

/// Classifies the first bytes: a header is recognised only once its whole
/// signature (`PROXY ` or the 12-byte v2 magic) has arrived.
fn classify(bytes: &[u8]) -> Start {
    let matches = |sig: &[u8]| {
        let n = bytes.len().min(sig.len());
        bytes[..n] == sig[..n]
    };
    let v1 = matches(V1_PREFIX);
    let v2 = matches(v2::PROTOCOL_PREFIX);
    if v1 && bytes.len() >= V1_PREFIX.len() {
        Start::V1
    } else if v2 && bytes.len() >= v2::PROTOCOL_PREFIX.len() {
        Start::V2
    } else if v1 || v2 {
        Start::Undecided
    } else {
        Start::NotAHeader
    }
}

async fn read_trusted(
    stream: &mut TcpStream,
    required: bool,
) -> Result<Option<SocketAddr>, ProxyProtocolError> {
    let absent = || {
        if required {
            Err(ProxyProtocolError::Missing)
        } else {
            Ok(None)
        }
    };
    let mut buf = [0u8; 16];
    let mut seen = 0;
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            // EOF before a signature could be recognised.
            return absent();
        }
        match classify(&buf[..n]) {
            Start::V1 => return read_v1(stream).await,
            Start::V2 => return read_v2(stream).await,
            Start::NotAHeader => return absent(),
            Start::Undecided => {
                // `peek` returns immediately while unread bytes are queued;
                // only wait when nothing new arrived since the last look.
                if n == seen {
                    tokio::time::sleep(PEEK_BACKOFF).await;
                }
                seen = n;
            }
        }
    }
}

/// Reads a v1 line. Bytes before the first `\n` are all header bytes, so each
/// peeked chunk without one is consumed at once; the next `peek` then blocks
/// until new data arrives instead of returning the same bytes again.
async fn read_v1(stream: &mut TcpStream) -> Result<Option<SocketAddr>, ProxyProtocolError> {
    let mut line = [0u8; V1_MAX_LEN];
    let mut len = 0;
    loop {
        if len == V1_MAX_LEN {
            return Err(malformed("v1 header longer than 107 bytes"));
        }
        let n = stream.peek(&mut line[len..]).await?;
        if n == 0 {
            return Err(malformed("connection closed inside v1 header"));
        }
        let take = match line[len..len + n].iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => n,
        };
        // Re-reads the bytes just peeked into the same place.
        stream.read_exact(&mut line[len..len + take]).await?;
        len += take;
        if line[len - 1] == b'\n' {
            return parse_v1(&line[..len]);
        }
    }
}

fn parse_v1(line: &[u8]) -> Result<Option<SocketAddr>, ProxyProtocolError> {
    // Exactly one CR, right before the LF: ppp stops at the first CR, and a
    // stray one earlier would let trailing bytes go unchecked.
    let body = line
        .strip_suffix(b"\r\n")
        .ok_or_else(|| malformed("v1 header does not end in CRLF"))?;
    if body.contains(&b'\r') {
        return Err(malformed("stray CR in v1 header"));
    }
    let text = std::str::from_utf8(line).map_err(|_| malformed("v1 header is not ASCII"))?;
    let header = v1::Header::try_from(text).map_err(|e| malformed(&format!("v1: {e}")))?;
    Ok(match header.addresses {
        v1::Addresses::Tcp4(a) => {
            Some(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
        }
        v1::Addresses::Tcp6(a) => {
            Some(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
        }
        v1::Addresses::Unknown => None,
    })
}

/// Reads a v2 header: the fixed part says how many bytes follow, so both parts
/// are read with `read_exact` and nothing past the header is touched.
async fn read_v2(stream: &mut TcpStream) -> Result<Option<SocketAddr>, ProxyProtocolError> {
    let mut fixed = [0u8; V2_FIXED_LEN];
    stream
        .read_exact(&mut fixed)
        .await
        .map_err(eof_is_malformed)?;
    let rest = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    let mut header = Vec::with_capacity(V2_FIXED_LEN + rest);
    header.extend_from_slice(&fixed);
    header.resize(V2_FIXED_LEN + rest, 0);
    stream
        .read_exact(&mut header[V2_FIXED_LEN..])
        .await
        .map_err(eof_is_malformed)?;
    // ppp checks version, command, family, protocol and that the length holds
    // the addresses; TLVs are not needed and are skipped unparsed.
    let parsed =
        v2::Header::try_from(header.as_slice()).map_err(|e| malformed(&format!("v2: {e}")))?;
    if parsed.command == v2::Command::Local {
        return Ok(None);
    }
    Ok(match parsed.addresses {
        v2::Addresses::IPv4(a) => {
            Some(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
        }
        v2::Addresses::IPv6(a) => {
            Some(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
        }
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
    })
}

fn eof_is_malformed(e: std::io::Error) -> ProxyProtocolError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        malformed("connection closed inside v2 header")
    } else {
        ProxyProtocolError::Io(e)
    }
}

fn malformed(why: &str) -> ProxyProtocolError {
    ProxyProtocolError::Malformed(why.to_string())
}

#[cfg(test)]
#[path = "proxy_protocol_tests.rs"]
mod tests;
