//! Map keys that are hashes already: SHA-256 fingerprints of keys, and the
//! keyed 128-bit ids of rate-limit windows. They are evenly spread, so they
//! hash to themselves; SipHash over them again was 1% of a ratelimits.limit
//! request's instructions (callgrind, issue 13).

use std::hash::{BuildHasherDefault, Hasher};

/// For a `HashMap` or `HashSet` keyed by a `u64` or `u128` hash.
pub type BuildPrehashed = BuildHasherDefault<Prehashed>;

#[derive(Debug, Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    fn write_u128(&mut self, hash: u128) {
        self.0 = (hash as u64) ^ ((hash >> 64) as u64);
    }

    /// Only the two above are used; any other bytes are folded in all the same.
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
}
