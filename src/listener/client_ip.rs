//! Who the client is: the peer address versus the resolved client IP.
//!
//! Policies key on [`ClientIp`] only. It can be built from a trusted
//! resolution (this module) and nothing else, so a limit cannot key on the raw
//! peer address behind a load balancer by mistake.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;

use crate::net::cidr_table::CidrTable;

/// The TCP peer of a connection (or the source named by a trusted PROXY header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The client address every policy keys on, resolved through trusted proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(IpAddr);

impl ClientIp {
    pub fn addr(self) -> IpAddr {
        self.0
    }

    /// For tests and for sources that are the client by construction.
    pub fn from_trusted_source(ip: IpAddr) -> Self {
        Self(ip)
    }
}

impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The CIDRs whose forwarding headers and PROXY headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    pub table: CidrTable<()>,
}

impl TrustedProxies {
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.table.contains(ip)
    }
}

/// Resolves the client IP of a request that arrived from `peer`.
///
/// `X-Forwarded-For` (all its header lines, in order) is walked right to left
/// starting from `peer`, and only while the hop that supplied an entry is
/// trusted; the first untrusted address is the client. From an untrusted peer
/// the header is ignored. `X-Real-IP` and `Forwarded` are never believed.
pub fn resolve_client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> ClientIp {
    let _ = (peer, headers, trusted);
    todo!("H3")
}
