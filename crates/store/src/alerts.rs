//! Alerts and their state. An alert's definition is stored as JSON (the report crate parses
//! it); each segment has a state row whose episode counts its entries into the alert state. A
//! change of state is a compare-and-set on (firing, episode), so of several servers checking at
//! once exactly one records it; the events and their deliveries are unique besides.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::Sql;

pub mod deliveries;
pub mod events;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: i32,
    pub team_id: i32,
    pub name: String,
    pub kpi: String,
    /// The definition, JSON.
    pub spec: String,
    /// The channels, a JSON array.
    pub channels: String,
    /// The person who made it; `None` when a token made it (its team's admins own it).
    pub owner_user_id: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a create or an update writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFields {
    pub name: String,
    pub kpi: String,
    pub spec: String,
    pub channels: String,
}

pub(crate) fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

const COLUMNS: &str =
    "id, team_id, name, kpi, spec, channels, created_at, updated_at, owner_user_id";

fn from_row(row: &QueryResult) -> Result<Alert> {
    Ok(Alert {
        id: row.try_get_by_index(0)?,
        team_id: row.try_get_by_index(1)?,
        name: row.try_get_by_index(2)?,
        kpi: row.try_get_by_index(3)?,
        spec: row.try_get_by_index(4)?,
        channels: row.try_get_by_index(5)?,
        created_at: instant(row.try_get_by_index(6)?),
        updated_at: instant(row.try_get_by_index(7)?),
        owner_user_id: row.try_get_by_index(8)?,
    })
}

async fn query_all(db: &Db, sql: Sql) -> Result<Vec<Alert>> {
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter().map(from_row).collect()
}

pub async fn create(
    db: &Db,
    team_id: i32,
    f: &AlertFields,
    owner_user_id: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Alert> {
    let mut sql = Sql::new(db.backend());
    sql.push(
        "INSERT INTO alerts (team_id, name, kpi, spec, channels, created_at, updated_at, \
         owner_user_id) VALUES (",
    )
    .param(team_id)
    .push(", ")
    .param(f.name.clone())
    .push(", ")
    .param(f.kpi.clone())
    .push(", ")
    .param(f.spec.clone())
    .push(", ")
    .param(f.channels.clone())
    .push(", ")
    .param(now.timestamp_millis())
    .push(", ")
    .param(now.timestamp_millis())
    .push(", ")
    .param(owner_user_id)
    .push(") RETURNING ")
    .push(COLUMNS);
    query_all(db, sql)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Invalid("INSERT … RETURNING gave no row".to_owned()))
}

/// Replaces the definition; a changed alert starts over: its segments' states are forgotten,
/// so what holds under the new definition notifies anew. `None` for an unknown id.
pub async fn update(
    db: &Db,
    team_id: i32,
    id: i32,
    f: &AlertFields,
    now: DateTime<Utc>,
) -> Result<Option<Alert>> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE alerts SET name = ")
        .param(f.name.clone())
        .push(", kpi = ")
        .param(f.kpi.clone())
        .push(", spec = ")
        .param(f.spec.clone())
        .push(", channels = ")
        .param(f.channels.clone())
        .push(", updated_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE id = ")
        .param(id)
        .push(" AND team_id = ")
        .param(team_id)
        .push(" RETURNING ")
        .push(COLUMNS);
    Ok(query_all(db, sql).await?.into_iter().next())
}

pub async fn get(db: &Db, team_id: i32, id: i32) -> Result<Option<Alert>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM alerts WHERE id = ")
        .param(id)
        .push(" AND team_id = ")
        .param(team_id);
    Ok(query_all(db, sql).await?.into_iter().next())
}

/// An alert by id alone (the scheduler's take-over of a delivery; never for the API).
pub async fn find(db: &Db, id: i32) -> Result<Option<Alert>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM alerts WHERE id = ")
        .param(id);
    Ok(query_all(db, sql).await?.into_iter().next())
}

/// Every team's alerts whose definition names a cron (a cheap text test; the caller parses).
pub async fn list_with_cron(db: &Db) -> Result<Vec<Alert>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM alerts WHERE spec LIKE '%\"cron\":%' ORDER BY id");
    query_all(db, sql).await
}

pub async fn list(db: &Db, team_id: i32) -> Result<Vec<Alert>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM alerts WHERE team_id = ")
        .param(team_id)
        .push(" ORDER BY id");
    query_all(db, sql).await
}

pub async fn delete(db: &Db, team_id: i32, id: i32) -> Result<bool> {
    let mut sql = Sql::new(db.backend());
    sql.push("DELETE FROM alerts WHERE id = ")
        .param(id)
        .push(" AND team_id = ")
        .param(team_id);
    Ok(db.conn().execute_raw(sql.build()).await?.rows_affected() > 0)
}

/// One segment's state: whether it is in the alert state, and its episode (entries so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub firing: bool,
    pub episode: i32,
}

/// The states of one alert's segments (`""` for the whole team).
pub async fn states(db: &Db, alert_id: i32) -> Result<Vec<(String, State)>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT segment, firing, episode FROM alert_states WHERE alert_id = ")
        .param(alert_id);
    let mut out = Vec::new();
    for row in db.conn().query_all_raw(sql.build()).await? {
        out.push((
            row.try_get_by_index(0)?,
            State {
                firing: row.try_get_by_index(1)?,
                episode: row.try_get_by_index(2)?,
            },
        ));
    }
    Ok(out)
}

/// How many segments of each of the team's alerts are in the alert state now, in one query
/// (alerts with none are absent).
pub async fn firing_counts(db: &Db, team_id: i32) -> Result<std::collections::HashMap<i32, usize>> {
    let mut sql = Sql::new(db.backend());
    sql.push(
        "SELECT s.alert_id, COUNT(*) FROM alert_states s JOIN alerts a ON a.id = s.alert_id \
         WHERE a.team_id = ",
    )
    .param(team_id)
    .push(" AND s.firing = ")
    .param(true)
    .push(" GROUP BY s.alert_id");
    let mut out = std::collections::HashMap::new();
    for row in db.conn().query_all_raw(sql.build()).await? {
        let id: i32 = row.try_get_by_index(0)?;
        let n: i64 = row.try_get_by_index(1)?;
        out.insert(id, usize::try_from(n).unwrap_or(0));
    }
    Ok(out)
}

/// Re-arms every segment (a changed definition starts over): none is in the alert state, and
/// each keeps its episode count, so the next entry is a new episode with its own event.
pub async fn reset_states(db: &Db, alert_id: i32) -> Result<()> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE alert_states SET firing = ")
        .param(false)
        .push(" WHERE alert_id = ")
        .param(alert_id);
    db.conn().execute_raw(sql.build()).await?;
    Ok(())
}

/// Moves a segment from `from` to the other state (entering starts the next episode). `Some`
/// with the new state when this caller made the change; `None` when the stored state was not
/// `from` any more (another server changed it first).
pub async fn transition(
    db: &Db,
    alert_id: i32,
    segment: &str,
    from: State,
    now: DateTime<Utc>,
) -> Result<Option<State>> {
    let conn = db.conn();
    if from
        == (State {
            firing: false,
            episode: 0,
        })
    {
        let mut sql = Sql::new(db.backend());
        sql.push(
            "INSERT INTO alert_states (alert_id, segment, firing, episode, updated_at) VALUES (",
        )
        .param(alert_id)
        .push(", ")
        .param(segment.to_owned())
        .push(", ")
        .param(false)
        .push(", 0, ")
        .param(now.timestamp_millis())
        .push(") ON CONFLICT DO NOTHING");
        conn.execute_raw(sql.build()).await?;
    }
    let to = State {
        firing: !from.firing,
        episode: from.episode + i32::from(!from.firing),
    };
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE alert_states SET firing = ")
        .param(to.firing)
        .push(", episode = ")
        .param(to.episode)
        .push(", updated_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE alert_id = ")
        .param(alert_id)
        .push(" AND segment = ")
        .param(segment.to_owned())
        .push(" AND firing = ")
        .param(from.firing)
        .push(" AND episode = ")
        .param(from.episode);
    let changed = conn.execute_raw(sql.build()).await?.rows_affected() > 0;
    Ok(changed.then_some(to))
}
