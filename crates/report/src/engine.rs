//! The KPI engine: one request in, a few grouped queries out, formulas in memory.

use std::collections::{BTreeMap, BTreeSet};

use lodestar_core::CoreError;
use lodestar_core::catalog::{Builtin, Direction, Kind, Unit};
use lodestar_core::dimension::Dimension;
use lodestar_core::formula;
use lodestar_core::measure::{Measure, MeasureValues};
use lodestar_core::period::{Period, PeriodKey};
use lodestar_core::stage::Stage;
use lodestar_store::measures::{self, Bounds, MeasureQuery, Measured, TOTAL};
use lodestar_store::teams::Team;
use lodestar_store::{Db, ingest::day_number};
use serde::Serialize;

use crate::error::ReportError;
use crate::number;

#[derive(Debug, Clone)]
pub struct KpiRequest {
    pub period: PeriodKey,
    pub segment_by: Option<Dimension>,
    /// `None`: the whole catalog.
    pub keys: Option<Vec<String>>,
    /// How many periods of history to return per KPI, ending with `period` (0: none).
    pub trend: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct KpiResult {
    pub period: PeriodView,
    pub previous_period: PeriodView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_by: Option<Dimension>,
    pub kpis: Vec<KpiValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodView {
    pub key: String,
    pub start: String,
    pub end: String,
    pub timezone: String,
    pub days: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KpiValue {
    pub key: String,
    pub name: String,
    pub unit: Unit,
    pub direction: Direction,
    pub kind: Kind,
    pub category: String,
    pub source: &'static str,
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub previous: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub change_pct: Option<f64>,
    /// Present when segmented: `None` (JSON null) when the KPI cannot be split that way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Option<Vec<SegmentValue>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trend: Vec<TrendPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SegmentValue {
    pub segment: String,
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub previous: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub period: String,
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
}

fn period_view(p: &Period, tz: &str) -> PeriodView {
    PeriodView {
        key: p.key.to_string(),
        start: p.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        end: p.end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        timezone: tz.to_owned(),
        days: p.key.days(),
    }
}

/// The built-ins a request names, in catalog order; an unknown key is an error naming it.
pub fn resolve_keys(keys: Option<&[String]>) -> Result<Vec<Builtin>, CoreError> {
    match keys {
        None => Ok(Builtin::ALL.to_vec()),
        Some(keys) => keys
            .iter()
            .map(|k| Builtin::from_key(k).ok_or_else(|| CoreError::UnknownKpi(k.clone())))
            .collect(),
    }
}

/// Bucket boundaries for `periods` (consecutive, oldest first) in the team's timezone.
fn bounds(team: &Team, periods: &[PeriodKey]) -> (Bounds, Vec<Period>) {
    let tz = team.timezone.0;
    let resolved: Vec<Period> = periods.iter().map(|p| p.resolve(tz)).collect();
    let mut instants: Vec<i64> = resolved
        .iter()
        .map(|p| p.start.timestamp_millis())
        .collect();
    let mut days: Vec<i32> = periods.iter().map(|p| day_number(p.first_day())).collect();
    if let (Some(last), Some(last_key)) = (resolved.last(), periods.last()) {
        instants.push(last.end.timestamp_millis());
        days.push(day_number(last_key.end_day()));
    }
    (Bounds { instants, days }, resolved)
}

/// Evaluates the requested KPIs: totals with previous period and trend in one batch of queries,
/// and, when segmented, the segments of the current and previous period in a second batch.
pub async fn evaluate(db: &Db, team: &Team, req: &KpiRequest) -> Result<KpiResult, ReportError> {
    let kpis = resolve_keys(req.keys.as_deref())?;
    let needed: BTreeSet<Measure> = kpis.iter().flat_map(|k| k.measures()).collect();

    // Oldest first: one more than the trend shows, so every shown point has a previous period
    // (lead velocity compares with it), and at least [before previous, previous, current].
    let history = req.trend.max(2) + 1;
    let periods = req.period.trend(history);
    let (totals_bounds, resolved) = bounds(team, &periods);
    let cur = periods.len() - 1;

    let totals_query = MeasureQuery {
        team_id: team.id,
        bounds: &totals_bounds,
        dimension: None,
        measures: &needed,
    };
    let totals = measures::compute(db, &totals_query).await?;

    let segmented = match &req.segment_by {
        None => None,
        Some(dim) => {
            let (seg_bounds, _) = bounds(team, &periods[periods.len() - 3..]);
            let q = MeasureQuery {
                team_id: team.id,
                bounds: &seg_bounds,
                dimension: Some(dim),
                measures: &needed,
            };
            Some((dim, measures::compute(db, &q).await?))
        }
    };

    let at = |m: &Measured, bucket: usize, seg: &str| -> MeasureValues { m.get(bucket, seg) };
    let value_at = |kpi: Builtin, m: &Measured, bucket: usize, seg: &str| {
        let prev = if bucket == 0 {
            MeasureValues::default()
        } else {
            at(m, bucket - 1, seg)
        };
        formula::value(kpi, &at(m, bucket, seg), &prev)
    };

    let tz = team.timezone.to_string();
    let mut out = Vec::with_capacity(kpis.len());
    for kpi in kpis {
        let value = value_at(kpi, &totals, cur, TOTAL);
        let previous = value_at(kpi, &totals, cur - 1, TOTAL);
        let trend = (history - req.trend..history)
            .filter(|_| req.trend > 0)
            .map(|b| TrendPoint {
                period: periods[b].to_string(),
                value: value_at(kpi, &totals, b, TOTAL),
            })
            .collect();
        let (segments, unsupported) = match &segmented {
            None => (None, None),
            Some((dim, seg)) => match kpi.unsupported_reason(dim) {
                Some(reason) => (Some(None), Some(reason)),
                None => {
                    let list = seg
                        .segments([1, 2])
                        .into_iter()
                        .map(|s| SegmentValue {
                            value: value_at(kpi, seg, 2, &s),
                            previous: value_at(kpi, seg, 1, &s),
                            segment: s,
                        })
                        .collect();
                    (Some(Some(list)), None)
                }
            },
        };
        out.push(KpiValue {
            key: kpi.key().to_owned(),
            name: kpi.name().to_owned(),
            unit: kpi.unit(),
            direction: kpi.direction(),
            kind: kpi.kind(),
            category: kpi.branch().title().to_owned(),
            source: "builtin",
            value,
            previous,
            change_pct: formula::change_pct(value, previous).map(number::round2),
            segments,
            unsupported,
            trend,
        });
    }
    Ok(KpiResult {
        period: period_view(&resolved[cur], &tz),
        previous_period: period_view(&resolved[cur - 1], &tz),
        segment_by: req.segment_by.clone(),
        kpis: out,
    })
}

/// The stage distribution at the end of `period`.
pub async fn stages(
    db: &Db,
    team: &Team,
    period: &PeriodKey,
) -> Result<BTreeMap<&'static str, u64>, ReportError> {
    let end = period.resolve(team.timezone.0).end.timestamp_millis();
    let dist = lodestar_store::stages::distribution(db, team.id, end).await?;
    Ok(Stage::ALL
        .iter()
        .map(|s| (s.key(), dist.get(s).copied().unwrap_or(0)))
        .collect())
}
