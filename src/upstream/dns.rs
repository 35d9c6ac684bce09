//! DNS names as backend endpoints: `host:port` is resolved asynchronously,
//! re-resolved every `dns_refresh`, and each address of the answer becomes
//! an endpoint. A failed or empty answer keeps the last good addresses.
//!
//! Resolution uses the system resolver (`getaddrinfo` via tokio), so
//! `/etc/hosts`, `nsswitch` and the cluster's `resolv.conf` search paths
//! apply as they do for every other program in the pod.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use crate::upstream::backend::Backend;

/// A backend endpoint address as written in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointAddress {
    Ip(SocketAddr),
    Name { host: String, port: u16 },
}

impl EndpointAddress {
    /// `IP:port`, `[v6]:port` or `dns-name:port` (port 1..=65535).
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            if addr.port() == 0 {
                return Err(format!("{text:?}: port 0 is not allowed here"));
            }
            return Ok(Self::Ip(addr));
        }
        let invalid = || {
            format!(
                "invalid address {text:?}: must be IP:port or name:port, e.g. 10.0.0.5:8080 or api.internal:8080"
            )
        };
        let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
        let port: u16 = port.parse().map_err(|_| invalid())?;
        if port == 0 {
            return Err(format!("{text:?}: port 0 is not allowed here"));
        }
        if !is_dns_name(host) {
            return Err(invalid());
        }
        Ok(Self::Name {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// RFC 1123 host name: dot-separated labels of letters, digits and `-`
/// (not at either end), each 1-63 bytes, 253 in all; one trailing dot.
/// All-numeric names are refused (they are mistyped IP addresses).
pub fn is_dns_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let labels_ok = host.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    labels_ok && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Starts the resolver of `backend` when it has DNS names and a tokio
/// runtime is running. The task holds only a weak reference: it ends once
/// the backend is no longer part of any snapshot.
pub fn start(backend: &Arc<Backend>) {
    if !backend.has_names() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(backend = %backend.name, "no runtime: DNS endpoints are not resolved");
        return;
    };
    let weak = Arc::downgrade(backend);
    let every = backend.spec.dns_refresh;
    runtime.spawn(async move {
        loop {
            if !resolve_once(&weak).await {
                return;
            }
            tokio::time::sleep(every).await;
        }
    });
}

/// One pass over the backend's names; `false` once the backend is gone.
async fn resolve_once(weak: &Weak<Backend>) -> bool {
    let names: Vec<(usize, String, u16)> = match weak.upgrade() {
        Some(backend) => backend
            .addresses
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match a {
                EndpointAddress::Name { host, port } => Some((i, host.clone(), *port)),
                EndpointAddress::Ip(_) => None,
            })
            .collect(),
        None => return false,
    };
    for (index, host, port) in names {
        let answer = tokio::net::lookup_host((host.as_str(), port)).await;
        // Not held across the lookup: a dropped backend is not kept alive.
        let Some(backend) = weak.upgrade() else {
            return false;
        };
        match answer {
            Ok(addrs) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                if addrs.is_empty() {
                    tracing::warn!(backend = %backend.name, %host, "DNS answer is empty; keeping the last good addresses");
                } else if backend.set_resolved(index, addrs) {
                    tracing::info!(backend = %backend.name, %host, endpoints = backend.endpoints().endpoints.len(), "DNS endpoints changed");
                }
            }
            Err(e) => {
                tracing::warn!(backend = %backend.name, %host, error = %e, "DNS resolution failed; keeping the last good addresses");
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literals_and_names() {
        assert_eq!(
            EndpointAddress::parse("10.0.0.5:8080"),
            Ok(EndpointAddress::Ip("10.0.0.5:8080".parse().unwrap()))
        );
        assert_eq!(
            EndpointAddress::parse("[::1]:80"),
            Ok(EndpointAddress::Ip("[::1]:80".parse().unwrap()))
        );
        assert_eq!(
            EndpointAddress::parse("API.internal:8080"),
            Ok(EndpointAddress::Name {
                host: "api.internal".into(),
                port: 8080
            })
        );
        assert!(EndpointAddress::parse("svc.ns.svc.cluster.local.:80").is_ok());
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "api.internal",
            "api.internal:0",
            "api.internal:70000",
            "-api:80",
            "a..b:80",
            "10.0.0.300:80",
            "under_score:80",
            ":80",
            "10.0.0.5:0",
        ] {
            assert!(EndpointAddress::parse(bad).is_err(), "{bad}");
        }
        assert!(!is_dns_name(&"a".repeat(64)));
    }

    #[tokio::test]
    async fn names_resolve_and_failures_keep_the_last_answer() {
        let spec: crate::config::spec::BackendSpec = serde_json::from_value(serde_json::json!({
            "name": "b",
            "endpoints": [{"address": "localhost:8080"}, {"address": "192.0.2.9:80"}],
            "dns_refresh": "1h",
        }))
        .unwrap();
        let backend = Arc::new(Backend::build(&spec).unwrap());
        // Before the first answer only the literal serves.
        assert_eq!(backend.endpoints().endpoints.len(), 1);
        assert!(resolve_once(&Arc::downgrade(&backend)).await);
        let set = backend.endpoints();
        assert!(set.endpoints.len() >= 2, "{:?}", set.members());
        assert!(set.endpoints.iter().any(|e| e.address.ip().is_loopback()));
        // The same answer again changes nothing; a reload with the same
        // name starts from the last answer.
        let answer: Vec<SocketAddr> = set
            .endpoints
            .iter()
            .filter(|e| e.address.ip().is_loopback())
            .map(|e| e.address)
            .collect();
        assert!(!backend.set_resolved(0, answer));
        let rebuilt = Backend::build_from(&spec, Some(&backend)).unwrap();
        assert_eq!(rebuilt.endpoints().members(), set.members());
        assert!(Arc::ptr_eq(
            &rebuilt.endpoints().endpoints[0],
            &set.endpoints[0]
        ));
        // A dropped backend stops its resolver.
        let weak = Arc::downgrade(&backend);
        drop(set);
        drop(backend);
        assert!(!resolve_once(&weak).await);
    }
}
