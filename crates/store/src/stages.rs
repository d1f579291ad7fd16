//! The stage distribution at an instant, in one grouped statement.

use std::collections::BTreeMap;

use lodestar_core::stage::Stage;
use sea_orm::ConnectionTrait;

use crate::Db;
use crate::error::Result;
use crate::sql::Sql;

/// How many leads created before `end` (epoch ms) are in each stage at `end`.
pub async fn distribution(db: &Db, team_id: i32, end: i64) -> Result<BTreeMap<Stage, u64>> {
    // The CASE follows Stage::ALL: the first stage that holds wins.
    let case = format!(
        "CASE WHEN churned_at < {end} THEN 'churned' WHEN won_at < {end} THEN 'customer' \
         WHEN lost_at < {end} THEN 'lost' WHEN opportunity_at < {end} THEN 'opportunity' \
         WHEN sql_at < {end} THEN 'sql' WHEN sal_at < {end} THEN 'sal' \
         WHEN mql_at < {end} THEN 'mql' ELSE 'lead' END"
    );
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {case} AS stage, COUNT(*) FROM leads WHERE team_id = "
    ))
    .param(team_id)
    .push(&format!(" AND created_at < {end} GROUP BY 1"));
    let mut out: BTreeMap<Stage, u64> = Stage::ALL.iter().map(|s| (*s, 0)).collect();
    for row in db.conn().query_all_raw(sql.build()).await? {
        let key: String = row.try_get_by_index(0)?;
        let n: i64 = row.try_get_by_index(1)?;
        if let Some(stage) = Stage::ALL.iter().find(|s| s.key() == key) {
            out.insert(*stage, n as u64);
        }
    }
    Ok(out)
}
