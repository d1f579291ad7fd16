//! Digest schedules. Callers (the scheduler crate) validate cron, timezone and addresses before
//! anything is stored; this module only keeps them, always scoped to a team for the API.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::Sql;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub id: i32,
    pub team_id: i32,
    pub report: String,
    pub cron: String,
    pub timezone: String,
    pub recipients: Vec<String>,
    /// Slack and webhook channels (and extra e-mail ones), a JSON array.
    pub channels: String,
    pub skip_empty: bool,
    pub paused: bool,
    /// Occurrences before this instant are never delivered: a new schedule, a changed cron or
    /// timezone, or a resume does not catch up on what came before it.
    pub active_since: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The person who made it; `None` when a token made it (its failures go to the admins).
    pub owner_user_id: Option<i32>,
}

/// What a schedule says, as the API sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleFields {
    pub report: String,
    pub cron: String,
    pub timezone: String,
    pub recipients: Vec<String>,
    /// A JSON array of channels.
    pub channels: String,
    pub skip_empty: bool,
    pub paused: bool,
}

impl Schedule {
    pub fn fields(&self) -> ScheduleFields {
        ScheduleFields {
            report: self.report.clone(),
            cron: self.cron.clone(),
            timezone: self.timezone.clone(),
            recipients: self.recipients.clone(),
            channels: self.channels.clone(),
            skip_empty: self.skip_empty,
            paused: self.paused,
        }
    }
}

const COLUMNS: &str = "id, team_id, report, cron, timezone, recipients, skip_empty, paused, \
                       active_since, created_at, updated_at, channels, owner_user_id";

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn from_row(row: &QueryResult) -> Result<Schedule> {
    let recipients: String = row.try_get_by_index(5)?;
    let recipients: Vec<String> = serde_json::from_str(&recipients)
        .map_err(|e| StoreError::Invalid(format!("stored recipients: {e}")))?;
    Ok(Schedule {
        id: row.try_get_by_index(0)?,
        team_id: row.try_get_by_index(1)?,
        report: row.try_get_by_index(2)?,
        cron: row.try_get_by_index(3)?,
        timezone: row.try_get_by_index(4)?,
        recipients,
        channels: row.try_get_by_index(11)?,
        skip_empty: row.try_get_by_index(6)?,
        paused: row.try_get_by_index(7)?,
        active_since: instant(row.try_get_by_index(8)?),
        created_at: instant(row.try_get_by_index(9)?),
        updated_at: instant(row.try_get_by_index(10)?),
        owner_user_id: row.try_get_by_index(12)?,
    })
}

fn recipients_json(recipients: &[String]) -> String {
    serde_json::to_string(recipients).unwrap_or_else(|_| "[]".to_owned())
}

/// A new schedule of `team_id`, made by `owner_user_id` (`None`: a token).
pub async fn create(
    db: &Db,
    team_id: i32,
    fields: &ScheduleFields,
    owner_user_id: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Schedule> {
    let now_ms = now.timestamp_millis();
    let mut sql = Sql::new(db.backend());
    sql.push(
        "INSERT INTO schedules (team_id, report, cron, timezone, recipients, skip_empty, paused, \
         active_since, created_at, updated_at, channels, owner_user_id) VALUES (",
    )
    .param(team_id)
    .push(", ")
    .param(fields.report.clone())
    .push(", ")
    .param(fields.cron.clone())
    .push(", ")
    .param(fields.timezone.clone())
    .push(", ")
    .param(recipients_json(&fields.recipients))
    .push(", ")
    .param(fields.skip_empty)
    .push(", ")
    .param(fields.paused)
    .push(", ")
    .param(now_ms)
    .push(", ")
    .param(now_ms)
    .push(", ")
    .param(now_ms)
    .push(", ")
    .param(fields.channels.clone())
    .push(", ")
    .param(owner_user_id)
    .push(") RETURNING ")
    .push(COLUMNS);
    let row = db
        .conn()
        .query_one_raw(sql.build())
        .await?
        .ok_or_else(|| StoreError::Invalid("INSERT … RETURNING gave no row".to_owned()))?;
    from_row(&row)
}

/// The team's schedule, or `None` (also when it belongs to another team).
pub async fn get(db: &Db, team_id: i32, id: i32) -> Result<Option<Schedule>> {
    by_id(db.conn(), id, Some(team_id)).await
}

/// Any team's schedule, for the scheduler.
pub async fn find(db: &Db, id: i32) -> Result<Option<Schedule>> {
    by_id(db.conn(), id, None).await
}

/// The schedule `id`, if it exists (and, given a team, belongs to it).
async fn by_id(
    conn: &impl ConnectionTrait,
    id: i32,
    team_id: Option<i32>,
) -> Result<Option<Schedule>> {
    let mut sql = Sql::new(conn.get_database_backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM schedules WHERE id = ")
        .param(id);
    if let Some(team_id) = team_id {
        sql.push(" AND team_id = ").param(team_id);
    }
    conn.query_one_raw(sql.build())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn list_for_team(db: &Db, team_id: i32) -> Result<Vec<Schedule>> {
    list(db, Some(team_id)).await
}

/// Every schedule of every team, paused ones included, for the scheduler's jobs and sweeps.
pub async fn list_all(db: &Db) -> Result<Vec<Schedule>> {
    list(db, None).await
}

/// The schedules of one team, or of all, by id.
async fn list(db: &Db, team_id: Option<i32>) -> Result<Vec<Schedule>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ").push(COLUMNS).push(" FROM schedules");
    if let Some(team_id) = team_id {
        sql.push(" WHERE team_id = ").param(team_id);
    }
    sql.push(" ORDER BY id");
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter().map(from_row).collect()
}

/// Replaces what the schedule says. A new cron or timezone, or a resume, moves `active_since` to
/// `now`, so the change never sends a digest for an occurrence that came before it.
pub async fn update(
    db: &Db,
    team_id: i32,
    id: i32,
    fields: &ScheduleFields,
    now: DateTime<Utc>,
) -> Result<Option<Schedule>> {
    let txn = db.begin_write().await?;
    let Some(old) = by_id(&txn, id, Some(team_id)).await? else {
        return Ok(None);
    };
    let restarts = old.cron != fields.cron
        || old.timezone != fields.timezone
        || (old.paused && !fields.paused);
    let active_since = if restarts { now } else { old.active_since };
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE schedules SET report = ")
        .param(fields.report.clone())
        .push(", cron = ")
        .param(fields.cron.clone())
        .push(", timezone = ")
        .param(fields.timezone.clone())
        .push(", recipients = ")
        .param(recipients_json(&fields.recipients))
        .push(", channels = ")
        .param(fields.channels.clone())
        .push(", skip_empty = ")
        .param(fields.skip_empty)
        .push(", paused = ")
        .param(fields.paused)
        .push(", active_since = ")
        .param(active_since.timestamp_millis())
        .push(", updated_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE id = ")
        .param(id)
        .push(" RETURNING ")
        .push(COLUMNS);
    let row = txn
        .query_one_raw(sql.build())
        .await?
        .ok_or_else(|| StoreError::Invalid("UPDATE … RETURNING gave no row".to_owned()))?;
    txn.commit().await?;
    from_row(&row).map(Some)
}

/// Deletes the schedule and its delivery log; `false` when the team has no such schedule.
pub async fn delete(db: &Db, team_id: i32, id: i32) -> Result<bool> {
    let txn = db.begin_write().await?;
    // Explicitly, rather than through the foreign key: SQLite enforces cascades only with
    // `foreign_keys` on, and a second process may have opened the file without it.
    let mut sql = Sql::new(db.backend());
    sql.push("DELETE FROM deliveries WHERE schedule_id = ")
        .param(id)
        .push(" AND team_id = ")
        .param(team_id);
    txn.execute_raw(sql.build()).await?;
    let mut sql = Sql::new(db.backend());
    sql.push("DELETE FROM schedules WHERE id = ")
        .param(id)
        .push(" AND team_id = ")
        .param(team_id);
    let deleted = txn.execute_raw(sql.build()).await?.rows_affected() > 0;
    txn.commit().await?;
    Ok(deleted)
}
