//! The KPI engine: one request in, a few grouped queries out, formulas and scripts in memory.
//!
//! Built-in KPIs are formulas over base measures. Custom KPIs are Rhai scripts; what they read
//! with literal keys is prefetched in the same batch, anything else costs one more batched query
//! the first time it is read (memoised for the request). Scripts run on a blocking thread, never
//! on the async workers.
//!
//! A request goes through three steps: [`Plan`] (which KPIs, what they read, in which buckets),
//! [`Prefetch`] (the batched queries) and `evaluate` (formulas and scripts in memory).

mod evaluate;
mod history;
mod plan;
mod prefetch;

pub use history::{History, HistoryPoint};
pub use plan::{Plan, Requested};
pub use prefetch::{Fetched, KindMap, Prefetch};

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lodestar_core::catalog::{Direction, Kind, Unit};
use lodestar_core::clock::{Clock, system_clock};
use lodestar_core::dimension::Dimension;
use lodestar_core::formula;
use lodestar_core::goal::Pace;
pub use lodestar_core::period::PeriodView;
use lodestar_core::period::{Compare, Comparison, PeriodKey};
use lodestar_core::stage::Stage;
use lodestar_script::{Budget, PackSet, PackWatcher, ScriptEngine, ScriptError};
use lodestar_store::teams::Team;
use lodestar_store::{Db, custom_kpis};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::custom::{CustomKpi, CustomSet, Origin};
use crate::error::ReportError;
use crate::format;
use crate::meta::KpiMeta;
use crate::number;
use crate::script_env::Env;

#[derive(Debug, Clone)]
pub struct KpiRequest {
    pub period: PeriodKey,
    /// What it is compared with, and whether it is read to a date.
    pub comparison: Comparison,
    pub segment_by: Option<Dimension>,
    /// `None`: the whole catalog (built-in and custom).
    pub keys: Option<Vec<String>>,
    /// How many periods of history to return per KPI, ending with `period` (0: none).
    pub trend: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct KpiResult {
    pub period: PeriodView,
    /// The comparison actually used; null with `compare=none`.
    pub previous_period: Option<PeriodView>,
    /// `previous`, `year` or `none`.
    pub compare: Compare,
    /// The last day read, when the request read the period to a date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<chrono::NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_by: Option<Dimension>,
    pub kpis: Vec<KpiValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KpiValue {
    #[serde(flatten)]
    pub meta: KpiMeta,
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub previous: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub change_pct: Option<f64>,
    /// `value − previous`, in the KPI's unit.
    #[serde(serialize_with = "number::serialize_opt")]
    pub change: Option<f64>,
    /// The change as every view shows it: `+4.0 pp`, `-17.4 pts`, `+5.6%` (see
    /// [`format::change_display`]); null with `compare=none`.
    pub change_display: Option<String>,
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
    /// The goal of the whole team for this period kind, with its pace (see [`crate::goals`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<Pace>,
}

impl KpiValue {
    /// A value with its comparison, and no trend, segments or error yet.
    pub fn new(meta: KpiMeta, value: Option<f64>, previous: Option<f64>) -> KpiValue {
        KpiValue {
            change_display: Some(format::change_display(meta.unit, value, previous)),
            meta,
            value,
            previous,
            change_pct: formula::change_pct(value, previous).map(number::round2),
            change: value.zip(previous).map(|(v, p)| number::tidy(v - p)),
            segments: None,
            unsupported: None,
            trend: Vec::new(),
            error: None,
            goal: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SegmentValue {
    pub segment: String,
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub previous: Option<f64>,
    /// The segment's goal for this period kind, with its pace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<Pace>,
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

/// Evaluates KPIs for teams. Cheap to clone: it holds the database pool, the one script engine
/// of the process and the KPI packs.
#[derive(Clone)]
pub struct KpiEngine {
    db: Db,
    scripts: Arc<ScriptEngine>,
    packs: Option<Arc<PackWatcher>>,
    /// What "now" is: which period is in progress, and how far.
    clock: Clock,
    limits: RequestLimits,
    /// Per team, the evaluations that may run at once.
    slots: Arc<Mutex<HashMap<i32, Arc<Semaphore>>>>,
}

/// What one request's KPI evaluation may use, and how many of a team's run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Wall time of all of a request's script runs together.
    pub script_time: Duration,
    /// Operations of all of a request's script runs together (0: no limit).
    pub script_operations: u64,
    /// A team's evaluations at once; more wait their turn, so one team cannot hold every core.
    pub per_team: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            script_time: Duration::from_secs(3),
            script_operations: 50_000_000,
            per_team: std::thread::available_parallelism()
                .map(|n| (n.get() / 2).max(1))
                .unwrap_or(1),
        }
    }
}

impl KpiEngine {
    pub fn new(db: Db, scripts: Arc<ScriptEngine>, packs: Option<Arc<PackWatcher>>) -> Self {
        KpiEngine {
            db,
            scripts,
            packs,
            clock: system_clock(),
            limits: RequestLimits::default(),
            slots: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The same engine with other per-request limits.
    pub fn with_limits(self, limits: RequestLimits) -> Self {
        KpiEngine {
            limits: RequestLimits {
                per_team: limits.per_team.max(1),
                ..limits
            },
            ..self
        }
    }

    /// The semaphore of `team`'s evaluations.
    fn slot(&self, team: i32) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            slots
                .entry(team)
                .or_insert_with(|| Arc::new(Semaphore::new(self.limits.per_team))),
        )
    }

    /// The same engine with another idea of "now" (tests).
    pub fn with_clock(self, clock: Clock) -> Self {
        KpiEngine { clock, ..self }
    }

    /// Now, by this engine's clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
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
        asked: lodestar_core::period::Asked,
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
            period: asked.period,
            comparison: asked.comparison,
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
        let plan = Plan::new(&self.db, team, req, &customs, self.now()).await?;
        let prefetch = Prefetch::load(&self.db, team.id, &plan).await?;
        let window = plan.window();
        let view = |at: usize| window.view(at, team.timezone, plan.progress);
        let period = view(window.current());
        let previous_period = (plan.compare != Compare::None).then(|| view(window.previous()));
        let segment_by = plan.segment_by.clone();
        // One team's evaluations take turns; the budget starts with this one's turn.
        let _turn = self
            .slot(team.id)
            .acquire_owned()
            .await
            .map_err(|e| ReportError::Internal(format!("evaluation slots closed: {e}")))?;
        let budget = Budget::new(self.limits.script_time, self.limits.script_operations);
        // Dropped with this future when the client goes away: the runs stop within a moment.
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
        let (kpis, logs) = evaluate::evaluate(Arc::new(env), logs_of.map(str::to_owned)).await?;
        Ok((
            KpiResult {
                period,
                previous_period,
                compare: req.comparison.compare,
                to: req.comparison.to,
                segment_by,
                kpis,
            },
            logs,
        ))
    }
}

/// The stage distribution at the end of `period`.
pub async fn stages(
    db: &Db,
    team: &Team,
    period: &PeriodKey,
) -> Result<BTreeMap<&'static str, u64>, ReportError> {
    let end_day = lodestar_core::period::day_number(period.end_day());
    let dist = lodestar_store::stages::distribution(db, team.id, end_day).await?;
    Ok(Stage::ALL
        .iter()
        .map(|s| (s.key(), dist.get(s).copied().unwrap_or(0)))
        .collect())
}
