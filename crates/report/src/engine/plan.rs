//! Step one of a KPI request: which KPIs, what they read (measures, event kinds) and the buckets
//! they read it in. No numbers yet; [`super::Prefetch`] reads them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use lodestar_core::CoreError;
use lodestar_core::catalog::Builtin;
use lodestar_core::dimension::Dimension;
use lodestar_core::measure::Measure;
use lodestar_core::period::{Buckets, Compare, Progress};
use lodestar_store::Db;
use lodestar_store::teams::Team;

use super::KpiRequest;
use crate::custom::CustomSet;
use crate::error::ReportError;

/// A KPI asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    Builtin(Builtin),
    Custom(String),
}

/// The segmented batch and the window of a period in progress read the period, its comparison
/// and the one before that (lead velocity compares a period with its previous one).
pub const SEGMENT_BUCKETS: usize = 3;

#[derive(Debug, Clone)]
pub struct Plan {
    pub requested: Vec<Requested>,
    /// The request's dimension, a segment set's definition filled in.
    pub segment_by: Option<Dimension>,
    /// The base measures of the requested built-ins and of every built-in a requested script
    /// names literally (through other scripts too).
    pub needed: BTreeSet<Measure>,
    /// The event kinds those scripts count or sum.
    pub kinds: Vec<String>,
    /// The totals' buckets, oldest first, ending with the period asked for: the trend, each of
    /// its points with its comparison period, and at least [before previous, previous, current].
    /// A period in progress ends with its days so far.
    pub totals: Buckets,
    /// The period asked for, its comparison and the comparison's own (lead velocity compares a
    /// period with its comparison): [before previous, previous, current], each cut to the same
    /// first days when the period is read to date or in progress. Read apart from the trend
    /// when they are not its last three. `None`: the last three of `totals`.
    pub window: Option<Buckets>,
    /// What the period is compared with (`None`: previous values are null).
    pub compare: Compare,
    /// How far the period asked for has got.
    pub progress: Progress,
    /// [before previous, previous, current] as the window reads them, once per segment.
    pub segments: Buckets,
    /// How many periods of history the reply shows (0: none).
    pub trend: usize,
    /// Every bucket stands alone: nothing is compared with the bucket before it, whatever the
    /// batch (the history an anomaly reads, see [`Plan::standalone`]).
    pub standalone: bool,
}

impl Plan {
    pub async fn new(
        db: &Db,
        team: &Team,
        req: &KpiRequest,
        customs: &CustomSet,
        now: DateTime<Utc>,
    ) -> Result<Plan, ReportError> {
        // `set:<name>` arrives as a name: the team's definition decides what it splits.
        let segment_by = match &req.segment_by {
            Some(dim @ Dimension::Set(_)) => Some(crate::segments::resolve(db, team, dim).await?),
            other => other.clone(),
        };
        let requested = requested(req.keys.as_deref(), customs)?;
        let (needed, kinds) = reads(&requested, customs);
        let tz = team.timezone.0;
        let count = req.trend.max(2) + 1;
        let progress = Progress::of(req.period, now, tz);
        // Cut at `to`, or while some days of the period are still to come.
        let elapsed = match (req.comparison.elapsed_to(req.period)?, progress) {
            (Some(to), _) => Some(to),
            (None, Progress::InProgress { elapsed }) if elapsed < req.period.days() => {
                Some(elapsed)
            }
            _ => None,
        };
        let totals = Buckets::ending_early(req.period, count, elapsed, tz)?;
        let compare = req.comparison.compare;
        let chain = compare.chain(req.period, SEGMENT_BUCKETS);
        if chain.len() < 2 {
            return Err(CoreError::PeriodTooEarly(req.period.to_string()).into());
        }
        let window = match (compare, elapsed) {
            // `none` reads its own window: nothing in it is compared (see `Env::builtin`).
            (Compare::Previous, None) => None,
            _ => Some(Buckets::compared(&chain, elapsed, tz)),
        };
        let segments = match &window {
            Some(w) => w.clone(),
            None => totals.last(SEGMENT_BUCKETS),
        };
        Ok(Plan {
            requested,
            segment_by,
            needed,
            kinds,
            totals,
            window,
            compare,
            progress,
            segments,
            trend: req.trend,
            standalone: false,
        })
    }

    /// A plan that reads `keys` in each of `buckets` on its own, for the whole team (the totals)
    /// and, with `segment_by`, per segment: many periods in one batch, none compared with another.
    pub async fn standalone(
        db: &Db,
        team: &Team,
        keys: &[String],
        buckets: Buckets,
        segment_by: Option<&Dimension>,
        customs: &CustomSet,
    ) -> Result<Plan, ReportError> {
        let segment_by = match segment_by {
            Some(dim @ Dimension::Set(_)) => Some(crate::segments::resolve(db, team, dim).await?),
            other => other.cloned(),
        };
        let requested = requested(Some(keys), customs)?;
        let (needed, kinds) = reads(&requested, customs);
        Ok(Plan {
            requested,
            segment_by,
            needed,
            kinds,
            totals: buckets.clone(),
            window: None,
            compare: Compare::None,
            progress: Progress::Complete,
            segments: buckets,
            trend: 0,
            standalone: true,
        })
    }
}

/// `None`: the whole catalog, built-ins in catalog order, then custom KPIs by key.
fn requested(keys: Option<&[String]>, customs: &CustomSet) -> Result<Vec<Requested>, CoreError> {
    match keys {
        None => Ok(Builtin::ALL
            .iter()
            .map(|b| Requested::Builtin(*b))
            .chain(customs.kpis.keys().map(|k| Requested::Custom(k.clone())))
            .collect()),
        Some(keys) => keys
            .iter()
            .map(|k| match Builtin::from_key(k) {
                Some(b) => Ok(Requested::Builtin(b)),
                None if customs.kpis.contains_key(k) => Ok(Requested::Custom(k.clone())),
                None => Err(CoreError::UnknownKpi(k.clone())),
            })
            .collect(),
    }
}

/// The measures and event kinds to prefetch for `requested`, following script dependencies.
fn reads(requested: &[Requested], customs: &CustomSet) -> (BTreeSet<Measure>, Vec<String>) {
    let mut needed: BTreeSet<Measure> = BTreeSet::new();
    let mut kinds: BTreeSet<String> = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<String> = Vec::new();
    for r in requested {
        match r {
            Requested::Builtin(b) => needed.extend(b.measures()),
            Requested::Custom(k) => stack.push(k.clone()),
        }
    }
    while let Some(key) = stack.pop() {
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(kpi) = customs.kpis.get(&key) else {
            continue;
        };
        let deps = kpi.script.dependencies();
        kinds.extend(deps.event_kinds.iter().cloned());
        for dep in deps.metrics.iter().chain(&deps.previous) {
            match Builtin::from_key(dep) {
                Some(b) => needed.extend(b.measures()),
                None => stack.push(dep.clone()),
            }
        }
    }
    (needed, kinds.into_iter().collect())
}

impl Plan {
    /// The window's buckets: a period in progress's own, else the last three of the trend.
    pub fn window(&self) -> &Buckets {
        self.window.as_ref().unwrap_or(&self.segments)
    }
}
