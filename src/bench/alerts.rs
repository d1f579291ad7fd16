//! `lodestar bench --alerts N`: N alerts over the whole built-in catalog on the bench team (half
//! segmented by channel, periods day/week/month, a quarter of them anomalies, the rest above,
//! below and change conditions), evaluated as a check after a data load evaluates them: one
//! batched engine run per window, plus one batched evaluation of all 8 periods of history for
//! each window with anomalies.

use std::time::Instant;

use lodestar_core::catalog::Builtin;
use lodestar_core::period::PeriodKind;
use lodestar_report::KpiEngine;
use lodestar_report::alerts::check::AlertInput;
use lodestar_report::alerts::condition::{Against, Way};
use lodestar_report::alerts::spec::Check;
use lodestar_report::alerts::{AlertSpec, Condition, Verdict, evaluate};

use super::{BenchArgs, bench_team};
use crate::generate::GenSpec;

fn alerts(n: usize) -> Vec<AlertInput> {
    let kinds = [PeriodKind::Day, PeriodKind::Week, PeriodKind::Month];
    (0..n)
        .map(|i| {
            let kpi = Builtin::ALL[i % Builtin::ALL.len()].key().to_owned();
            let condition = match i % 4 {
                0 => Condition::Anomaly { sensitivity: 3.0 },
                1 => Condition::Above { value: 100.0 },
                2 => Condition::Below { value: 10.0 },
                _ => Condition::Change {
                    compare: Against::Previous,
                    by: 20.0,
                    direction: Way::Any,
                },
            };
            AlertInput {
                id: i32::try_from(i).unwrap_or(i32::MAX),
                kpi,
                spec: AlertSpec {
                    period_kind: Some(kinds[(i / 4) % kinds.len()]),
                    period: None,
                    segment_by: (i % 2 == 1).then(|| "channel".to_owned()),
                    condition,
                    min_volume: None,
                    check: Check::default(),
                    last_complete: false,
                    notify_recovery: false,
                    snooze_until: None,
                },
            }
        })
        .collect()
}

pub(super) async fn run(
    engine: &KpiEngine,
    backend: &str,
    args: &BenchArgs,
    n: usize,
) -> anyhow::Result<()> {
    let spec = GenSpec::bench().scaled(args.scale);
    let mut report = Vec::new();
    let mut json_lines = Vec::new();
    let team = bench_team(engine.db(), backend, args, &mut report, &mut json_lines).await?;
    for line in &report {
        println!("{line}");
    }
    let inputs = alerts(n);
    let mut best = f64::MAX;
    let mut findings = 0;
    let mut holding = 0;
    for _ in 0..args.iterations {
        let start = Instant::now();
        let found = evaluate(engine, &team, &inputs, spec.as_of).await?;
        best = best.min(start.elapsed().as_secs_f64() * 1000.0);
        findings = found.len();
        holding = found.iter().filter(|f| f.verdict == Verdict::Holds).count();
    }
    println!(
        "alerts: {n} alerts ({} KPIs, half by channel, day/week/month, a quarter anomalies): \
         best of {} evaluations {best:.0} ms; {findings} findings, {holding} holding",
        Builtin::ALL.len(),
        args.iterations
    );
    println!(
        "{}",
        serde_json::json!({"case": "alerts", "alerts": n, "best_ms": best, "findings": findings, "backend": backend})
    );
    Ok(())
}
