//! What a team has loaded: row counts of its tables and the newest instant of its data.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::Db;
use crate::error::Result;
use crate::sql::Sql;

/// Row counts of a team's tables (for tests, the CLI and the demo).
pub async fn table_counts(db: &Db, team_id: i32) -> Result<[(String, u64); 3]> {
    let mut out: [(String, u64); 3] = Default::default();
    for (i, table) in ["leads", "spend", "events"].into_iter().enumerate() {
        let mut sql = Sql::new(db.backend());
        sql.push("SELECT COUNT(*) FROM ")
            .push(table)
            .push(" WHERE team_id = ")
            .param(team_id);
        let n: i64 = match db.conn().query_one_raw(sql.build()).await? {
            Some(r) => r.try_get_by_index(0)?,
            None => 0,
        };
        out[i] = (table.to_owned(), n as u64);
    }
    Ok(out)
}

/// The newest instant of any row the team loaded (spend by its day), for "data as of" lines.
pub async fn newest_data(db: &Db, team_id: i32) -> Result<Option<DateTime<Utc>>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT MAX(created_at) FROM leads WHERE team_id = ")
        .param(team_id)
        .push(" UNION ALL SELECT MAX(occurred_at) FROM events WHERE team_id = ")
        .param(team_id)
        .push(" UNION ALL SELECT CAST(MAX(day) AS BIGINT) * 86400000 FROM spend WHERE team_id = ")
        .param(team_id);
    let mut newest: Option<i64> = None;
    for row in db.conn().query_all_raw(sql.build()).await? {
        let v: Option<i64> = row.try_get_by_index(0)?;
        newest = newest.max(v);
    }
    Ok(newest.and_then(DateTime::from_timestamp_millis))
}
