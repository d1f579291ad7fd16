//! Assembled reports, kept per (team, report, period and how far it has got, data version, KPI
//! pack generation) in a
//! bounded LRU. The team's data version is bumped on every data load, custom KPI change and report
//! definition change, and every replica reads it from the database; the pack generation counts
//! this process's reloads of the KPI packs. So a stale entry is never served: its key no longer
//! matches. Entries of older versions are dropped as soon as a newer one is stored.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use lodestar_core::period::{Comparison, PeriodKey, Progress};

use crate::report::Report;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub team_id: i32,
    /// The report's cache name, or the API request (`kpis?segment_by=…&keys=…&trend=…`).
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
    /// Computations in progress: concurrent identical requests wait for the first one.
    flights: Mutex<HashMap<CacheKey, Arc<OnceCell<V>>>>,
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
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// The entry of `key`, or what `make` computes, computed once however many ask at the same
    /// time (single flight). A failure is not kept: the next waiter computes again. A caller
    /// dropped mid-way (its client left) hands the computation to the next waiter.
    pub async fn get_or_try_insert_with<E, F, Fut>(&self, key: CacheKey, make: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        let flight = Arc::clone(
            self.flights
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(key.clone())
                .or_insert_with(|| Arc::new(OnceCell::new())),
        );
        let result = flight.get_or_try_init(make).await.cloned();
        if let Ok(value) = &result {
            self.insert(key.clone(), value.clone());
        }
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            flights.remove(&key);
        }
        result
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

    #[tokio::test]
    async fn identical_requests_at_the_same_time_compute_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cache: Arc<ReportCache<u64>> = Arc::new(ReportCache::new(10));
        let computed = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, computed) = (Arc::clone(&cache), Arc::clone(&computed));
                tokio::spawn(async move {
                    cache
                        .get_or_try_insert_with(key(1, "2026-W45", 3), || async {
                            computed.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            Ok::<u64, String>(42)
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.expect("joins"), Ok(42));
        }
        assert_eq!(computed.load(Ordering::SeqCst), 1);
        // A failure is not kept.
        let failed: Result<u64, String> = cache
            .get_or_try_insert_with(key(2, "2026-W45", 3), || async { Err("no".to_owned()) })
            .await;
        assert!(failed.is_err());
        let later = cache
            .get_or_try_insert_with(key(2, "2026-W45", 3), || async { Ok::<u64, String>(7) })
            .await;
        assert_eq!(later, Ok(7));
    }
}
