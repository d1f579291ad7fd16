//! `lodestar bench --scripts`: what custom KPI scripts cost, on team `bench`.
//!
//! - (a) one run of a typical 3-line KPI with its data prefetched: the production path
//!   (`ScriptEngine::run` with its sandbox and deadline, the cached AST, and the report layer's
//!   script environment over numbers the store already returned), timed run by run;
//! - (b) `KpiEngine::evaluate` of the whole catalog by channel (week, previous, 12-week trend)
//!   with no custom KPI, then with 20 custom KPIs stored for the team, in alternation so both
//!   see the same machine load; and the script part of (b) alone, on prefetched data.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use lodestar_core::catalog::Builtin;
use lodestar_core::dimension::Dimension;
use lodestar_core::period::{PeriodKey, PeriodKind};
use lodestar_report::custom::{CustomKpi, CustomSet, Env, Which};
use lodestar_report::engine::{Plan, Prefetch};
use lodestar_report::meta::Source;
use lodestar_report::{KpiEngine, KpiRequest, KpiResult};
use lodestar_script::ScriptEngine;
use lodestar_store::Db;
use lodestar_store::custom_kpis;
use lodestar_store::measures::TOTAL;
use lodestar_store::teams::Team;
use serde_json::json;

use super::{BenchArgs, GenSpec, Timing, bench_team, print_all};

mod kpis;
use kpis::{KPIS, stored_kpis};

/// The "typical 3-line KPI" of the target.
const TYPICAL: &str = "bx_win_rate";
/// A KPI that reads another custom KPI (memoised for the request after its first run).
const NESTED: &str = "bx_demo_to_win";
/// The trend the engine case (b) of `lodestar bench` asks for.
const TREND: usize = 12;

/// Min, median and 99th percentile of `samples`.
#[derive(Debug, Clone, Copy)]
struct Spread {
    min: f64,
    median: f64,
    p99: f64,
}

impl Spread {
    fn of(mut samples: Vec<f64>) -> Spread {
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Spread {
            min: samples[0],
            median: Timing::of(samples.clone()).median,
            p99: at(0.99),
        }
    }
}

pub(super) async fn run(kpis: &KpiEngine, backend: &str, args: &BenchArgs) -> anyhow::Result<()> {
    let db = kpis.db();
    let mut report = Vec::new();
    let mut json_lines = Vec::new();
    let team = bench_team(db, backend, args, &mut report, &mut json_lines).await?;
    let spec = GenSpec::bench().scaled(args.scale);
    let week = PeriodKey::last_complete(PeriodKind::Week, spec.as_of, team.timezone.0);
    // The application's one engine, as `lodestar serve` has: ASTs stay cached between requests.
    let scripts = Arc::clone(kpis.scripts());

    let mut customs = CustomSet::default();
    for stored in stored_kpis() {
        let kpi = CustomKpi::from_stored(&scripts, &stored)
            .map_err(|e| anyhow::anyhow!("bench KPI {}: {e}", stored.key))?;
        customs.kpis.insert(kpi.key.clone(), kpi);
    }
    let data = Prefetched::fetch(db, &team, week, &customs).await?;

    // (a) and the script part of (b), on a blocking thread as the engine runs scripts.
    let runs = args.script_runs as usize;
    let iterations = args.iterations as usize;
    let handle = tokio::runtime::Handle::current();
    let (env_customs, env_scripts, env_db, team_id) =
        (customs.clone(), Arc::clone(&scripts), db.clone(), team.id);
    let in_memory = tokio::task::spawn_blocking(move || {
        let _runtime = handle.enter();
        data.time_runs(
            &env_scripts,
            &env_customs,
            &env_db,
            team_id,
            runs,
            iterations,
        )
    })
    .await
    .context("the script runs panicked")??;

    report.push(format!(
        "(a) one script run, data prefetched ({} runs each, {} rounds; target: median < 20 µs)",
        runs, iterations
    ));
    report.push(format!(
        "    {:<46}{:>9}{:>12}{:>9}  {}",
        "case", "min µs", "median µs", "p99 µs", "rounds' medians µs"
    ));
    for case in &in_memory.cases {
        let rounds: Vec<String> = case
            .round_medians
            .iter()
            .map(|m| format!("{m:.2}"))
            .collect();
        report.push(format!(
            "    {:<46}{:>9.2}{:>12.2}{:>9.2}  {}",
            case.label,
            case.spread.min,
            case.spread.median,
            case.spread.p99,
            rounds.join(" ")
        ));
        json_lines.push(json!({
            "bench": "script_run", "backend": backend, "scale": args.scale, "case": case.id,
            "label": case.label, "runs": runs * iterations, "min_us": case.spread.min,
            "median_us": case.spread.median, "p99_us": case.spread.p99,
            "round_medians_us": case.round_medians, "target_median_us": 20.0,
            "ok": case.spread.median < 20.0,
        }));
    }
    let request = Timing::of(in_memory.request_ms.clone());
    report.push(format!(
        "    the 20 custom KPIs of one (b) request (value, previous, {TREND}-week trend, {} channels × 2), data prefetched: \
         min {:.2} / median {:.2} / max {:.2} ms ({} runs)",
        in_memory.segments, request.min, request.median, request.max, in_memory.request_ms.len()
    ));
    json_lines.push(json!({
        "bench": "script_request_in_memory", "backend": backend, "scale": args.scale,
        "custom_kpis": KPIS.len(), "segments": in_memory.segments,
        "runs_per_request": in_memory.runs_per_request,
        "min_ms": request.min, "median_ms": request.median, "max_ms": request.max,
    }));

    overhead(
        db,
        backend,
        args,
        &team,
        week,
        kpis,
        &mut report,
        &mut json_lines,
    )
    .await?;
    print_all(&report, &json_lines)
}

/// (b): the catalog by channel without and with the 20 KPIs stored for the team, alternating.
#[allow(clippy::too_many_arguments)]
async fn overhead(
    db: &Db,
    backend: &str,
    args: &BenchArgs,
    team: &Team,
    week: PeriodKey,
    engine: &KpiEngine,
    report: &mut Vec<String>,
    json_lines: &mut Vec<serde_json::Value>,
) -> anyhow::Result<()> {
    let req = KpiRequest {
        period: week,
        comparison: Default::default(),
        segment_by: Some(Dimension::Channel),
        keys: None,
        trend: TREND,
    };
    let kpis = stored_kpis();
    let remove = || async {
        for kpi in &kpis {
            custom_kpis::delete(db, team.id, &kpi.key).await?;
        }
        anyhow::Ok(())
    };
    let store = || async {
        for kpi in &kpis {
            custom_kpis::save(db, team.id, kpi).await?;
        }
        anyhow::Ok(())
    };
    // Left over by an interrupted run.
    remove().await?;

    let mut without = Vec::new();
    let mut with = Vec::new();
    // Round 0 warms caches (SQLite pages, the AST cache) and is not counted.
    for round in 0..=args.iterations {
        let t0 = Instant::now();
        let plain = engine.evaluate(team, &req).await?;
        let plain_ms = t0.elapsed().as_secs_f64() * 1000.0;
        check(&plain, 0)?;

        store().await?;
        let t0 = Instant::now();
        let scripted = engine.evaluate(team, &req).await;
        let scripted_ms = t0.elapsed().as_secs_f64() * 1000.0;
        remove().await?;
        check(&scripted?, KPIS.len())?;
        if round > 0 {
            without.push(plain_ms);
            with.push(scripted_ms);
        }
    }
    let pair_overheads: Vec<f64> = with
        .iter()
        .zip(&without)
        .map(|(w, o)| (w / o - 1.0) * 100.0)
        .collect();
    let (plain, scripted) = (Timing::of(without.clone()), Timing::of(with.clone()));
    let overhead_pct = (scripted.median / plain.median - 1.0) * 100.0;
    let pair_pct = Timing::of(pair_overheads.clone()).median;
    report.push(format!(
        "(b) KpiEngine::evaluate, catalog by channel, {week} + previous + {TREND}-week trend, {} rounds alternating",
        args.iterations
    ));
    for (label, t) in [
        ("45 built-in KPIs", plain),
        ("45 built-in + 20 custom KPIs", scripted),
    ] {
        report.push(format!(
            "    {label:<30} min {:>8.1}  median {:>8.1}  max {:>8.1} ms",
            t.min, t.median, t.max
        ));
    }
    report.push(format!(
        "    overhead of the 20 custom KPIs: {overhead_pct:+.1} % of the medians, {pair_pct:+.1} % median of the rounds (target < 10 %: {})",
        if overhead_pct < 10.0 { "ok" } else { "MISSED" }
    ));
    json_lines.push(json!({
        "bench": "custom_kpi_overhead", "backend": backend, "scale": args.scale,
        "period": week.to_string(), "segment_by": "channel", "trend": TREND,
        "custom_kpis": KPIS.len(), "rounds": args.iterations,
        "without_ms": without, "with_ms": with,
        "without_median_ms": plain.median, "with_median_ms": scripted.median,
        "overhead_pct": overhead_pct, "round_overheads_pct": pair_overheads,
        "median_round_overhead_pct": pair_pct, "target_pct": 10.0, "ok": overhead_pct < 10.0,
    }));
    Ok(())
}

/// The result has the catalog and `custom` script KPIs, and no script failed.
fn check(result: &KpiResult, custom: usize) -> anyhow::Result<()> {
    let scripts: Vec<_> = result
        .kpis
        .iter()
        .filter(|k| k.meta.source == Source::Script)
        .collect();
    if result.kpis.len() != Builtin::ALL.len() + custom || scripts.len() != custom {
        bail!(
            "expected {} built-in and {custom} script KPIs, got {} KPIs ({} scripts)",
            Builtin::ALL.len(),
            result.kpis.len(),
            scripts.len()
        );
    }
    if let Some(failed) = scripts.iter().find(|k| k.error.is_some()) {
        bail!(
            "custom KPI {} failed: {:?}",
            failed.meta.key,
            failed.error.as_ref().map(ToString::to_string)
        );
    }
    if let Some(unsplit) = scripts.iter().find(|k| k.unsupported.is_some()) {
        bail!(
            "custom KPI {} was not split by channel: {:?}",
            unsplit.meta.key,
            unsplit.unsupported
        );
    }
    Ok(())
}

/// What the engine plans and fetches for the catalog plus the bench KPIs by channel, fetched once.
struct Prefetched {
    plan: Plan,
    prefetch: Prefetch,
}

struct Case {
    id: &'static str,
    label: String,
    spread: Spread,
    round_medians: Vec<f64>,
}

struct InMemory {
    cases: Vec<Case>,
    segments: usize,
    runs_per_request: usize,
    request_ms: Vec<f64>,
}

impl Prefetched {
    /// The plan and queries of `KpiEngine::evaluate` for this request.
    async fn fetch(
        db: &Db,
        team: &Team,
        week: PeriodKey,
        customs: &CustomSet,
    ) -> anyhow::Result<Prefetched> {
        let req = KpiRequest {
            period: week,
            comparison: Default::default(),
            segment_by: Some(Dimension::Channel),
            keys: None,
            trend: TREND,
        };
        let plan = Plan::new(db, team, &req, customs, chrono::Utc::now()).await?;
        let prefetch = Prefetch::load(db, team.id, &plan).await?;
        Ok(Prefetched { plan, prefetch })
    }

    /// A fresh environment (empty memo) over copies of the prefetched numbers.
    fn env(&self, scripts: &Arc<ScriptEngine>, customs: &CustomSet, db: &Db, team_id: i32) -> Env {
        Env::new(
            Arc::clone(scripts),
            customs.clone(),
            db.clone(),
            team_id,
            self.plan.clone(),
            self.prefetch.clone(),
        )
    }

    fn time_runs(
        &self,
        scripts: &Arc<ScriptEngine>,
        customs: &CustomSet,
        db: &Db,
        team_id: i32,
        runs: usize,
        rounds: usize,
    ) -> anyhow::Result<InMemory> {
        let env = self.env(scripts, customs, db, team_id);
        let (totals, by_channel) = (&self.plan.totals, &self.plan.segments);
        let cur = totals.current();
        let segments = env.segments();
        let first = segments.first().context("no channel in the bench data")?;
        let cases: [(&'static str, String, &str, Which, usize, &str); 3] = [
            (
                "a",
                format!("{TYPICAL} (3 lines), total, {}", totals.periods[cur].key),
                TYPICAL,
                Which::Totals,
                cur,
                TOTAL,
            ),
            (
                "a_segment",
                format!("{TYPICAL}, channel {first}"),
                TYPICAL,
                Which::Segments,
                by_channel.current(),
                first.as_str(),
            ),
            (
                "a_nested",
                format!("{NESTED} (reads bx_demos, memoised), total"),
                NESTED,
                Which::Totals,
                cur,
                TOTAL,
            ),
        ];
        let mut out = Vec::new();
        for (id, label, key, which, bucket, seg) in cases {
            let mut all = Vec::with_capacity(runs * rounds);
            let mut round_medians = Vec::with_capacity(rounds);
            // Warm-up: caches, branch predictors, the memo of a nested KPI.
            for _ in 0..runs.min(1_000) {
                let outcome = env.run_top(key, which, bucket, seg);
                if let Some(error) = outcome.error {
                    bail!("{key} failed: {error}");
                }
            }
            for _ in 0..rounds {
                let mut round = Vec::with_capacity(runs);
                for _ in 0..runs {
                    let t0 = Instant::now();
                    let outcome = env.run_top(key, which, bucket, seg);
                    round.push(t0.elapsed().as_secs_f64() * 1e6);
                    std::hint::black_box(outcome);
                }
                round_medians.push(Timing::of(round.clone()).median);
                all.extend(round);
            }
            out.push(Case {
                id,
                label,
                spread: Spread::of(all),
                round_medians,
            });
        }

        // The script part of one (b) request: every custom KPI as engine.rs `kpi_value` asks
        // for it, on a fresh memo each time.
        let history = totals.len();
        let mut request_ms = Vec::new();
        let mut runs_per_request = 0;
        for _ in 0..rounds.max(1) * 20 {
            let env = self.env(scripts, customs, db, team_id);
            let t0 = Instant::now();
            let mut evaluations = 0;
            for key in customs.kpis.keys() {
                let _ = env.run_top(key, Which::Totals, cur, TOTAL);
                let _ = env.custom(key, Which::Totals, totals.previous(), TOTAL);
                for b in history - TREND..history {
                    let _ = env.custom(key, Which::Totals, b, TOTAL);
                }
                evaluations += 2 + TREND;
                if customs
                    .unsupported_reason(key, &Dimension::Channel)
                    .is_none()
                {
                    for s in env.segments() {
                        let _ = env.custom(key, Which::Segments, by_channel.current(), &s);
                        let _ = env.custom(key, Which::Segments, by_channel.previous(), &s);
                        evaluations += 2;
                    }
                }
            }
            request_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
            runs_per_request = evaluations;
        }
        Ok(InMemory {
            cases: out,
            segments: segments.len(),
            runs_per_request,
            request_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_bench_kpi_compiles_and_four_read_other_custom_kpis() {
        let engine = ScriptEngine::default();
        let keys: BTreeSet<&str> = KPIS.iter().map(|k| k.0).collect();
        assert_eq!(keys.len(), 20);
        let mut nested = 0;
        for stored in stored_kpis() {
            let kpi = CustomKpi::from_stored(&engine, &stored).expect("a bench KPI compiles");
            let lines = stored
                .script
                .lines()
                .filter(|l| !l.starts_with("//"))
                .count();
            assert!((1..=5).contains(&lines), "{} has {lines} lines", stored.key);
            let deps = kpi.script.dependencies();
            if deps
                .metrics
                .iter()
                .chain(&deps.previous)
                .any(|d| keys.contains(d.as_str()))
            {
                nested += 1;
            }
        }
        assert_eq!(nested, 4);
    }

    #[test]
    fn the_99th_percentile_of_a_hundred_samples_is_the_99th() {
        let spread = Spread::of((1..=100).rev().map(f64::from).collect());
        assert_eq!((spread.min, spread.median, spread.p99), (1.0, 50.5, 99.0));
    }
}
