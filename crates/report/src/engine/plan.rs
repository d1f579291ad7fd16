//! Step one of a KPI request: which KPIs, what they read (measures, event kinds) and the buckets
//! they read it in. No numbers yet; [`super::Prefetch`] reads them.

use std::collections::BTreeSet;

use lodestar_core::CoreError;
use lodestar_core::catalog::Builtin;
use lodestar_core::dimension::Dimension;
use lodestar_core::measure::Measure;
use lodestar_core::period::Buckets;
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

/// The segmented batch reads the period, its comparison and the one before that (lead velocity
/// compares a period with its previous one).
const SEGMENT_BUCKETS: usize = 3;

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
    pub totals: Buckets,
    /// The last [`SEGMENT_BUCKETS`] of `totals`, read once per segment.
    pub segments: Buckets,
    /// How many periods of history the reply shows (0: none).
    pub trend: usize,
}

impl Plan {
    pub async fn new(
        db: &Db,
        team: &Team,
        req: &KpiRequest,
        customs: &CustomSet,
    ) -> Result<Plan, ReportError> {
        // `set:<name>` arrives as a name: the team's definition decides what it splits.
        let segment_by = match &req.segment_by {
            Some(dim @ Dimension::Set(_)) => Some(crate::segments::resolve(db, team, dim).await?),
            other => other.clone(),
        };
        let requested = requested(req.keys.as_deref(), customs)?;
        let (needed, kinds) = reads(&requested, customs);
        let totals = Buckets::ending(req.period, req.trend.max(2) + 1, team.timezone.0)?;
        let segments = totals.last(SEGMENT_BUCKETS);
        Ok(Plan {
            requested,
            segment_by,
            needed,
            kinds,
            totals,
            segments,
            trend: req.trend,
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
