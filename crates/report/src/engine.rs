//! The KPI engine: one request in, a few grouped queries out, formulas and scripts in memory.
//!
//! Built-in KPIs are formulas over base measures. Custom KPIs are Rhai scripts; what they read
//! with literal keys is prefetched in the same batch, anything else costs one more batched query
//! the first time it is read (memoised for the request). Scripts run on a blocking thread, never
//! on the async workers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lodestar_core::CoreError;
use lodestar_core::catalog::{Builtin, Direction, Kind, Unit};
use lodestar_core::dimension::Dimension;
use lodestar_core::formula;
use lodestar_core::measure::Measure;
use lodestar_core::period::{Period, PeriodKey};
use lodestar_core::stage::Stage;
use lodestar_script::{PackSet, PackWatcher, ScriptEngine, ScriptError};
use lodestar_store::measures::{self, Bounds, MeasureQuery, TOTAL};
use lodestar_store::teams::Team;
use lodestar_store::{Db, custom_kpis, ingest::day_number};
use serde::Serialize;

use crate::custom::{CustomKpi, CustomSet, Origin};
use crate::error::ReportError;
use crate::number;
use crate::script_env::{Env, Which};

#[derive(Debug, Clone)]
pub struct KpiRequest {
    pub period: PeriodKey,
    pub segment_by: Option<Dimension>,
    /// `None`: the whole catalog (built-in and custom).
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
    /// `builtin` or `script`.
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
    /// A custom KPI whose script failed for the period: its value is null and this says why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ScriptError>,
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

/// The reply of a script run without saving it.
#[derive(Debug, Clone, Serialize)]
pub struct ScriptEval {
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<SegmentValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
    pub logs: Vec<String>,
    pub error: Option<ScriptError>,
}

/// The key under which an unsaved script runs.
const EVAL_KEY: &str = "(script)";

fn period_view(p: &Period, tz: &str) -> PeriodView {
    PeriodView {
        key: p.key.to_string(),
        start: p.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        end: p.end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        timezone: tz.to_owned(),
        days: p.key.days(),
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

#[derive(Debug, Clone)]
enum Requested {
    Builtin(Builtin),
    Custom(String),
}

/// Evaluates KPIs for teams. Cheap to clone: it holds the database pool, the one script engine
/// of the process and the KPI packs.
#[derive(Clone)]
pub struct KpiEngine {
    db: Db,
    scripts: Arc<ScriptEngine>,
    packs: Option<Arc<PackWatcher>>,
}

impl KpiEngine {
    pub fn new(db: Db, scripts: Arc<ScriptEngine>, packs: Option<Arc<PackWatcher>>) -> Self {
        KpiEngine { db, scripts, packs }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn scripts(&self) -> &Arc<ScriptEngine> {
        &self.scripts
    }

    /// The packs as loaded now (their trees and driver trees too); `None` without a packs folder.
    pub fn packs(&self) -> Option<Arc<PackSet>> {
        self.packs.as_ref().map(|p| p.current())
    }

    /// The KPIs of the packs, then the team's own (which win on a shared key).
    pub async fn custom_kpis(&self, team: &Team) -> Result<CustomSet, ReportError> {
        let mut set = CustomSet::default();
        if let Some(packs) = &self.packs {
            let current = packs.current();
            for pack in &current.packs {
                for k in &pack.kpis {
                    let origin = Origin::Pack {
                        pack: pack.name.clone(),
                    };
                    set.kpis.insert(
                        k.meta.key.clone(),
                        CustomKpi::from_meta(&k.meta, k.source.clone(), k.script.clone(), origin),
                    );
                }
            }
            set.problems = current.problems.clone();
        }
        for stored in custom_kpis::list(&self.db, team.id).await? {
            match CustomKpi::from_stored(&self.scripts, &stored) {
                Ok(kpi) => {
                    set.kpis.insert(kpi.key.clone(), kpi);
                }
                Err(e) => {
                    tracing::warn!(team = %team.slug, kpi = %stored.key, error = %e, "stored KPI does not compile")
                }
            }
        }
        Ok(set)
    }

    pub async fn evaluate(&self, team: &Team, req: &KpiRequest) -> Result<KpiResult, ReportError> {
        let customs = self.custom_kpis(team).await?;
        let (result, _) = self.compute(team, req, customs, None).await?;
        Ok(result)
    }

    /// Runs `source` as if it were a custom KPI, without saving it.
    pub async fn eval_script(
        &self,
        team: &Team,
        source: &str,
        period: PeriodKey,
        segment_by: Option<Dimension>,
    ) -> Result<ScriptEval, ReportError> {
        let script = match self.scripts.compile(source) {
            Ok(s) => s,
            Err(error) => {
                return Ok(ScriptEval {
                    value: None,
                    segments: None,
                    unsupported: None,
                    logs: Vec::new(),
                    error: Some(error),
                });
            }
        };
        let mut customs = self.custom_kpis(team).await?;
        customs.kpis.insert(
            EVAL_KEY.to_owned(),
            CustomKpi {
                key: EVAL_KEY.to_owned(),
                name: "Script".to_owned(),
                unit: Unit::Ratio,
                direction: Direction::HigherIsBetter,
                kind: Kind::Leading,
                category: String::new(),
                description: None,
                source: source.to_owned(),
                origin: Origin::Team { version: 0 },
                script,
            },
        );
        let req = KpiRequest {
            period,
            segment_by,
            keys: Some(vec![EVAL_KEY.to_owned()]),
            trend: 0,
        };
        let (result, logs) = self.compute(team, &req, customs, Some(EVAL_KEY)).await?;
        let kpi = result.kpis.into_iter().next();
        Ok(ScriptEval {
            value: kpi.as_ref().and_then(|k| k.value),
            segments: kpi.as_ref().and_then(|k| k.segments.clone()).flatten(),
            unsupported: kpi.as_ref().and_then(|k| k.unsupported.clone()),
            logs,
            error: kpi.and_then(|k| k.error),
        })
    }

    async fn compute(
        &self,
        team: &Team,
        req: &KpiRequest,
        customs: CustomSet,
        logs_of: Option<&str>,
    ) -> Result<(KpiResult, Vec<String>), ReportError> {
        // `set:<name>` arrives as a name: the team's definition decides what it splits.
        let resolved;
        let req = match &req.segment_by {
            Some(dim @ Dimension::Set(_)) => {
                resolved = KpiRequest {
                    segment_by: Some(crate::segments::resolve(&self.db, team, dim).await?),
                    ..req.clone()
                };
                &resolved
            }
            _ => req,
        };
        let requested: Vec<Requested> = match &req.keys {
            None => Builtin::ALL
                .iter()
                .map(|b| Requested::Builtin(*b))
                .chain(customs.kpis.keys().map(|k| Requested::Custom(k.clone())))
                .collect(),
            Some(keys) => keys
                .iter()
                .map(|k| match Builtin::from_key(k) {
                    Some(b) => Ok(Requested::Builtin(b)),
                    None if customs.kpis.contains_key(k) => Ok(Requested::Custom(k.clone())),
                    None => Err(CoreError::UnknownKpi(k.clone())),
                })
                .collect::<Result<_, _>>()?,
        };

        // What to prefetch: the measures of requested built-ins and of every built-in a requested
        // script names literally (through other scripts too), and the event kinds they count.
        let mut needed: BTreeSet<Measure> = BTreeSet::new();
        let mut kinds: BTreeSet<String> = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = Vec::new();
        for r in &requested {
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
        let kinds: Vec<String> = kinds.into_iter().collect();

        // Oldest first: one more than the trend shows, so every shown point has a previous period
        // (lead velocity compares with it), and at least [before previous, previous, current].
        let history = req.trend.max(2) + 1;
        let periods = req.period.trend(history);
        let (totals_bounds, resolved) = bounds(team, &periods);
        let cur = periods.len() - 1;
        let totals = measures::compute(
            &self.db,
            &MeasureQuery {
                team_id: team.id,
                bounds: &totals_bounds,
                dimension: None,
                measures: &needed,
            },
        )
        .await?;
        let totals_kinds =
            measures::event_kinds(&self.db, team.id, &totals_bounds, None, &kinds).await?;

        let seg_offset = periods.len() - 3;
        let (seg_bounds, _) = bounds(team, &periods[seg_offset..]);
        let segmented = match &req.segment_by {
            None => None,
            Some(dim) => {
                let m = measures::compute(
                    &self.db,
                    &MeasureQuery {
                        team_id: team.id,
                        bounds: &seg_bounds,
                        dimension: Some(dim),
                        measures: &needed,
                    },
                )
                .await?;
                let k = if dim.supported_by(lodestar_core::dimension::Table::Events) {
                    measures::event_kinds(&self.db, team.id, &seg_bounds, Some(dim), &kinds).await?
                } else {
                    Default::default()
                };
                Some((m, k))
            }
        };

        let tz = team.timezone.to_string();
        let env = Arc::new(Env::new(
            self.scripts.clone(),
            customs,
            self.db.clone(),
            team.id,
            req.segment_by.clone(),
            periods.clone(),
            seg_offset,
            needed,
            (totals_bounds, totals, totals_kinds),
            (seg_bounds, segmented),
            kinds,
        ));
        let trend_len = req.trend;
        let logs_of = logs_of.map(str::to_owned);
        let handle = tokio::runtime::Handle::current();
        let worker = Arc::clone(&env);
        let (kpis, logs) = tokio::task::spawn_blocking(move || {
            let _runtime = handle.enter();
            let logs = std::cell::RefCell::new(Vec::new());
            let kpis: Vec<KpiValue> = requested
                .iter()
                .map(|r| {
                    kpi_value(&worker, r, cur, history, trend_len, &periods, |key, l| {
                        if logs_of.as_deref() == Some(key) {
                            logs.borrow_mut().extend(l);
                        }
                    })
                })
                .collect();
            (kpis, logs.into_inner())
        })
        .await
        .map_err(|e| ReportError::Internal(format!("KPI evaluation stopped: {e}")))?;

        Ok((
            KpiResult {
                period: period_view(&resolved[cur], &tz),
                previous_period: period_view(&resolved[cur - 1], &tz),
                segment_by: req.segment_by.clone(),
                kpis,
            },
            logs,
        ))
    }
}

/// One KPI's value, previous value, change, trend and segments.
fn kpi_value(
    env: &Env,
    r: &Requested,
    cur: usize,
    history: usize,
    trend_len: usize,
    periods: &[PeriodKey],
    mut on_logs: impl FnMut(&str, Vec<String>),
) -> KpiValue {
    let (key, meta) = match r {
        Requested::Builtin(b) => (
            b.key().to_owned(),
            (
                b.name().to_owned(),
                b.unit(),
                b.direction(),
                b.kind(),
                b.branch().title().to_owned(),
                "builtin",
            ),
        ),
        Requested::Custom(k) => {
            let c = &env.customs().kpis[k];
            (
                k.clone(),
                (
                    c.name.clone(),
                    c.unit,
                    c.direction,
                    c.kind,
                    c.category.clone(),
                    "script",
                ),
            )
        }
    };
    let mut error = None;
    let value = match r {
        Requested::Builtin(b) => env.builtin(*b, Which::Totals, cur, TOTAL).ok().flatten(),
        Requested::Custom(k) => {
            let outcome = env.run_top(k, Which::Totals, cur, TOTAL);
            on_logs(k, outcome.logs);
            error = outcome.error.map(|e| e.with_kpi(k));
            outcome.value
        }
    };
    let at = |which: Which, bucket: usize, seg: &str| -> Option<f64> {
        match r {
            Requested::Builtin(b) => env.builtin(*b, which, bucket, seg).ok().flatten(),
            Requested::Custom(k) => env.custom(k, which, bucket, seg).ok().flatten(),
        }
    };
    let previous = at(Which::Totals, cur - 1, TOTAL);
    let trend = if trend_len == 0 {
        Vec::new()
    } else {
        (history - trend_len..history)
            .map(|b| TrendPoint {
                period: periods[b].to_string(),
                value: at(Which::Totals, b, TOTAL),
            })
            .collect()
    };
    let (segments, unsupported) = match env.dimension() {
        None => (None, None),
        Some(dim) => {
            let reason = match r {
                Requested::Builtin(b) => b.unsupported_reason(dim),
                Requested::Custom(k) => env.customs().unsupported_reason(k, dim),
            };
            match reason {
                Some(reason) => (Some(None), Some(reason)),
                None => {
                    let list = env
                        .segments()
                        .into_iter()
                        .map(|s| SegmentValue {
                            value: at(Which::Segments, 2, &s),
                            previous: at(Which::Segments, 1, &s),
                            segment: s,
                        })
                        .collect();
                    (Some(Some(list)), None)
                }
            }
        }
    };
    let (name, unit, direction, kind, category, source) = meta;
    KpiValue {
        key,
        name,
        unit,
        direction,
        kind,
        category,
        source,
        value,
        previous,
        change_pct: formula::change_pct(value, previous).map(number::round2),
        segments,
        unsupported,
        trend,
        error,
    }
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
