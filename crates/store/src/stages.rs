//! The stage distribution at a local midnight, from the running sums of the daily rollups'
//! stage entries (`lead_days.stage_*`, see `rollup::stage_changes`): one grouped read of the
//! team's summary rows, not a scan of its leads.

use std::collections::BTreeMap;

use lodestar_core::stage::Stage;
use sea_orm::ConnectionTrait;

use crate::Db;
use crate::error::Result;
use crate::sql::Sql;

/// How many leads created before the local midnight starting day `end_day` (see
/// `lodestar_core::period::day_number`) are in each stage then.
pub async fn distribution(db: &Db, team_id: i32, end_day: i32) -> Result<BTreeMap<Stage, u64>> {
    let sums: Vec<String> = Stage::ALL
        .iter()
        .map(|s| format!("CAST(COALESCE(SUM(stage_{}), 0) AS BIGINT)", s.key()))
        .collect();
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {} FROM lead_days WHERE team_id = ",
        sums.join(", ")
    ))
    .param(team_id)
    .push(" AND day < ")
    .param(end_day);
    let row = db.conn().query_one_raw(sql.build()).await?;
    let mut out = BTreeMap::new();
    for (i, stage) in Stage::ALL.iter().enumerate() {
        let n: i64 = match &row {
            Some(row) => row.try_get_by_index(i)?,
            None => 0,
        };
        out.insert(*stage, u64::try_from(n).unwrap_or(0));
    }
    Ok(out)
}
