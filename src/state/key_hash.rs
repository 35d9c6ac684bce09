//! A `Hasher` that feeds HMAC-SHA256 (ring) keyed with the replicas' shared
//! secret, so every replica maps a client to the same key while nobody
//! without the secret can compute, or read back, a client's key.
//!
//! `finish` is the first 8 bytes of the tag: two clients collide with odds
//! of about n²/2⁶⁵ for n live keys (one in 37,000 at 1M keys).

use std::hash::Hasher;

use ring::hmac;

/// The shared secret's key for client-key hashing.
#[derive(Clone)]
pub struct SharedKeyHasher {
    key: hmac::Key,
}

impl std::fmt::Debug for SharedKeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedKeyHasher(..)")
    }
}

impl SharedKeyHasher {
    /// `purpose` separates derived keys (rate limits, bans, sessions) so one
    /// tag can never be replayed as another.
    pub fn new(secret: &[u8], purpose: &str) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derived = hmac::sign(&root, purpose.as_bytes());
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    pub fn hasher(&self) -> HmacHasher {
        HmacHasher(hmac::Context::with_key(&self.key))
    }
}

pub struct HmacHasher(hmac::Context);

impl Hasher for HmacHasher {
    fn finish(&self) -> u64 {
        let tag = self.0.clone().sign();
        let mut first = [0u8; 8];
        for (dst, src) in first.iter_mut().zip(tag.as_ref()) {
            *dst = *src;
        }
        u64::from_be_bytes(first)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn digest(h: &SharedKeyHasher, value: &str) -> u64 {
        let mut s = h.hasher();
        value.hash(&mut s);
        s.finish()
    }

    #[test]
    fn same_secret_same_key_other_secret_or_purpose_other_key() {
        let a = SharedKeyHasher::new(b"0123456789abcdef", "rate_limit");
        let b = SharedKeyHasher::new(b"0123456789abcdef", "rate_limit");
        let c = SharedKeyHasher::new(b"fedcba9876543210", "rate_limit");
        let d = SharedKeyHasher::new(b"0123456789abcdef", "sessions");
        assert_eq!(digest(&a, "192.0.2.1"), digest(&b, "192.0.2.1"));
        assert_ne!(digest(&a, "192.0.2.1"), digest(&a, "192.0.2.2"));
        assert_ne!(digest(&a, "192.0.2.1"), digest(&c, "192.0.2.1"));
        assert_ne!(digest(&a, "192.0.2.1"), digest(&d, "192.0.2.1"));
    }
}
