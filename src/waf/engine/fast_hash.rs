//! A multiply-rotate hasher (the Fx hash) for maps whose keys the client
//! cannot choose (addresses, rule indices): SipHash's DoS resistance buys
//! nothing there and costs most of a cache lookup.

use std::hash::{BuildHasherDefault, Hasher};

#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn equal_keys_hash_equal_and_neighbours_differ() {
        let b = FxBuild::default();
        assert_eq!(
            b.hash_one((1usize, 2usize, 3u32)),
            b.hash_one((1usize, 2usize, 3u32))
        );
        assert_ne!(
            b.hash_one((1usize, 2usize, 3u32)),
            b.hash_one((1usize, 2usize, 4u32))
        );
        assert_ne!(b.hash_one(&b"abcdefghi"[..]), b.hash_one(&b"abcdefghj"[..]));
    }
}
