//! `@ipMatch` and `@ipMatchFromFile`: the input (an address as text) lies in one of the
//! listed addresses or CIDR blocks, IPv4 or IPv6.

use super::{Captures, Operator, data_file_lines};
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::Path;

#[derive(Debug)]
pub struct IpMatch {
    networks: Vec<IpNet>,
}

impl IpMatch {
    pub fn from_param(param: &str) -> Result<Self, String> {
        let entries: Vec<&str> = param
            .split([',', ' '])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        Self::build(entries.iter().copied(), "@ipMatch")
    }

    pub fn from_files(param: &str, rules_dir: &Path) -> Result<Self, String> {
        let mut lines = Vec::new();
        for file in param.split_whitespace() {
            lines.extend(data_file_lines(file, rules_dir)?);
        }
        Self::build(lines.iter().map(String::as_str), "@ipMatchFromFile")
    }

    fn build<'a>(entries: impl Iterator<Item = &'a str>, operator: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for entry in entries {
            let network = match entry.parse::<IpNet>() {
                Ok(network) => network,
                Err(_) => entry.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!("{operator}: {entry:?} is not an IP address or CIDR block")
                })?,
            };
            networks.push(network);
        }
        if networks.is_empty() {
            return Err(format!("{operator}: no addresses"));
        }
        Ok(Self { networks })
    }
}

impl Operator for IpMatch {
    fn evaluate(
        &self,
        input: &[u8],
        _expanded: Option<&str>,
        _captures: Option<&mut Captures>,
    ) -> bool {
        let Some(address) = std::str::from_utf8(input)
            .ok()
            .and_then(|text| text.trim().parse::<IpAddr>().ok())
        else {
            return false;
        };
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_addresses_and_blocks() {
        let op = IpMatch::from_param("127.0.0.1,::1, 10.0.0.0/8").unwrap();
        assert!(op.evaluate(b"127.0.0.1", None, None));
        assert!(op.evaluate(b"::1", None, None));
        assert!(op.evaluate(b"10.2.3.4", None, None));
        assert!(!op.evaluate(b"192.168.0.1", None, None));
        assert!(!op.evaluate(b"not-an-ip", None, None));
        assert!(IpMatch::from_param("300.1.1.1").is_err());
        assert!(IpMatch::from_param("").is_err());
    }

    #[test]
    fn reads_address_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ips.txt"),
            "# office\n192.0.2.0/24\n2001:db8::/32\n",
        )
        .unwrap();
        let op = IpMatch::from_files("ips.txt", dir.path()).unwrap();
        assert!(op.evaluate(b"192.0.2.7", None, None));
        assert!(op.evaluate(b"2001:db8::5", None, None));
        assert!(!op.evaluate(b"198.51.100.1", None, None));
    }
}
