//! `ip_filter`: allow and deny CIDR lists on the resolved client IP.

use crate::config::spec::{FilterAction, IpFilterSpec};
use crate::listener::client_ip::ClientIp;

/// A compiled filter: one longest-prefix-match table for both lists.
#[derive(Debug)]
pub struct IpFilter {
    _p: (),
}

impl IpFilter {
    pub fn compile(spec: &IpFilterSpec) -> Result<Self, String> {
        let _ = spec;
        todo!("H3")
    }

    /// The most specific matching prefix decides; on a tie deny wins.
    pub fn check(&self, ip: ClientIp) -> FilterAction {
        let _ = ip;
        todo!("H3")
    }
}
