//! Connection limits, checked right after accept (and after the PROXY
//! header, which names the real client) and before any HTTP byte is read.
//!
//! The counts live in [`ConnCounter`], owned by the listener's accept loop
//! so they survive reloads; the limits ([`ConnPolicy`]) come from the
//! current snapshot. The per-IP map holds only IPs with open connections,
//! so it is bounded by the open-connection count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::spec_conn_limit::ConnectionLimitsSpec;
use crate::net::cidr_table::{CidrTable, parse_cidr};

const SHARDS: usize = 16;

/// The compiled limits of one listener.
#[derive(Debug, Default)]
pub struct ConnPolicy {
    pub max: Option<u32>,
    pub per_client_ip: Option<u32>,
    /// `None` means exempt.
    overrides: CidrTable<Option<u32>>,
}

impl ConnPolicy {
    pub fn compile(spec: &ConnectionLimitsSpec) -> Result<Self, String> {
        let mut overrides = CidrTable::new();
        for (i, o) in spec.overrides.iter().enumerate() {
            let net = parse_cidr(&o.cidr).map_err(|e| format!("overrides[{i}].cidr: {e}"))?;
            overrides.insert(net, if o.exempt { None } else { o.per_client_ip });
        }
        Ok(Self {
            max: spec.max,
            per_client_ip: spec.per_client_ip,
            overrides,
        })
    }

    /// The per-IP limit for `ip`: an override, or the default; `None` is unlimited.
    fn limit_for(&self, ip: IpAddr) -> Option<u32> {
        match self.overrides.longest_match(ip) {
            Some(over) => *over,
            None => self.per_client_ip,
        }
    }
}

/// Open connections of one listener, across reloads.
#[derive(Debug)]
pub struct ConnCounter {
    open: AtomicU32,
    per_ip: Box<[Mutex<HashMap<IpAddr, u32>>]>,
    /// Connections closed at once for being over a limit.
    pub refused: AtomicU64,
}

impl Default for ConnCounter {
    fn default() -> Self {
        Self {
            open: AtomicU32::new(0),
            per_ip: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            refused: AtomicU64::new(0),
        }
    }
}

/// Holds one connection's place; released on drop.
#[derive(Debug)]
pub struct ConnPermit {
    counter: Arc<ConnCounter>,
    ip: Option<IpAddr>,
}

impl ConnCounter {
    /// Counts a new connection against the global limit (before the PROXY
    /// header, so a flood is refused without reading a byte).
    pub fn admit(self: &Arc<Self>, policy: &ConnPolicy) -> Option<ConnPermit> {
        let max = policy.max.unwrap_or(u32::MAX);
        let admitted = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(ConnPermit {
            counter: Arc::clone(self),
            ip: None,
        })
    }

    fn shard(&self, ip: IpAddr) -> &Mutex<HashMap<IpAddr, u32>> {
        let h = match ip.to_canonical() {
            IpAddr::V4(v4) => u32::from(v4) as usize,
            IpAddr::V6(v6) => (u128::from(v6) >> 64) as usize ^ (u128::from(v6) as usize),
        };
        // Reduce by a multiplicative hash: low address bits of neighbours
        // differ, high ones often do not.
        let index = (h.wrapping_mul(0x9E37_79B9) >> 8) % SHARDS;
        &self.per_ip[index]
    }

    pub fn open(&self) -> u32 {
        self.open.load(Ordering::Relaxed)
    }
}

impl ConnPermit {
    /// Counts the connection against its client IP's limit; `false` (and
    /// counted as refused) when over it.
    pub fn bind_ip(&mut self, ip: IpAddr, policy: &ConnPolicy) -> bool {
        let Some(limit) = policy.limit_for(ip) else {
            return true; // unlimited or exempt: not tracked per IP
        };
        let ip = ip.to_canonical();
        let mut map = self
            .counter
            .shard(ip)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let count = map.entry(ip).or_insert(0);
        if *count >= limit {
            if *count == 0 {
                map.remove(&ip);
            }
            self.counter.refused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        *count += 1;
        self.ip = Some(ip);
        true
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        self.counter.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.ip {
            let mut map = self
                .counter
                .shard(ip)
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(count) = map.get_mut(&ip) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    map.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec_conn_limit::ConnOverrideSpec;

    fn policy() -> ConnPolicy {
        ConnPolicy::compile(&ConnectionLimitsSpec {
            max: Some(5),
            per_client_ip: Some(2),
            overrides: vec![
                ConnOverrideSpec {
                    cidr: "10.0.0.0/8".into(),
                    per_client_ip: Some(3),
                    exempt: false,
                },
                ConnOverrideSpec {
                    cidr: "10.9.0.0/16".into(),
                    per_client_ip: None,
                    exempt: true,
                },
            ],
            ..Default::default()
        })
        .unwrap()
    }

    fn connect(c: &Arc<ConnCounter>, p: &ConnPolicy, ip: &str) -> Option<ConnPermit> {
        let mut permit = c.admit(p)?;
        permit.bind_ip(ip.parse().unwrap(), p).then_some(permit)
    }

    #[test]
    fn per_ip_global_and_overrides() {
        let (c, p) = (Arc::new(ConnCounter::default()), policy());
        let a1 = connect(&c, &p, "192.0.2.1").unwrap();
        let _a2 = connect(&c, &p, "192.0.2.1").unwrap();
        assert!(connect(&c, &p, "192.0.2.1").is_none());
        let _n: Vec<_> = (0..3)
            .map(|_| connect(&c, &p, "10.1.1.1").unwrap())
            .collect();
        assert_eq!(c.open(), 5);
        // Global limit: even an exempt address is refused.
        assert!(connect(&c, &p, "10.9.1.1").is_none());
        drop(a1);
        assert!(connect(&c, &p, "10.9.1.1").is_some());
        assert_eq!(c.refused.load(Ordering::Relaxed), 2);
        // Released permits free their per-IP slot and drop the entry.
        drop(_n);
        assert!(c.per_ip.iter().all(|s| {
            !s.lock()
                .unwrap()
                .contains_key(&"10.1.1.1".parse::<IpAddr>().unwrap())
        }));
    }
}
