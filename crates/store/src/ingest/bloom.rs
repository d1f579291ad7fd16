//! The loader's memory of the keys it wrote to a table that started empty.

use std::hash::{DefaultHasher, Hash, Hasher};

/// A Bloom filter of keys: "maybe written" or "certainly not". 8 MiB; at a million keys about
/// one key in 90,000 is a false "maybe", which costs one index probe that finds nothing (at
/// 2 MiB it was one in 500, and a million-row import spent some 300 extra queries on them).
pub(super) struct Written {
    bits: Vec<u64>,
}

impl Written {
    const BITS: u64 = 1 << 26;

    pub(super) fn new() -> Written {
        Written {
            bits: vec![0; (Self::BITS / 64) as usize],
        }
    }

    /// The hash [`Written::insert`] takes (computed where the key is prepared).
    pub(super) fn hash(key: &str) -> u64 {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        h.finish()
    }

    /// Adds a key by its [`Written::hash`]; true when it may have been added before.
    pub(super) fn insert(&mut self, h: u64) -> bool {
        let (a, b) = (h & 0xffff_ffff, (h >> 32) | 1);
        let mut seen = true;
        for i in 0..4u64 {
            let bit = a.wrapping_add(i.wrapping_mul(b)) % Self::BITS;
            let (word, mask) = ((bit / 64) as usize, 1u64 << (bit % 64));
            if let Some(w) = self.bits.get_mut(word) {
                seen &= *w & mask != 0;
                *w |= mask;
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::Written;

    #[test]
    fn a_written_key_is_always_seen_again_and_new_keys_rarely_are() {
        let mut w = Written::new();
        let false_maybes = (0..200_000)
            .filter(|i| w.insert(Written::hash(&format!("lead-{i}"))))
            .count();
        assert!(false_maybes < 200, "{false_maybes} false maybes");
        assert!(
            (0..200_000)
                .step_by(997)
                .all(|i| w.insert(Written::hash(&format!("lead-{i}"))))
        );
    }
}
