//! The stage distribution a report page shows, from the daily summaries' running sums, beside
//! its floor of old: one hand-written grouped scan of the team's leads (the query the page ran
//! before the summaries kept stage entries).

use std::time::Instant;

use lodestar_core::period::PeriodKey;
use lodestar_report::KpiEngine;
use lodestar_store::teams::Team;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use super::Timing;

/// Times both `iterations` times, interleaved, and checks they agree.
pub(super) async fn stages_bench(
    engine: &KpiEngine,
    team: &Team,
    period: PeriodKey,
    iterations: u32,
    report: &mut Vec<String>,
    json_lines: &mut Vec<serde_json::Value>,
) -> anyhow::Result<()> {
    let db = engine.db();
    let end = period.resolve(team.timezone.0).end.timestamp_millis();
    let floor_sql = format!(
        "SELECT CASE WHEN churned_at < {end} THEN 'churned' WHEN won_at < {end} THEN 'customer' \
         WHEN lost_at < {end} THEN 'lost' WHEN opportunity_at < {end} THEN 'opportunity' \
         WHEN sql_at < {end} THEN 'sql' WHEN sal_at < {end} THEN 'sal' \
         WHEN mql_at < {end} THEN 'mql' ELSE 'lead' END AS stage, COUNT(*) FROM leads \
         WHERE team_id = {} AND created_at < {end} GROUP BY 1",
        team.id
    );
    let (mut ours, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..iterations {
        let t0 = Instant::now();
        let dist = lodestar_report::stages(db, team, &period).await?;
        ours.push(t0.elapsed().as_secs_f64() * 1000.0);
        let t0 = Instant::now();
        let rows = db
            .conn()
            .query_all_raw(Statement::from_string(db.backend(), floor_sql.clone()))
            .await?;
        floor.push(t0.elapsed().as_secs_f64() * 1000.0);
        for row in rows {
            let stage: String = row.try_get_by_index(0)?;
            let n: i64 = row.try_get_by_index(1)?;
            let got = dist.get(stage.as_str()).copied().unwrap_or(0);
            anyhow::ensure!(
                got == n as u64,
                "stage {stage}: {got} from the summaries, {n} from the leads"
            );
        }
    }
    let (ours, floor) = (Timing::of(ours), Timing::of(floor));
    report.push(format!(
        "(s)  stage distribution at the end of {period}: summaries median {:.1} ms (min {:.1}), \
         scan of the leads median {:.1} ms (min {:.1}); equal counts",
        ours.median, ours.min, floor.median, floor.min
    ));
    json_lines.push(json!({
        "bench": "stages", "period": period.to_string(), "iterations": iterations,
        "median_ms": ours.median, "min_ms": ours.min,
        "floor_median_ms": floor.median, "floor_min_ms": floor.min,
    }));
    Ok(())
}
