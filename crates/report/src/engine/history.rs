//! Many periods of a few KPIs in one batch, each period read on its own (nothing compared with
//! the period before it): the history an anomaly compares a value with, for the whole team or
//! per segment, in one engine evaluation instead of one per period.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use lodestar_core::dimension::Dimension;
use lodestar_core::period::{Buckets, PeriodKey, Progress};
use lodestar_script::Budget;
use lodestar_store::measures::TOTAL;
use lodestar_store::teams::Team;

use super::plan::{Plan, Requested};
use super::{KpiEngine, Prefetch};
use crate::error::ReportError;
use crate::script_env::{Env, Which};

/// A period to read: its key, and the last day read when only its first days count.
pub type HistoryPoint = (PeriodKey, Option<NaiveDate>);

/// One period's values: `(segment, value)`, the segment empty for the whole team.
pub type PointValues = Vec<(String, Option<f64>)>;

/// One KPI's values over the periods asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub key: String,
    /// Per period, in the order asked. `None` when the KPI cannot be split by the segmentation
    /// asked for.
    pub points: Option<Vec<PointValues>>,
}

/// How many first days of `key` are read up to `to` (all of them: `None`), or so far when the
/// period is still in progress, as a request for that period alone reads it.
fn elapsed(key: PeriodKey, to: Option<NaiveDate>, progress: Progress) -> Option<i64> {
    match (to, progress) {
        (Some(to), _) => Some((to - key.first_day()).num_days() + 1),
        (None, Progress::InProgress { elapsed }) if elapsed < key.days() => Some(elapsed),
        _ => None,
    }
}

impl KpiEngine {
    /// `keys` in each of `points` (of one period kind, each distinct), for the whole team or, with
    /// `segment_by`, per segment: one batched read of every period and one evaluation. Each value
    /// equals what a request for that period alone with `compare=none` (read to its day) gives;
    /// a period's segments are those with rows in it or in the period before it, as there.
    pub async fn evaluate_history(
        &self,
        team: &Team,
        keys: &[String],
        points: &[HistoryPoint],
        segment_by: Option<&Dimension>,
    ) -> Result<Vec<History>, ReportError> {
        let tz = team.timezone.0;
        let now = self.now();
        let cut = |key: PeriodKey, to: Option<NaiveDate>| {
            (key, elapsed(key, to, Progress::of(key, now, tz)))
        };
        // The periods asked for and, split by segment, the period before each (whose rows list a
        // segment too), read over the same first days.
        let mut wanted: BTreeMap<PeriodKey, Option<i64>> = BTreeMap::new();
        for &(key, to) in points {
            let (k, days) = cut(key, to);
            wanted.insert(k, days);
        }
        if segment_by.is_some() {
            for &(key, to) in points {
                let days = cut(key, to).1;
                let before = key.previous();
                if before < key {
                    wanted.entry(before).or_insert(days);
                }
            }
        }
        let ordered: Vec<(PeriodKey, Option<i64>)> = wanted.into_iter().collect();
        let index = |key: PeriodKey| ordered.iter().position(|(k, _)| *k == key);
        let at: Vec<(usize, Option<usize>)> = points
            .iter()
            .filter_map(|(key, _)| Some((index(*key)?, index(key.previous()))))
            .collect();
        let buckets = Buckets::cut(&ordered, tz);
        let customs = self.custom_kpis(team).await?;
        let plan = Plan::standalone(&self.db, team, keys, buckets, segment_by, &customs).await?;
        let prefetch = Prefetch::load(&self.db, team.id, &plan).await?;
        let _turn = self
            .slot(team.id)
            .acquire_owned()
            .await
            .map_err(|e| ReportError::Internal(format!("evaluation slots closed: {e}")))?;
        // Each period gets the allowance a request of its own would have.
        let periods = u32::try_from(points.len().max(1)).unwrap_or(u32::MAX);
        let budget = Budget::new(
            self.limits.script_time.saturating_mul(periods),
            self.limits
                .script_operations
                .saturating_mul(u64::from(periods)),
        );
        let _cancel = budget.cancel_on_drop();
        let env = Env::new(
            Arc::clone(&self.scripts),
            customs,
            self.db.clone(),
            team.id,
            plan,
            prefetch,
        )
        .with_budget(budget);
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let _runtime = handle.enter();
            env.plan()
                .requested
                .iter()
                .map(|r| series(&env, r, &at))
                .collect()
        })
        .await
        .map_err(|e| ReportError::Internal(format!("KPI evaluation stopped: {e}")))
    }
}

/// `r` in a bucket and segment of a batch (`None` when it has no value there).
fn value(env: &Env, r: &Requested, which: Which, bucket: usize, seg: &str) -> Option<f64> {
    match r {
        Requested::Builtin(b) => env.builtin(*b, which, bucket, seg),
        Requested::Custom(k) => env.custom(k, which, bucket, seg),
    }
    .ok()
    .flatten()
}

/// One KPI at each `(bucket, bucket before it)` of `at`.
fn series(env: &Env, r: &Requested, at: &[(usize, Option<usize>)]) -> History {
    let key = match r {
        Requested::Builtin(b) => b.key().to_owned(),
        Requested::Custom(k) => k.clone(),
    };
    let points = match env.dimension() {
        None => Some(
            at.iter()
                .map(|&(b, _)| vec![(String::new(), value(env, r, Which::Totals, b, TOTAL))])
                .collect(),
        ),
        Some(dim) => {
            let unsupported = match r {
                Requested::Builtin(b) => b.unsupported_reason(dim),
                Requested::Custom(k) => env.customs().unsupported_reason(k, dim),
            };
            unsupported.is_none().then(|| {
                at.iter()
                    .map(|&(b, before)| {
                        env.segments_in(before.into_iter().chain([b]))
                            .into_iter()
                            .map(|s| {
                                let v = value(env, r, Which::Segments, b, &s);
                                (s, v)
                            })
                            .collect()
                    })
                    .collect()
            })
        }
    };
    History { key, points }
}
