//! The cut-off of a report's share links: links issued at or before it no longer open the
//! report. One row per (team, report slug), so built-in reports without a stored definition
//! have one too.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::Sql;

/// Voids every share link of `report` issued up to `now`; returns the new cut-off. A later
/// cut-off never moves back.
pub async fn revoke_all(
    db: &Db,
    team_id: i32,
    report: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    let mut sql = Sql::new(db.backend());
    sql.push("INSERT INTO share_link_cutoffs (team_id, report, links_valid_after) VALUES (")
        .param(team_id)
        .push(", ")
        .param(report)
        .push(", ")
        .param(now.timestamp_millis())
        .push(
            ") ON CONFLICT (team_id, report) DO UPDATE SET links_valid_after = \
             CASE WHEN share_link_cutoffs.links_valid_after > excluded.links_valid_after \
             THEN share_link_cutoffs.links_valid_after ELSE excluded.links_valid_after END",
        );
    db.conn().execute_raw(sql.build()).await?;
    links_valid_after(db, team_id, report)
        .await?
        .ok_or_else(|| StoreError::Invalid(format!("the cut-off of `{report}` vanished")))
}

/// The report's cut-off, if its links were ever revoked.
pub async fn links_valid_after(
    db: &Db,
    team_id: i32,
    report: &str,
) -> Result<Option<DateTime<Utc>>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT links_valid_after FROM share_link_cutoffs WHERE team_id = ")
        .param(team_id)
        .push(" AND report = ")
        .param(report);
    let Some(row) = db.conn().query_one_raw(sql.build()).await? else {
        return Ok(None);
    };
    let ms: i64 = row.try_get_by_index(0)?;
    DateTime::from_timestamp_millis(ms)
        .map(Some)
        .ok_or_else(|| StoreError::Invalid(format!("stored instant {ms}")))
}
