//! Goals: a target per (team, KPI, period kind, segment). Setting one again replaces it.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::Db;
use crate::alerts::instant;
use crate::error::{Result, StoreError};
use crate::sql::Sql;

#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    pub id: i32,
    pub team_id: i32,
    pub kpi: String,
    pub period_kind: String,
    /// `""` for the whole team.
    pub segment_by: String,
    pub segment: String,
    pub target: f64,
    pub phasing: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What identifies a goal, and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalFields {
    pub kpi: String,
    pub period_kind: String,
    pub segment_by: String,
    pub segment: String,
    pub target: f64,
    pub phasing: String,
}

const COLUMNS: &str =
    "id, team_id, kpi, period_kind, segment_by, segment, target, phasing, created_at, updated_at";

fn from_row(row: &QueryResult) -> Result<Goal> {
    Ok(Goal {
        id: row.try_get_by_index(0)?,
        team_id: row.try_get_by_index(1)?,
        kpi: row.try_get_by_index(2)?,
        period_kind: row.try_get_by_index(3)?,
        segment_by: row.try_get_by_index(4)?,
        segment: row.try_get_by_index(5)?,
        target: row.try_get_by_index(6)?,
        phasing: row.try_get_by_index(7)?,
        created_at: instant(row.try_get_by_index(8)?),
        updated_at: instant(row.try_get_by_index(9)?),
    })
}

/// Sets the goal identified by (KPI, period kind, segment), replacing its target and phasing.
pub async fn put(db: &Db, team_id: i32, f: &GoalFields, now: DateTime<Utc>) -> Result<Goal> {
    let mut sql = Sql::new(db.backend());
    sql.push(
        "INSERT INTO goals (team_id, kpi, period_kind, segment_by, segment, target, phasing, \
         created_at, updated_at) VALUES (",
    )
    .param(team_id)
    .push(", ")
    .param(f.kpi.clone())
    .push(", ")
    .param(f.period_kind.clone())
    .push(", ")
    .param(f.segment_by.clone())
    .push(", ")
    .param(f.segment.clone())
    .push(", ")
    .param(f.target)
    .push(", ")
    .param(f.phasing.clone())
    .push(", ")
    .param(now.timestamp_millis())
    .push(", ")
    .param(now.timestamp_millis())
    .push(
        ") ON CONFLICT (team_id, kpi, period_kind, segment_by, segment) DO UPDATE SET \
         target = excluded.target, phasing = excluded.phasing, updated_at = excluded.updated_at \
         RETURNING ",
    )
    .push(COLUMNS);
    let goal = db
        .conn()
        .query_one_raw(sql.build())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()?
        .ok_or_else(|| StoreError::Invalid("INSERT … RETURNING gave no row".to_owned()))?;
    // Reports show goals: every replica's cached reports of the team are out of date.
    crate::teams::bump_data_version(db.conn(), team_id).await?;
    Ok(goal)
}

pub async fn list(db: &Db, team_id: i32) -> Result<Vec<Goal>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM goals WHERE team_id = ")
        .param(team_id)
        .push(" ORDER BY kpi, period_kind, segment_by, segment");
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter().map(from_row).collect()
}

/// Deletes one goal; `false` when there was none.
pub async fn delete(
    db: &Db,
    team_id: i32,
    kpi: &str,
    period_kind: &str,
    (segment_by, segment): (&str, &str),
) -> Result<bool> {
    let mut sql = Sql::new(db.backend());
    sql.push("DELETE FROM goals WHERE team_id = ")
        .param(team_id)
        .push(" AND kpi = ")
        .param(kpi.to_owned())
        .push(" AND period_kind = ")
        .param(period_kind.to_owned())
        .push(" AND segment_by = ")
        .param(segment_by.to_owned())
        .push(" AND segment = ")
        .param(segment.to_owned());
    let deleted = db.conn().execute_raw(sql.build()).await?.rows_affected() > 0;
    if deleted {
        crate::teams::bump_data_version(db.conn(), team_id).await?;
    }
    Ok(deleted)
}
