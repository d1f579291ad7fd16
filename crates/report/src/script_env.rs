//! What a running KPI script sees: the prefetched numbers of one request, with built-in KPIs
//! computed from them, other custom KPIs evaluated on demand (memoised, cycles refused), and one
//! more batched query for anything that was not prefetched.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use lodestar_core::catalog::Builtin;
use lodestar_core::dimension::{Dimension, Table};
use lodestar_core::formula;
use lodestar_core::measure::{Measure, MeasureValues};
use lodestar_core::period::{Buckets, Compare, rfc3339};
use lodestar_script::{
    Budget, EvalStack, RunOutcome, ScriptContext, ScriptData, ScriptEngine, ScriptError,
};
use lodestar_store::Db;
use lodestar_store::measures::{self, KindTotals, MeasureQuery, Measured, TOTAL};

use crate::custom::CustomSet;
use crate::engine::{KindMap, Plan, Prefetch};

/// Which batch a value comes from: totals (the trend buckets), the window (a period in progress
/// and the same days of the two before it; the last three totals otherwise), or segments (the
/// window, split).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Which {
    Totals,
    Window,
    Segments,
}

/// A custom KPI's value (or why it has none) per (KPI, batch, bucket, segment), the KPI and the
/// segment by their index in [`Env`]: looking a value up allocates nothing.
type Memo = HashMap<(usize, Which, usize, usize), Result<Option<f64>, String>>;

/// Built-in KPIs by key: scripts name KPIs by key on every `metric()` call.
fn builtin_by_key(key: &str) -> Option<Builtin> {
    static KEYS: OnceLock<HashMap<&'static str, Builtin>> = OnceLock::new();
    KEYS.get_or_init(|| Builtin::ALL.iter().map(|b| (b.key(), *b)).collect())
        .get(key)
        .copied()
}

struct Batch {
    buckets: Buckets,
    measured: Option<Measured>,
    kinds: Mutex<KindMap>,
    /// Every measure, fetched the first time a script reads a KPI that was not prefetched.
    complete: Mutex<Option<Arc<Measured>>>,
}

pub struct Env {
    engine: Arc<ScriptEngine>,
    customs: CustomSet,
    db: Db,
    team_id: i32,
    plan: Plan,
    /// Per built-in (by `Builtin as usize`): are all its measures in the prefetched batches?
    prefetched: Vec<bool>,
    /// Index of each custom KPI, for the memo.
    custom_index: HashMap<String, usize>,
    /// Index of each known segment (the total included), for the memo.
    segment_index: HashMap<String, usize>,
    totals: Batch,
    /// `None`: the window is the last three totals.
    window: Option<Batch>,
    segments: Batch,
    kinds_loaded: Mutex<BTreeSet<String>>,
    memo: Mutex<Memo>,
    stack: EvalStack,
    /// The request's allowance for all its script runs.
    budget: Arc<Budget>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Env {
    /// The numbers `prefetch` read for `plan`, ready for the KPIs the plan asks for.
    pub fn new(
        engine: Arc<ScriptEngine>,
        customs: CustomSet,
        db: Db,
        team_id: i32,
        plan: Plan,
        prefetch: Prefetch,
    ) -> Env {
        let window = match (&plan.window, prefetch.window) {
            (Some(buckets), Some(f)) => Some(Batch {
                buckets: buckets.clone(),
                measured: Some(f.measured),
                kinds: Mutex::new(f.kinds),
                complete: Mutex::new(None),
            }),
            _ => None,
        };
        let (seg_measured, seg_kinds) = match prefetch.segments {
            Some(f) => (Some(f.measured), f.kinds),
            None => (None, KindMap::new()),
        };
        let prefetched = Builtin::ALL
            .iter()
            .map(|b| b.measures().iter().all(|m| plan.needed.contains(m)))
            .collect();
        let custom_index = customs
            .kpis
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        let mut segment_names: BTreeSet<&str> = BTreeSet::from([TOTAL]);
        if let Some(m) = &seg_measured {
            segment_names.extend(m.buckets.iter().flat_map(|b| b.keys().map(String::as_str)));
            segment_names.extend(m.declared.iter().map(String::as_str));
        }
        let segment_index = segment_names
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s.to_owned(), i))
            .collect();
        Env {
            engine,
            customs,
            db,
            team_id,
            prefetched,
            custom_index,
            segment_index,
            totals: Batch {
                buckets: plan.totals.clone(),
                measured: Some(prefetch.totals.measured),
                kinds: Mutex::new(prefetch.totals.kinds),
                complete: Mutex::new(None),
            },
            window,
            segments: Batch {
                buckets: plan.segments.clone(),
                measured: seg_measured,
                kinds: Mutex::new(seg_kinds),
                complete: Mutex::new(None),
            },
            kinds_loaded: Mutex::new(plan.kinds.iter().cloned().collect()),
            plan,
            memo: Mutex::new(HashMap::new()),
            stack: EvalStack::new(),
            budget: Budget::unlimited(),
        }
    }

    /// The same environment, its script runs charged to `budget`.
    pub fn with_budget(self, budget: Arc<Budget>) -> Env {
        Env { budget, ..self }
    }

    /// What the request asked for.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn customs(&self) -> &CustomSet {
        &self.customs
    }

    pub fn dimension(&self) -> Option<&Dimension> {
        self.plan.segment_by.as_ref()
    }

    fn batch(&self, which: Which) -> &Batch {
        match (which, &self.window) {
            (Which::Window, Some(w)) => w,
            (Which::Totals | Which::Window, _) => &self.totals,
            (Which::Segments, _) => &self.segments,
        }
    }

    /// Where a window bucket lives: its own batch for a period in progress, else among the last
    /// totals (so a value is computed, and memoised, once).
    pub fn resolve(&self, which: Which, bucket: usize) -> (Which, usize) {
        match (which, &self.window) {
            (Which::Window, None) => {
                let shared = self.plan.segments.len();
                (Which::Totals, self.totals.buckets.len() - shared + bucket)
            }
            other => (other.0, bucket),
        }
    }

    /// The segments of the current or previous period, sorted.
    pub fn segments(&self) -> Vec<String> {
        self.segments
            .measured
            .as_ref()
            .map(|m| m.segments([self.plan.segments.previous(), self.plan.segments.current()]))
            .unwrap_or_default()
    }

    /// The segments with rows in any of `buckets` of the segments batch (every segment of a
    /// segment set), sorted.
    pub fn segments_in(&self, buckets: impl IntoIterator<Item = usize>) -> Vec<String> {
        self.segments
            .measured
            .as_ref()
            .map(|m| m.segments(buckets))
            .unwrap_or_default()
    }

    fn dimension_of(&self, which: Which) -> Option<&Dimension> {
        match which {
            Which::Totals | Which::Window => None,
            Which::Segments => self.plan.segment_by.as_ref(),
        }
    }

    /// Runs `f` on the async runtime from this blocking thread (entered by the caller).
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        tokio::runtime::Handle::current().block_on(f)
    }

    fn measures_for(&self, b: Builtin, which: Which) -> Result<Arc<Measured>, String> {
        let batch = self.batch(which);
        let mut complete = lock(&batch.complete);
        if let Some(m) = complete.as_ref() {
            return Ok(Arc::clone(m));
        }
        tracing::debug!(kpi = b.key(), "fetching every measure for a script");
        let all: BTreeSet<Measure> = Measure::ALL.iter().copied().collect();
        let m = self
            .block_on(measures::compute(
                &self.db,
                &MeasureQuery {
                    team_id: self.team_id,
                    bounds: &batch.buckets,
                    dimension: self.dimension_of(which),
                    measures: &all,
                },
            ))
            .map_err(|e| e.to_string())?;
        let m = Arc::new(m);
        *complete = Some(Arc::clone(&m));
        Ok(m)
    }

    /// A built-in KPI in a bucket and segment.
    pub fn builtin(
        &self,
        b: Builtin,
        which: Which,
        bucket: usize,
        seg: &str,
    ) -> Result<Option<f64>, String> {
        let (which, bucket) = self.resolve(which, bucket);
        if let Some(dim) = self.dimension_of(which)
            && let Some(reason) = b.unsupported_reason(dim)
        {
            return Err(reason);
        }
        // Without a comparison, nothing compares a period with another (lead velocity is null),
        // except along the trend.
        let uncompared =
            self.plan.standalone || (self.plan.compare == Compare::None && which != Which::Totals);
        let compute = |m: &Measured| {
            let prev = match bucket {
                _ if uncompared => MeasureValues::default(),
                0 => MeasureValues::default(),
                _ => m.get(bucket - 1, seg),
            };
            formula::value(b, &m.get(bucket, seg), &prev)
        };
        let prefetched = self.prefetched.get(b as usize).copied().unwrap_or(false);
        match (&self.batch(which).measured, prefetched) {
            (Some(m), true) => Ok(compute(m)),
            _ => Ok(compute(self.measures_for(b, which)?.as_ref())),
        }
    }

    fn context(&self, which: Which, bucket: usize, seg: &str) -> ScriptContext {
        let buckets = &self.batch(which).buckets;
        let period = &buckets.periods[bucket];
        ScriptContext {
            period_key: period.key.to_string(),
            // The days read: a period in progress has only its days so far.
            period_days: buckets.covered_days(bucket),
            segment: (which == Which::Segments).then(|| seg.to_owned()),
            period_start: rfc3339(period.start),
            period_end: rfc3339(period.end),
            // Only the period asked for can be unfinished; the ones before it are over.
            period_complete: bucket != buckets.current() || self.plan.progress.is_complete(),
        }
    }

    /// The top-level run of a custom KPI, with its logs and positioned error.
    pub fn run_top(&self, key: &str, which: Which, bucket: usize, seg: &str) -> RunOutcome {
        let (which, bucket) = self.resolve(which, bucket);
        let Some(kpi) = self.customs.kpis.get(key) else {
            return RunOutcome {
                value: None,
                logs: Vec::new(),
                error: Some(ScriptError::new(format!("unknown KPI `{key}`"))),
            };
        };
        let _guard = match self.stack.enter(key) {
            Ok(g) => g,
            Err(cycle) => {
                return RunOutcome {
                    value: None,
                    logs: Vec::new(),
                    error: Some(ScriptError::new(cycle)),
                };
            }
        };
        let data = Run {
            env: self,
            which,
            bucket,
            seg,
        };
        let outcome = self.engine.run_within(
            &kpi.script,
            &self.context(which, bucket, seg),
            &data,
            &self.budget,
        );
        let result = match &outcome.error {
            None => Ok(outcome.value),
            Some(e) => Err(format!("{key}: {e}")),
        };
        if let Some(memo_key) = self.memo_key(key, which, bucket, seg) {
            lock(&self.memo).insert(memo_key, result);
        }
        outcome
    }

    /// `None` for a segment no batch returned (never memoised, computed each time).
    fn memo_key(
        &self,
        key: &str,
        which: Which,
        bucket: usize,
        seg: &str,
    ) -> Option<(usize, Which, usize, usize)> {
        let kpi = *self.custom_index.get(key)?;
        let seg = *self.segment_index.get(seg)?;
        Some((kpi, which, bucket, seg))
    }

    /// A custom KPI's value, memoised for the request.
    pub fn custom(
        &self,
        key: &str,
        which: Which,
        bucket: usize,
        seg: &str,
    ) -> Result<Option<f64>, String> {
        let (which, bucket) = self.resolve(which, bucket);
        if let Some(memo_key) = self.memo_key(key, which, bucket, seg)
            && let Some(v) = lock(&self.memo).get(&memo_key)
        {
            return v.clone();
        }
        let outcome = self.run_top(key, which, bucket, seg);
        match outcome.error {
            None => Ok(outcome.value),
            Some(e) => Err(format!("{key}: {e}")),
        }
    }

    fn value(
        &self,
        key: &str,
        which: Which,
        bucket: usize,
        seg: &str,
    ) -> Result<Option<f64>, String> {
        match builtin_by_key(key) {
            Some(b) => self.builtin(b, which, bucket, seg),
            None if self.custom_index.contains_key(key) => self.custom(key, which, bucket, seg),
            None => Err(format!("unknown KPI `{key}`")),
        }
    }

    fn kind(
        &self,
        kind: &str,
        which: Which,
        bucket: usize,
        seg: &str,
    ) -> Result<KindTotals, String> {
        let (which, bucket) = self.resolve(which, bucket);
        if let Some(dim) = self.dimension_of(which)
            && !dim.supported_by(Table::Events)
        {
            return Err(format!("events have no dimension {dim}"));
        }
        if !lock(&self.kinds_loaded).contains(kind) {
            // Not named literally in any script: one more batched query for every bucket and
            // segment of both batches, then it is known for the rest of the request.
            let kinds = [kind.to_owned()];
            for w in [Which::Totals, Which::Window, Which::Segments] {
                let batch = self.batch(w);
                let absent = match w {
                    Which::Totals => false,
                    Which::Window => self.window.is_none(),
                    Which::Segments => batch.measured.is_none(),
                };
                if absent {
                    continue;
                }
                let found = self
                    .block_on(measures::event_kinds(
                        &self.db,
                        self.team_id,
                        &batch.buckets,
                        self.dimension_of(w),
                        &kinds,
                    ))
                    .map_err(|e| e.to_string())?;
                lock(&batch.kinds).extend(found);
            }
            lock(&self.kinds_loaded).insert(kind.to_owned());
        }
        let seg = if which == Which::Segments { seg } else { TOTAL };
        Ok(lock(&self.batch(which).kinds)
            .get(&(bucket, seg.to_owned(), kind.to_owned()))
            .copied()
            .unwrap_or_default())
    }
}

/// One run's view: a bucket and a segment of one batch.
struct Run<'a> {
    env: &'a Env,
    which: Which,
    bucket: usize,
    seg: &'a str,
}

impl ScriptData for Run<'_> {
    fn metric(&self, key: &str) -> Result<Option<f64>, String> {
        self.env.value(key, self.which, self.bucket, self.seg)
    }

    fn previous(&self, key: &str) -> Result<Option<f64>, String> {
        let plan = &self.env.plan;
        let uncompared =
            plan.standalone || (plan.compare == Compare::None && self.which != Which::Totals);
        match self.bucket {
            _ if uncompared => Ok(None),
            0 => Ok(None),
            b => self.env.value(key, self.which, b - 1, self.seg),
        }
    }

    fn count_events(&self, kind: &str) -> Result<f64, String> {
        Ok(self
            .env
            .kind(kind, self.which, self.bucket, self.seg)?
            .count)
    }

    fn sum_events(&self, kind: &str) -> Result<f64, String> {
        Ok(self.env.kind(kind, self.which, self.bucket, self.seg)?.sum)
    }
}
