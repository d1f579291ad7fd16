//! Compiled scripts by the hash of their source: a bounded cache, least recently used out first.

use std::collections::HashMap;
use std::sync::Arc;

use super::{CACHE_CAPACITY, CompiledScript};

#[derive(Default)]
pub(super) struct Cache {
    entries: HashMap<[u8; 32], (Arc<CompiledScript>, u64)>,
    clock: u64,
}

impl Cache {
    pub(super) fn get(&mut self, hash: &[u8; 32]) -> Option<Arc<CompiledScript>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(hash).map(|(script, used)| {
            *used = clock;
            Arc::clone(script)
        })
    }

    pub(super) fn insert(
        &mut self,
        hash: [u8; 32],
        script: Arc<CompiledScript>,
    ) -> Arc<CompiledScript> {
        if let Some(existing) = self.get(&hash) {
            return existing;
        }
        if self.entries.len() >= CACHE_CAPACITY {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(hash, _)| *hash);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.clock += 1;
        self.entries.insert(hash, (Arc::clone(&script), self.clock));
        script
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}
