//! Assembled reports, kept per (team, report, period and how far it has got, data version, KPI
//! pack generation) in a
//! bounded LRU. The team's data version is bumped on every data load, custom KPI change and report
//! definition change, and every replica reads it from the database; the pack generation counts
//! this process's reloads of the KPI packs. So a stale entry is never served: its key no longer
//! matches. Entries of older versions are dropped as soon as a newer one is stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lodestar_core::period::{Comparison, PeriodKey, Progress};

use crate::report::Report;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub team_id: i32,
    pub report: String,
    pub period: PeriodKey,
    /// What it is compared with, and whether it is read to a date.
    pub comparison: Comparison,
    /// How far the period had got: an entry for day 3 of a week is not served on day 4.
    pub progress: Progress,
    pub data_version: i64,
    /// How many times this process reloaded its KPI packs.
    pub kpi_generation: u64,
}

impl CacheKey {
    /// Built from data and KPIs no older than `other`'s.
    fn not_older_than(&self, other: &CacheKey) -> bool {
        self.data_version >= other.data_version && self.kpi_generation >= other.kpi_generation
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
}

/// A least-recently-used map of at most `capacity` entries. Eviction scans the entries, which is
/// cheap next to the report assembly a miss costs.
pub struct ReportCache<V = Arc<Report>> {
    capacity: usize,
    inner: Mutex<Inner<V>>,
}

struct Inner<V> {
    entries: HashMap<CacheKey, (V, u64)>,
    clock: u64,
    hits: u64,
    misses: u64,
}

impl<V: Clone> ReportCache<V> {
    pub fn new(capacity: usize) -> Self {
        ReportCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                clock: 0,
                hits: 0,
                misses: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        // A panic while holding the lock cannot leave the map half-written: recover it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, key: &CacheKey) -> Option<V> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        match inner.entries.get_mut(key) {
            Some((value, used)) => {
                *used = now;
                let value = value.clone();
                inner.hits += 1;
                Some(value)
            }
            None => {
                inner.misses += 1;
                None
            }
        }
    }

    pub fn insert(&self, key: CacheKey, value: V) {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        inner
            .entries
            .retain(|k, _| k.team_id != key.team_id || k.not_older_than(&key));
        if !inner.entries.contains_key(&key) && inner.entries.len() >= self.capacity {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
            }
        }
        inner.entries.insert(key, (value, now));
    }

    /// Drops every entry of the team (its data or KPIs changed here).
    pub fn invalidate_team(&self, team_id: i32) {
        self.lock().entries.retain(|k, _| k.team_id != team_id);
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            hits: inner.hits,
            misses: inner.misses,
            entries: inner.entries.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(team_id: i32, period: &str, data_version: i64) -> CacheKey {
        CacheKey {
            team_id,
            report: "weekly".to_owned(),
            period: PeriodKey::parse(period).expect("a valid key"),
            comparison: Comparison::default(),
            progress: Progress::Complete,
            data_version,
            kpi_generation: 0,
        }
    }

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let cache: ReportCache<&str> = ReportCache::new(2);
        cache.insert(key(1, "2026-W44", 0), "w44");
        cache.insert(key(1, "2026-W45", 0), "w45");
        assert_eq!(cache.get(&key(1, "2026-W44", 0)), Some("w44"));
        cache.insert(key(1, "2026-W46", 0), "w46");
        assert_eq!(cache.get(&key(1, "2026-W45", 0)), None);
        assert_eq!(cache.get(&key(1, "2026-W44", 0)), Some("w44"));
        assert_eq!(cache.get(&key(1, "2026-W46", 0)), Some("w46"));
        assert_eq!(
            cache.stats(),
            CacheStats {
                hits: 3,
                misses: 1,
                entries: 2
            }
        );
    }

    #[test]
    fn a_new_data_version_retires_the_teams_older_entries_only() {
        let cache: ReportCache<&str> = ReportCache::new(10);
        cache.insert(key(1, "2026-W44", 0), "old");
        cache.insert(key(2, "2026-W44", 0), "other team");
        cache.insert(key(1, "2026-W45", 1), "new");
        assert_eq!(cache.get(&key(1, "2026-W44", 0)), None);
        assert_eq!(cache.get(&key(2, "2026-W44", 0)), Some("other team"));
        assert_eq!(cache.get(&key(1, "2026-W45", 1)), Some("new"));
        cache.invalidate_team(2);
        assert_eq!(cache.get(&key(2, "2026-W44", 0)), None);
        assert_eq!(cache.stats().entries, 1);
    }

    #[test]
    fn a_pack_reload_retires_entries_built_on_the_old_kpis() {
        let cache: ReportCache<&str> = ReportCache::new(10);
        cache.insert(key(1, "2026-W44", 3), "before the reload");
        let reloaded = CacheKey {
            kpi_generation: 1,
            ..key(1, "2026-W45", 3)
        };
        cache.insert(reloaded.clone(), "after");
        assert_eq!(cache.get(&key(1, "2026-W44", 3)), None);
        assert_eq!(cache.get(&reloaded), Some("after"));
    }
}
