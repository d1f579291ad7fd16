//! The alert delivery log: one row per (event, channel). Inserting it is the claim: of every
//! server, restart and repeated data load that tries, exactly one `INSERT … ON CONFLICT DO
//! NOTHING` wins, and only the winner sends. A pending row carries a lease like a digest's.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use super::instant;
use crate::Db;
use crate::deliveries::Status;
use crate::error::{Result, StoreError};
use crate::sql::Sql;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDelivery {
    pub id: i32,
    pub event_id: i32,
    pub alert_id: i32,
    pub team_id: i32,
    pub channel: String,
    pub status: Status,
    pub attempts: i32,
    pub error: Option<String>,
    pub response: Option<String>,
    pub delivery_key: String,
    pub lease_until: DateTime<Utc>,
    pub owner_told: bool,
    pub sent_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, event_id, alert_id, team_id, channel, status, attempts, error, \
                       response, delivery_key, lease_until, owner_told, sent_at";

fn status(s: &str) -> Result<Status> {
    Ok(match s {
        "pending" => Status::Pending,
        "sent" => Status::Sent,
        "failed" => Status::Failed,
        "skipped" => Status::Skipped,
        other => return Err(StoreError::Invalid(format!("delivery status `{other}`"))),
    })
}

fn from_row(row: &QueryResult) -> Result<AlertDelivery> {
    let st: String = row.try_get_by_index(5)?;
    let sent_at: Option<i64> = row.try_get_by_index(12)?;
    Ok(AlertDelivery {
        id: row.try_get_by_index(0)?,
        event_id: row.try_get_by_index(1)?,
        alert_id: row.try_get_by_index(2)?,
        team_id: row.try_get_by_index(3)?,
        channel: row.try_get_by_index(4)?,
        status: status(&st)?,
        attempts: row.try_get_by_index(6)?,
        error: row.try_get_by_index(7)?,
        response: row.try_get_by_index(8)?,
        delivery_key: row.try_get_by_index(9)?,
        lease_until: instant(row.try_get_by_index(10)?),
        owner_told: row.try_get_by_index(11)?,
        sent_at: sent_at.map(instant),
    })
}

async fn query_all(db: &Db, sql: Sql) -> Result<Vec<AlertDelivery>> {
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter().map(from_row).collect()
}

/// Claims the deliveries of one event, `(channel key, delivery key)` each; returns the rows this
/// call won, pending and leased.
pub async fn claim(
    db: &Db,
    (team_id, alert_id, event_id): (i32, i32, i32),
    claims: &[(String, String)],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Vec<AlertDelivery>> {
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(db.backend());
    sql.push(
        "INSERT INTO alert_deliveries (event_id, alert_id, team_id, channel, status, attempts, \
         delivery_key, claimed_at, lease_until, recoveries, owner_told, updated_at) VALUES ",
    );
    for (i, (channel, key)) in claims.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .param(event_id)
            .push(", ")
            .param(alert_id)
            .push(", ")
            .param(team_id)
            .push(", ")
            .param(channel.clone())
            .push(", 'pending', 0, ")
            .param(key.clone())
            .push(", ")
            .param(now.timestamp_millis())
            .push(", ")
            .param(lease_until.timestamp_millis())
            .push(", 0, ")
            .param(false)
            .push(", ")
            .param(now.timestamp_millis())
            .push(")");
    }
    sql.push(" ON CONFLICT DO NOTHING RETURNING ").push(COLUMNS);
    query_all(db, sql).await
}

/// Records an attempt about to be made, extending the lease; `false` when the row is no
/// longer pending (someone else finished it).
pub async fn renew(
    db: &Db,
    id: i32,
    attempts: i32,
    error: Option<&str>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE alert_deliveries SET attempts = ")
        .param(attempts)
        .push(", error = ")
        .param(error.map(str::to_owned))
        .push(", lease_until = ")
        .param(lease_until.timestamp_millis())
        .push(", updated_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE id = ")
        .param(id)
        .push(" AND status = 'pending'");
    Ok(db.conn().execute_raw(sql.build()).await?.rows_affected() > 0)
}

/// Ends a row: `sent` with the receiver's answer, or `failed` with the reason.
pub async fn finish(
    db: &Db,
    id: i32,
    status: Status,
    attempts: i32,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut sql = Sql::new(db.backend());
    let sent = status == Status::Sent;
    sql.push("UPDATE alert_deliveries SET status = ")
        .param(status.as_str())
        .push(", attempts = ")
        .param(attempts)
        .push(if sent { ", response = " } else { ", error = " })
        .param(outcome.to_owned())
        .push(", sent_at = ")
        .param(sent.then_some(now.timestamp_millis()))
        .push(", updated_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE id = ")
        .param(id);
    db.conn().execute_raw(sql.build()).await?;
    Ok(())
}

/// Marks that the owner is being told of this row's failure: `true` for exactly one caller.
pub async fn take_owner_notice(db: &Db, id: i32) -> Result<bool> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE alert_deliveries SET owner_told = ")
        .param(true)
        .push(" WHERE id = ")
        .param(id)
        .push(" AND status = 'failed' AND owner_told = ")
        .param(false);
    Ok(db.conn().execute_raw(sql.build()).await?.rows_affected() > 0)
}

/// Every delivery of an alert, oldest first.
pub async fn list_for_alert(db: &Db, alert_id: i32) -> Result<Vec<AlertDelivery>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM alert_deliveries WHERE alert_id = ")
        .param(alert_id)
        .push(" ORDER BY id");
    query_all(db, sql).await
}

/// Pending rows whose lease ran out by `now`: their sender stopped.
pub async fn expired_leases(db: &Db, now: DateTime<Utc>) -> Result<Vec<(AlertDelivery, i32)>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(", recoveries FROM alert_deliveries WHERE status = 'pending' AND lease_until < ")
        .param(now.timestamp_millis())
        .push(" ORDER BY id LIMIT 1000");
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter()
        .map(|r| Ok((from_row(r)?, r.try_get_by_index(13)?)))
        .collect()
}

/// Takes over an expired pending row, once in its life: `Some(row)` when this caller won it.
pub async fn take_over(
    db: &Db,
    id: i32,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<AlertDelivery>> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE alert_deliveries SET recoveries = recoveries + 1, claimed_at = ")
        .param(now.timestamp_millis())
        .push(", lease_until = ")
        .param(lease_until.timestamp_millis())
        .push(", updated_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE id = ")
        .param(id)
        .push(" AND status = 'pending' AND recoveries = 0 AND lease_until < ")
        .param(now.timestamp_millis())
        .push(" RETURNING ")
        .push(COLUMNS);
    db.conn()
        .query_one_raw(sql.build())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Gives up on an expired row already taken over once: `true` when this caller marked it
/// failed.
pub async fn abandon(db: &Db, id: i32, reason: &str, now: DateTime<Utc>) -> Result<bool> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE alert_deliveries SET status = 'failed', error = ")
        .param(reason.to_owned())
        .push(", updated_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE id = ")
        .param(id)
        .push(" AND status = 'pending' AND recoveries > 0 AND lease_until < ")
        .param(now.timestamp_millis());
    Ok(db.conn().execute_raw(sql.build()).await?.rows_affected() > 0)
}
