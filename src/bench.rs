//! `lodestar bench`: loads a large deterministic team through the ingest path and times the real
//! KPI engine on it; `--import-csv N` times `lodestar import` on N generated leads instead, and
//! `--scripts` times custom KPI scripts (one run on prefetched data, and what 20 custom KPIs add
//! to the engine). BENCHMARKS.md records the results and how to read them.

mod alerts;
mod import;
mod scripts;
mod stages;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use lodestar_core::dimension::Dimension;
use lodestar_core::period::{Compare, Comparison, PeriodKey, PeriodKind, Timezone};
use lodestar_report::{KpiEngine, KpiRequest};
use lodestar_store::teams::{self, Team};
use lodestar_store::{Db, loaded};
use lodestar_web::{AppSettings, Application, ScriptSettings};
use serde_json::json;

use crate::generate::GenSpec;
use crate::settings::Settings;

const TEAM: &str = "bench";
const TIMEZONE: &str = "America/New_York";
/// Rows per write transaction while loading: large enough to amortise commits, small enough that
/// the SQLite WAL and PostgreSQL's transaction state stay modest.
const COMMIT_ROWS: usize = 200_000;
const MB: f64 = 1024.0 * 1024.0;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Database to use: sqlite://… or postgres://… (default: a fresh SQLite file under ./target
    /// when it exists, else under the temporary directory).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Keep an existing database and skip loading when team `bench` is already there.
    #[arg(long)]
    pub reuse: bool,
    /// Timed runs of each query.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub iterations: u32,
    /// Multiplies the 1,000,000 leads and 5,000,000 events (0.05 for a quick run).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Instead: write N generated leads to a CSV file and time importing it (as `lodestar import`).
    #[arg(long, value_name = "N", conflicts_with = "scripts")]
    pub import_csv: Option<u64>,
    /// Instead of the catalog cases: time custom KPI scripts on the same team (one run with data
    /// prefetched; the catalog by channel with and without 20 custom KPIs stored for the team).
    #[arg(long)]
    pub scripts: bool,
    /// Instead: time evaluating N alerts over the catalog on the same team (as a check after a
    /// data load does: one batched engine run per window).
    #[arg(long, value_name = "N", conflicts_with_all = ["scripts", "import_csv"])]
    pub alerts: Option<usize>,
    /// With --scripts: timed runs of one script per measured case.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(100..))]
    pub script_runs: u32,
}

pub async fn run(args: BenchArgs, settings: &Settings) -> anyhow::Result<()> {
    if !(args.scale > 0.0 && args.scale <= 100.0) {
        bail!(
            "--scale must be above 0 and at most 100, got {}",
            args.scale
        );
    }
    let default_name = match args.import_csv {
        Some(_) => "import.db".to_owned(),
        None => format!("bench-scale-{}.db", args.scale),
    };
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None => default_sqlite(&default_name, args.reuse)?,
    };
    eprintln!("bench: database {}", lodestar_store::db::redact(&url));
    let backend = if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    // The application as the server builds it, minus packs and digests; it is never run.
    let database_url = url.clone();
    let app = Application::build(AppSettings {
        database_url: url,
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        workers: 1,
        public_url: None,
        max_body_bytes: settings.server.max_body_bytes,
        scripts: ScriptSettings::default(),
        clock: lodestar_core::clock::system_clock(),
        digests: None,
        limits: Default::default(),
    })
    .await?;
    let kpis = &app.state().kpis;
    match args.import_csv {
        Some(n) => import::import_bench(kpis.db(), &database_url, backend, n, &work_dir()).await,
        None if args.scripts => scripts::run(kpis, backend, &args).await,
        None if args.alerts.is_some() => {
            alerts::run(kpis, backend, &args, args.alerts.unwrap_or(1000)).await
        }
        None => kpi_bench(kpis, backend, &args).await,
    }
}

/// ./target/lodestar-bench when run from a checkout, else the system's temporary directory.
fn work_dir() -> PathBuf {
    let target = Path::new("target");
    if target.is_dir() {
        target.join("lodestar-bench")
    } else {
        std::env::temp_dir().join("lodestar-bench")
    }
}

fn default_sqlite(name: &str, reuse: bool) -> anyhow::Result<String> {
    let dir = work_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    if !reuse {
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", file.display())),
            }
        }
    }
    Ok(format!("sqlite://{}?mode=rwc", path.display()))
}

/// One query shape, timed `iterations` times.
struct Case {
    id: &'static str,
    label: &'static str,
    period: PeriodKey,
    comparison: Comparison,
    segment_by: Option<Dimension>,
    trend: usize,
    target_ms: f64,
}

#[derive(Debug, Clone, Copy)]
struct Timing {
    min: f64,
    median: f64,
    max: f64,
}

impl Timing {
    fn of(mut ms: Vec<f64>) -> Timing {
        ms.sort_by(f64::total_cmp);
        let n = ms.len();
        let median = if n % 2 == 1 {
            ms[n / 2]
        } else {
            (ms[n / 2 - 1] + ms[n / 2]) / 2.0
        };
        Timing {
            min: ms[0],
            median,
            max: ms[n - 1],
        }
    }
}

/// Team `bench`, loaded now (its load timed into `report`), or as found with `--reuse`.
async fn bench_team(
    db: &Db,
    backend: &str,
    args: &BenchArgs,
    report: &mut Vec<String>,
    json_lines: &mut Vec<serde_json::Value>,
) -> anyhow::Result<Team> {
    let spec = GenSpec::bench().scaled(args.scale);
    let tz = Timezone::parse(TIMEZONE)?;
    let existing = teams::find_by_slug(db, TEAM).await?;
    report.push(format!(
        "lodestar bench: {backend}, scale {}, team `{TEAM}` ({TIMEZONE}), data {} to {}",
        args.scale,
        spec.start,
        spec.as_of.date_naive()
    ));
    let team = match existing {
        Some(team) if args.reuse => {
            let counts = loaded::table_counts(db, team.id).await?;
            let summary: Vec<String> = counts.iter().map(|(t, n)| format!("{n} {t}")).collect();
            report.push(format!(
                "load: skipped (--reuse), team has {}",
                summary.join(", ")
            ));
            team
        }
        Some(_) => bail!(
            "team `{TEAM}` already exists in this database: pass --reuse to time it as it is, or use a fresh database"
        ),
        None => {
            let team = teams::create(db, TEAM, "Benchmark", &tz).await?;
            eprintln!(
                "bench: generating and loading about {:.0} leads…",
                spec.expected_leads()
            );
            reset_peak_rss();
            let stats = crate::demo::load(db, team.id, &spec, COMMIT_ROWS, |rows| {
                eprintln!("bench: {rows} rows loaded");
            })
            .await?;
            let rss = peak_rss();
            let rate = stats.rows() as f64 / stats.seconds;
            report.push(format!(
                "load: {} leads, {} events, {} spend rows = {} rows in {:.1} s: {:.0} rows/s (peak RSS {})",
                stats.leads.rows,
                stats.events.rows,
                stats.spend.rows,
                stats.rows(),
                stats.seconds,
                rate,
                fmt_mb(rss)
            ));
            for (table, t) in [
                ("leads", stats.leads),
                ("events", stats.events),
                ("spend", stats.spend),
            ] {
                report.push(format!(
                    "  {table:<7} {:>9} rows, {:>7.1} s writing: {:>8.0} rows/s",
                    t.rows,
                    t.write_seconds,
                    t.rows as f64 / t.write_seconds.max(1e-9)
                ));
            }
            json_lines.push(json!({
                "bench": "load", "backend": backend, "scale": args.scale,
                "rows": stats.rows(), "seconds": stats.seconds, "rows_per_second": rate,
                "leads": stats.leads, "events": stats.events, "spend": stats.spend,
                "peak_rss_mb": rss.map(|b| b as f64 / MB),
            }));
            teams::find_by_id(db, team.id)
                .await?
                .context("team `bench` disappeared")?
        }
    };
    Ok(team)
}

async fn kpi_bench(engine: &KpiEngine, backend: &str, args: &BenchArgs) -> anyhow::Result<()> {
    let db = engine.db();
    let spec = GenSpec::bench().scaled(args.scale);
    let tz = Timezone::parse(TIMEZONE)?;
    let mut json_lines = Vec::new();
    let mut report = Vec::new();
    let team = bench_team(db, backend, args, &mut report, &mut json_lines).await?;

    let week = PeriodKey::last_complete(PeriodKind::Week, spec.as_of, tz.0);
    let quarter = PeriodKey::last_complete(PeriodKind::Quarter, spec.as_of, tz.0);
    let month = PeriodKey::last_complete(PeriodKind::Month, spec.as_of, tz.0);
    let cases = [
        Case {
            id: "a",
            label: "catalog, week",
            period: week,
            comparison: Comparison::default(),
            segment_by: None,
            trend: 12,
            target_ms: 1000.0,
        },
        Case {
            id: "b",
            label: "catalog, week by channel",
            period: week,
            comparison: Comparison::default(),
            segment_by: Some(Dimension::Channel),
            trend: 12,
            target_ms: 1000.0,
        },
        Case {
            id: "c",
            label: "catalog, quarter",
            period: quarter,
            comparison: Comparison::default(),
            segment_by: None,
            trend: 4,
            target_ms: 2000.0,
        },
        Case {
            id: "c2",
            label: "catalog, quarter by channel",
            period: quarter,
            comparison: Comparison::default(),
            segment_by: Some(Dimension::Channel),
            trend: 4,
            target_ms: 2000.0,
        },
        // Year over year and to date read the same grouped passes, with gaps between the spans.
        Case {
            id: "a-yoy",
            label: "catalog, week vs the same week last year",
            period: week,
            comparison: Comparison {
                compare: Compare::Year,
                to: None,
            },
            segment_by: None,
            trend: 12,
            target_ms: 1000.0,
        },
        Case {
            id: "m-mtd",
            label: "catalog, month to day 18 vs the month before to day 18",
            period: month,
            comparison: Comparison {
                compare: Compare::Previous,
                to: month.first_day().checked_add_days(chrono::Days::new(17)),
            },
            segment_by: None,
            trend: 12,
            target_ms: 1000.0,
        },
    ];

    reset_peak_rss();
    report.push(format!(
        "{:<4}{:<30}{:<10}{:>6}{:>6}{:>10}{:>11}{:>10}{:>10}  {}",
        "",
        "query (previous period too)",
        "period",
        "trend",
        "runs",
        "min ms",
        "median ms",
        "max ms",
        "target",
        "verdict"
    ));
    for case in &cases {
        let (timing, kpis, leads) = time_case(engine, &team, case, args.iterations).await?;
        let ok = timing.median < case.target_ms;
        report.push(format!(
            "({}){:<width$}{:<30}{:<10}{:>6}{:>6}{:>10.1}{:>11.1}{:>10.1}{:>10}  {}",
            case.id,
            "",
            case.label,
            case.period.to_string(),
            case.trend,
            args.iterations,
            timing.min,
            timing.median,
            timing.max,
            format!("< {:.0}", case.target_ms),
            if ok { "ok" } else { "MISSED" },
            width = 2 - case.id.len().min(2),
        ));
        json_lines.push(json!({
            "bench": "kpis", "backend": backend, "scale": args.scale, "case": case.id,
            "label": case.label, "period": case.period.to_string(),
            "segment_by": case.segment_by.as_ref().map(|d| d.to_string()),
            "trend": case.trend, "kpis": kpis, "leads_in_period": leads,
            "iterations": args.iterations, "min_ms": timing.min, "median_ms": timing.median,
            "max_ms": timing.max, "target_ms": case.target_ms, "ok": ok,
        }));
    }
    stages::stages_bench(
        engine,
        &team,
        week,
        args.iterations,
        &mut report,
        &mut json_lines,
    )
    .await?;
    let rss = peak_rss();
    report.push(format!(
        "peak RSS while querying: {} (target < 300 MB)",
        fmt_mb(rss)
    ));
    json_lines.push(json!({
        "bench": "peak_rss", "backend": backend, "phase": "queries",
        "mb": rss.map(|b| b as f64 / MB), "target_mb": 300,
    }));
    print_all(&report, &json_lines)
}

async fn time_case(
    engine: &KpiEngine,
    team: &Team,
    case: &Case,
    iterations: u32,
) -> anyhow::Result<(Timing, usize, Option<f64>)> {
    let req = KpiRequest {
        period: case.period,
        comparison: case.comparison,
        segment_by: case.segment_by.clone(),
        keys: None,
        trend: case.trend,
    };
    let mut ms = Vec::with_capacity(iterations as usize);
    let mut kpis = 0;
    let mut leads = None;
    for _ in 0..iterations {
        let t0 = Instant::now();
        let result = engine.evaluate(team, &req).await?;
        ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        kpis = result.kpis.len();
        leads = result
            .kpis
            .iter()
            .find(|k| k.meta.key == "leads")
            .and_then(|k| k.value);
    }
    Ok((Timing::of(ms), kpis, leads))
}

fn print_all(report: &[String], json_lines: &[serde_json::Value]) -> anyhow::Result<()> {
    for line in report {
        println!("{line}");
    }
    for line in json_lines {
        println!("{}", serde_json::to_string(line)?);
    }
    Ok(())
}

fn fmt_mb(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{:.0} MB", b as f64 / MB),
        None => "unknown".to_owned(),
    }
}

/// The process's peak resident set (VmHWM), in bytes; `None` off Linux.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Resets the peak to the current resident set, so each phase reports its own peak (Linux 4.0+;
/// elsewhere the peak simply covers the whole run).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let t = Timing::of(vec![40.0, 10.0, 30.0, 20.0]);
        assert_eq!((t.min, t.median, t.max), (10.0, 25.0, 40.0));
        assert_eq!(Timing::of(vec![3.0, 1.0, 2.0]).median, 2.0);
    }

    #[test]
    fn peak_rss_is_read_from_vm_hwm_in_kilobytes() {
        let status = "Name:\tlodestar\nVmPeak:\t  999 kB\nVmHWM:\t   2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(2048 * 1024));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
        assert!(peak_rss().is_some_and(|b| b > 0));
    }
}
