//! The delivery log: one row per digest and recipient. A scheduled row is a claim: the partial
//! unique index on (schedule, period, recipient) lets exactly one `INSERT … ON CONFLICT DO
//! NOTHING` win, however many firings, processes and restarts try. A `pending` row carries a lease;
//! a sender that dies leaves it to expire, and another sender may then take it over once.

use std::fmt;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::Sql;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Claimed; a sender holds the lease and is (or was) sending.
    Pending,
    Sent,
    Failed,
    /// Not sent on purpose: the schedule skips periods without data.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> Result<Status> {
        Ok(match s {
            "pending" => Status::Pending,
            "sent" => Status::Sent,
            "failed" => Status::Failed,
            "skipped" => Status::Skipped,
            other => return Err(StoreError::Invalid(format!("delivery status `{other}`"))),
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Due by the schedule's cron: at most one per (schedule, period, recipient).
    Schedule,
    /// `send-now`: an explicit request, logged but never blocked by a claim.
    Manual,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Schedule => "schedule",
            Origin::Manual => "manual",
        }
    }

    fn parse(s: &str) -> Result<Origin> {
        match s {
            "schedule" => Ok(Origin::Schedule),
            "manual" => Ok(Origin::Manual),
            other => Err(StoreError::Invalid(format!("delivery origin `{other}`"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i32,
    pub schedule_id: i32,
    pub team_id: i32,
    pub period: String,
    pub recipient: String,
    pub origin: Origin,
    pub status: Status,
    pub attempts: i32,
    /// The last failure: the SMTP server's answer, or why the digest could not be made.
    pub error: Option<String>,
    /// The SMTP server's reply to the accepted message.
    pub response: Option<String>,
    pub message_id: String,
    pub claimed_at: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
    pub recoveries: i32,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Whether the schedule's owner was told that this delivery failed for good.
    pub owner_told: bool,
}

/// A claim to make: one recipient of one digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub recipient: String,
    pub message_id: String,
}

const COLUMNS: &str = "id, schedule_id, team_id, period, recipient, origin, status, attempts, \
                       error, response, message_id, claimed_at, lease_until, recoveries, sent_at, \
                       updated_at, owner_told";

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn from_row(row: &QueryResult) -> Result<Delivery> {
    let origin: String = row.try_get_by_index(5)?;
    let status: String = row.try_get_by_index(6)?;
    let sent_at: Option<i64> = row.try_get_by_index(14)?;
    Ok(Delivery {
        id: row.try_get_by_index(0)?,
        schedule_id: row.try_get_by_index(1)?,
        team_id: row.try_get_by_index(2)?,
        period: row.try_get_by_index(3)?,
        recipient: row.try_get_by_index(4)?,
        origin: Origin::parse(&origin)?,
        status: Status::parse(&status)?,
        attempts: row.try_get_by_index(7)?,
        error: row.try_get_by_index(8)?,
        response: row.try_get_by_index(9)?,
        message_id: row.try_get_by_index(10)?,
        claimed_at: instant(row.try_get_by_index(11)?),
        lease_until: instant(row.try_get_by_index(12)?),
        recoveries: row.try_get_by_index(13)?,
        sent_at: sent_at.map(instant),
        updated_at: instant(row.try_get_by_index(15)?),
        owner_told: row.try_get_by_index(16)?,
    })
}

async fn query_all(db: &Db, sql: Sql) -> Result<Vec<Delivery>> {
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter().map(from_row).collect()
}

async fn query_one(db: &Db, sql: Sql) -> Result<Option<Delivery>> {
    db.conn()
        .query_one_raw(sql.build())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// `UPDATE deliveries SET <first>, claimed_at = now, lease_until = …, updated_at = now`: a row
/// leased to this caller until `lease_until`.
fn lease(sql: &mut Sql, first: &str, now: DateTime<Utc>, lease_until: DateTime<Utc>) {
    sql.push(&format!("UPDATE deliveries SET {first}, claimed_at = "))
        .param(now.timestamp_millis())
        .push(", lease_until = ")
        .param(lease_until.timestamp_millis())
        .push(", updated_at = ")
        .param(now.timestamp_millis());
}

/// The `(schedule, period, recipient)` of every scheduled delivery of these schedules for these
/// periods: what is already claimed, so a sweep writes only when something is missing.
pub async fn claimed(
    db: &Db,
    schedule_ids: &[i32],
    periods: &[String],
) -> Result<Vec<(i32, String, String)>> {
    let mut out = Vec::new();
    if periods.is_empty() {
        return Ok(out);
    }
    for chunk in schedule_ids.chunks(500) {
        let mut sql = Sql::new(db.backend());
        sql.push(
            "SELECT schedule_id, period, recipient FROM deliveries WHERE origin = 'schedule' \
             AND schedule_id IN (",
        );
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.param(*id);
        }
        sql.push(") AND period IN (");
        for (i, p) in periods.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.param(p.clone());
        }
        sql.push(")");
        for row in db.conn().query_all_raw(sql.build()).await? {
            out.push((
                row.try_get_by_index(0)?,
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
            ));
        }
    }
    Ok(out)
}

/// Claims the scheduled deliveries of `period` for these recipients and returns the rows this
/// call won (status `pending`, leased until `lease_until`). A recipient someone else already
/// claimed, now or ever, is not returned: that is the exactly-once guarantee.
pub async fn claim(
    db: &Db,
    (team_id, schedule_id): (i32, i32),
    period: &str,
    claims: &[NewDelivery],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Vec<Delivery>> {
    insert(
        db,
        (team_id, schedule_id),
        period,
        claims,
        Origin::Schedule,
        (now, lease_until),
    )
    .await
}

/// Logs deliveries made by `send-now` (pending until their outcome is recorded).
pub async fn insert_manual(
    db: &Db,
    (team_id, schedule_id): (i32, i32),
    period: &str,
    claims: &[NewDelivery],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Vec<Delivery>> {
    insert(
        db,
        (team_id, schedule_id),
        period,
        claims,
        Origin::Manual,
        (now, lease_until),
    )
    .await
}

async fn insert(
    db: &Db,
    (team_id, schedule_id): (i32, i32),
    period: &str,
    claims: &[NewDelivery],
    origin: Origin,
    (now, lease_until): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<Delivery>> {
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(db.backend());
    sql.push(
        "INSERT INTO deliveries (schedule_id, team_id, period, recipient, origin, status, \
         attempts, message_id, claimed_at, lease_until, recoveries, updated_at) VALUES ",
    );
    for (i, c) in claims.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .param(schedule_id)
            .push(", ")
            .param(team_id)
            .push(", ")
            .param(period.to_owned())
            .push(", ")
            .param(c.recipient.clone())
            .push(", ")
            .param(origin.as_str())
            .push(", 'pending', 0, ")
            .param(c.message_id.clone())
            .push(", ")
            .param(now.timestamp_millis())
            .push(", ")
            .param(lease_until.timestamp_millis())
            .push(", 0, ")
            .param(now.timestamp_millis())
            .push(")");
    }
    // No conflict target: the partial claim index is the only unique one that can conflict, and
    // naming a partial index as a target needs its predicate repeated on both backends.
    sql.push(" ON CONFLICT DO NOTHING RETURNING ").push(COLUMNS);
    query_all(db, sql).await
}

/// Records an attempt about to be made (or a transient failure and the wait before the next),
/// extending the lease; `false` when this sender no longer holds the row.
pub async fn renew(
    db: &Db,
    id: i32,
    attempts: i32,
    error: Option<&str>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE deliveries SET attempts = ")
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

pub async fn mark_sent(
    db: &Db,
    id: i32,
    attempts: i32,
    response: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE deliveries SET status = 'sent', attempts = ")
        .param(attempts)
        .push(", response = ")
        .param(response.to_owned())
        .push(", error = NULL, sent_at = ")
        .param(now.timestamp_millis())
        .push(", updated_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE id = ")
        .param(id);
    db.conn().execute_raw(sql.build()).await?;
    Ok(())
}

/// Ends a pending row as `failed` or `skipped` with the reason.
pub async fn finish(
    db: &Db,
    id: i32,
    status: Status,
    attempts: i32,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE deliveries SET status = ")
        .param(status.as_str())
        .push(", attempts = ")
        .param(attempts)
        .push(", error = ")
        .param(error.to_owned())
        .push(", updated_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE id = ")
        .param(id);
    db.conn().execute_raw(sql.build()).await?;
    Ok(())
}

/// Marks that the schedule's owner is being told of this row's failure: `true` for exactly one
/// caller.
pub async fn take_owner_notice(db: &Db, id: i32) -> Result<bool> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE deliveries SET owner_told = ")
        .param(true)
        .push(" WHERE id = ")
        .param(id)
        .push(" AND status = 'failed' AND owner_told = ")
        .param(false);
    Ok(db.conn().execute_raw(sql.build()).await?.rows_affected() > 0)
}

/// Pending rows whose lease ran out by `now`: their sender died (or lost the database).
pub async fn expired_leases(db: &Db, now: DateTime<Utc>) -> Result<Vec<Delivery>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM deliveries WHERE status = 'pending' AND lease_until < ")
        .param(now.timestamp_millis())
        .push(" ORDER BY id LIMIT 1000");
    query_all(db, sql).await
}

/// Takes over an expired pending row, once in its life: `Some(row)` when this caller won it.
pub async fn take_over(
    db: &Db,
    id: i32,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<Delivery>> {
    let mut sql = Sql::new(db.backend());
    lease(&mut sql, "recoveries = recoveries + 1", now, lease_until);
    sql.push(" WHERE id = ")
        .param(id)
        .push(" AND status = 'pending' AND recoveries = 0 AND lease_until < ")
        .param(now.timestamp_millis())
        .push(" RETURNING ")
        .push(COLUMNS);
    query_one(db, sql).await
}

/// Gives up on an expired pending row that was already taken over once: marks it `failed`.
pub async fn abandon(db: &Db, id: i32, reason: &str, now: DateTime<Utc>) -> Result<bool> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE deliveries SET status = 'failed', error = ")
        .param(reason.to_owned())
        .push(", updated_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE id = ")
        .param(id)
        .push(" AND status = 'pending' AND recoveries > 0 AND lease_until < ")
        .param(now.timestamp_millis());
    Ok(db.conn().execute_raw(sql.build()).await?.rows_affected() > 0)
}

/// Re-opens a failed row of the team for another try: `Some(row)` (now pending, leased) when it
/// was failed and this caller won it.
pub async fn reopen_failed(
    db: &Db,
    team_id: i32,
    id: i32,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<Delivery>> {
    let mut sql = Sql::new(db.backend());
    lease(&mut sql, "status = 'pending'", now, lease_until);
    sql.push(" WHERE id = ")
        .param(id)
        .push(" AND team_id = ")
        .param(team_id)
        .push(" AND status = 'failed' RETURNING ")
        .push(COLUMNS);
    query_one(db, sql).await
}

pub async fn get(db: &Db, team_id: i32, id: i32) -> Result<Option<Delivery>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM deliveries WHERE id = ")
        .param(id)
        .push(" AND team_id = ")
        .param(team_id);
    query_one(db, sql).await
}

/// The team's newest deliveries first, optionally of one schedule.
pub async fn list(
    db: &Db,
    team_id: i32,
    schedule_id: Option<i32>,
    limit: u64,
) -> Result<Vec<Delivery>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM deliveries WHERE team_id = ")
        .param(team_id);
    if let Some(schedule_id) = schedule_id {
        sql.push(" AND schedule_id = ").param(schedule_id);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .param(i64::try_from(limit).unwrap_or(i64::MAX));
    query_all(db, sql).await
}

/// Every delivery of one schedule, oldest first (tests and the bench count on it).
pub async fn list_for_schedule(db: &Db, schedule_id: i32) -> Result<Vec<Delivery>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM deliveries WHERE schedule_id = ")
        .param(schedule_id)
        .push(" ORDER BY id");
    query_all(db, sql).await
}

/// How many deliveries are in each status, over every team (for the bench and metrics).
pub async fn count_by_status(db: &Db) -> Result<Vec<(Status, i64)>> {
    let sql = {
        let mut sql = Sql::new(db.backend());
        sql.push("SELECT status, COUNT(*) FROM deliveries GROUP BY status ORDER BY status");
        sql
    };
    let mut out = Vec::new();
    for row in db.conn().query_all_raw(sql.build()).await? {
        let status: String = row.try_get_by_index(0)?;
        out.push((Status::parse(&status)?, row.try_get_by_index(1)?));
    }
    Ok(out)
}

/// Deliveries claimed and not yet settled (`pending`), over every team, and the claim time of
/// the oldest: the delivery queue as metrics show it.
pub async fn pending_queue(db: &Db) -> Result<(u64, Option<DateTime<Utc>>)> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT COUNT(*), MIN(claimed_at) FROM deliveries WHERE status = 'pending'");
    let Some(row) = db.conn().query_one_raw(sql.build()).await? else {
        return Ok((0, None));
    };
    let n: i64 = row.try_get_by_index(0)?;
    let oldest: Option<i64> = row.try_get_by_index(1)?;
    Ok((
        u64::try_from(n).unwrap_or(0),
        oldest.and_then(DateTime::from_timestamp_millis),
    ))
}

#[cfg(test)]
mod tests;
