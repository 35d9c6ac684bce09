//! Consistent hashing on a ring of virtual nodes.
//!
//! Each endpoint owns `160 × weight` points on a 64-bit ring (scaled down when
//! the ring would get too big); a key goes to the first point at or after its
//! hash, walking clockwise past endpoints that may not be picked. Points are
//! derived from the endpoint's address, not its index, so adding or removing
//! one endpoint moves only the keys it owns (about 1/n of them).

use std::net::{IpAddr, SocketAddr};

use super::effective_weight;
use std::sync::Arc;

use crate::upstream::endpoint::Endpoint;

/// Virtual nodes per unit of weight.
pub const VNODES_PER_WEIGHT: u64 = 160;
/// Ring size cap (16 bytes a point): bounds memory and build time.
pub const MAX_RING_POINTS: u64 = 65_536;

/// A fast, stable 64-bit hash (FNV-1a followed by a 64-bit avalanche mix, as
/// FNV alone spreads inputs that differ in their last bytes poorly). Stable
/// across processes and builds, unlike `RandomState`.
pub fn hash_key(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    // The finaliser of MurmurHash3 (fmix64).
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[derive(Debug)]
pub struct HashRing {
    /// (point, endpoint index), sorted.
    ring: Vec<(u64, u32)>,
}

impl HashRing {
    pub fn new(endpoints: &[Arc<Endpoint>]) -> Self {
        let wanted: Vec<u64> = endpoints
            .iter()
            .map(|e| effective_weight(e).saturating_mul(VNODES_PER_WEIGHT))
            .collect();
        let total = wanted.iter().fold(0u64, |a, &w| a.saturating_add(w));
        let mut ring = Vec::new();
        for (index, (endpoint, &want)) in endpoints.iter().zip(&wanted).enumerate() {
            let Ok(index) = u32::try_from(index) else {
                break;
            };
            let points = if total > MAX_RING_POINTS {
                // u128: `want × cap` can exceed u64 for huge weights.
                let scaled = u128::from(want) * u128::from(MAX_RING_POINTS) / u128::from(total);
                u64::try_from(scaled).unwrap_or(1).max(1)
            } else {
                want
            };
            ring.extend((0..points).map(|vnode| (vnode_point(endpoint.address, vnode), index)));
        }
        // Sorting by (point, index) keeps collisions deterministic.
        ring.sort_unstable();
        Self { ring }
    }

    /// Number of points on the ring.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The owner of `key`, or the next allowed endpoint clockwise. Walks at
    /// most the whole ring, which only happens when nothing is allowed.
    pub fn pick(&self, key: u64, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let len = self.ring.len();
        if len == 0 {
            return None;
        }
        let start = self.ring.partition_point(|&(point, _)| point < key);
        (0..len)
            .map(|step| self.ring[(start + step) % len].1 as usize)
            .find(|&i| ok(i))
    }
}

/// The ring position of virtual node `vnode` of the endpoint at `address`.
fn vnode_point(address: SocketAddr, vnode: u64) -> u64 {
    let mut buf = [0u8; 16 + 2 + 8];
    let ip = match address.ip() {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    };
    buf[..16].copy_from_slice(&ip.octets());
    buf[16..18].copy_from_slice(&address.port().to_be_bytes());
    buf[18..].copy_from_slice(&vnode.to_le_bytes());
    hash_key(&buf)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    fn key(n: u64) -> u64 {
        hash_key(format!("client-{n}").as_bytes())
    }

    #[test]
    fn same_key_same_endpoint() {
        let eps = endpoints(&[1, 1, 1, 1]);
        let ring = HashRing::new(&eps);
        let again = HashRing::new(&eps);
        for n in 0..1_000 {
            let first = ring.pick(key(n), |_| true);
            assert!(first.is_some());
            assert_eq!(ring.pick(key(n), |_| true), first);
            assert_eq!(again.pick(key(n), |_| true), first);
        }
    }

    #[test]
    fn removing_an_endpoint_moves_about_one_nth() {
        let eps = endpoints(&[1; 5]);
        let ring = HashRing::new(&eps);
        // The same backend without endpoint 2 (indices shift; compare addresses).
        let fewer: Vec<Arc<Endpoint>> = endpoints(&[1; 5])
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, e)| e)
            .collect();
        let smaller = HashRing::new(&fewer);
        let n = 10_000;
        let mut moved = 0;
        for k in 0..n {
            let before = eps[ring.pick(key(k), |_| true).unwrap()].address;
            let after = fewer[smaller.pick(key(k), |_| true).unwrap()].address;
            if before != after {
                // Only keys of the removed endpoint may move.
                assert_eq!(before, eps[2].address);
                moved += 1;
            }
        }
        let share = f64::from(moved) / f64::from(n as u32);
        assert!((share - 0.2).abs() < 0.05, "moved {share:.3}");
    }

    #[test]
    fn distribution_matches_weights() {
        let weights = [3, 1, 1];
        let eps = endpoints(&weights);
        let ring = HashRing::new(&eps);
        let mut n = 0;
        let counts = histogram(10_000, 3, || {
            n += 1;
            ring.pick(key(n), |_| true)
        });
        assert_matches_weights(&counts, &weights, 0.05);
    }

    #[test]
    fn walks_clockwise_past_rejected() {
        let eps = endpoints(&[1, 1, 1]);
        let ring = HashRing::new(&eps);
        for k in 0..1_000 {
            let owner = ring.pick(key(k), |_| true).unwrap();
            let next = ring.pick(key(k), |i| i != owner).unwrap();
            assert_ne!(next, owner);
            // Keys of healthy endpoints stay where they were.
            let other = (owner + 1) % 3;
            if let Some(p) = ring.pick(key(k), |i| i != other) {
                assert_eq!(p, owner);
            }
        }
        assert_eq!(ring.pick(0, |_| false), None);
        // A key past the last point wraps to the first.
        assert!(ring.pick(u64::MAX, |_| true).is_some());
    }

    #[test]
    fn ring_size_is_capped() {
        let ring = HashRing::new(&endpoints(&[u32::MAX, 1, 1000]));
        assert!(ring.len() as u64 <= MAX_RING_POINTS + 3);
        // Every endpoint keeps at least one point.
        for i in 0..3 {
            assert!(ring.ring.iter().any(|&(_, e)| e as usize == i));
        }
        assert!(HashRing::new(&[]).is_empty());
    }

    #[test]
    fn hash_is_stable() {
        // Pinned values: a change here would reshuffle every sticky client.
        // (Cross-checked against an independent FNV-1a + fmix64 computation.)
        assert_eq!(hash_key(b"portcullis"), 0x54a0_6efb_9888_1bff);
        assert_ne!(hash_key(b"a"), hash_key(b"b"));
    }
}
