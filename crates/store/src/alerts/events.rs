//! An alert's firings and recoveries, one row per (alert, segment, episode, kind).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use super::instant;
use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::Sql;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i32,
    pub alert_id: i32,
    pub team_id: i32,
    pub segment: String,
    pub episode: i32,
    /// `fired` or `recovered`.
    pub kind: String,
    pub period: String,
    /// JSON: what the notification says.
    pub detail: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub alert_id: i32,
    pub team_id: i32,
    pub segment: String,
    pub episode: i32,
    pub kind: &'static str,
    pub period: String,
    pub detail: String,
}

const COLUMNS: &str = "id, alert_id, team_id, segment, episode, kind, period, detail, created_at";

fn from_row(row: &QueryResult) -> Result<Event> {
    Ok(Event {
        id: row.try_get_by_index(0)?,
        alert_id: row.try_get_by_index(1)?,
        team_id: row.try_get_by_index(2)?,
        segment: row.try_get_by_index(3)?,
        episode: row.try_get_by_index(4)?,
        kind: row.try_get_by_index(5)?,
        period: row.try_get_by_index(6)?,
        detail: row.try_get_by_index(7)?,
        created_at: instant(row.try_get_by_index(8)?),
    })
}

/// Records an event, or finds it when it was recorded already (by this or another server, or
/// by a check that stopped half-way): recording is idempotent.
pub async fn record(db: &Db, e: &NewEvent, now: DateTime<Utc>) -> Result<Event> {
    if let Some(new) = insert(db, e, now).await? {
        return Ok(new);
    }
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM alert_events WHERE alert_id = ")
        .param(e.alert_id)
        .push(" AND segment = ")
        .param(e.segment.clone())
        .push(" AND episode = ")
        .param(e.episode)
        .push(" AND kind = ")
        .param(e.kind);
    db.conn()
        .query_one_raw(sql.build())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()?
        .ok_or_else(|| StoreError::Invalid("an alert event vanished".to_owned()))
}

async fn insert(db: &Db, e: &NewEvent, now: DateTime<Utc>) -> Result<Option<Event>> {
    let mut sql = Sql::new(db.backend());
    sql.push(
        "INSERT INTO alert_events (alert_id, team_id, segment, episode, kind, period, detail, \
         created_at) VALUES (",
    )
    .param(e.alert_id)
    .push(", ")
    .param(e.team_id)
    .push(", ")
    .param(e.segment.clone())
    .push(", ")
    .param(e.episode)
    .push(", ")
    .param(e.kind)
    .push(", ")
    .param(e.period.clone())
    .push(", ")
    .param(e.detail.clone())
    .push(", ")
    .param(now.timestamp_millis())
    .push(") ON CONFLICT DO NOTHING RETURNING ")
    .push(COLUMNS);
    db.conn()
        .query_one_raw(sql.build())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Every event of an alert, oldest first.
pub async fn list(db: &Db, alert_id: i32) -> Result<Vec<Event>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM alert_events WHERE alert_id = ")
        .param(alert_id)
        .push(" ORDER BY id");
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Db, id: i32) -> Result<Option<Event>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM alert_events WHERE id = ")
        .param(id);
    db.conn()
        .query_one_raw(sql.build())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}
