//! Browser sessions, kept server-side so that signing out, or revoking the token a session was
//! opened with, ends it at once on every replica. The cookie holds a random secret; the table
//! holds its SHA-256 as the session's id, so a copy of the table opens no session.
//!
//! A session is checked on every request with one query on the primary key (joined with its
//! team and its token); nothing is cached in the process, so a revocation is seen by the very
//! next request on any replica.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::{ConnectionTrait, QueryResult};

use crate::Db;
use crate::entities::team;
use crate::error::{Result, StoreError};
use crate::sql::Sql;
use crate::teams::Team;
use crate::tokens::{Role, hash_token};

/// "Last seen" is written at most this often per session.
pub const LAST_SEEN_RESOLUTION: Duration = Duration::minutes(1);

/// A session that is open: not expired, not ended, its token (if any) not revoked.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveSession {
    /// The stored id (the hash of the cookie's secret): stable for the session's life, never
    /// sent to the browser.
    pub id: String,
    pub team: Team,
    pub role: Role,
    /// The token the session was opened with.
    pub token_id: Option<i32>,
    /// The person signed in (with a password or a link); `None` for a token's session.
    pub user_id: Option<i32>,
    pub expires_at: DateTime<Utc>,
}

/// A new session: the secret for the cookie (shown once, never stored) and its id.
#[derive(Debug, Clone)]
pub struct Opened {
    pub secret: String,
    pub id: String,
    pub expires_at: DateTime<Utc>,
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens a session for `team_id` with `role`, lasting `ttl`. Sessions that expired before `now`
/// are swept away on the way (sign-ins are rare and rate-limited; requests never pay for it).
pub async fn open(
    db: &Db,
    team_id: i32,
    role: Role,
    token_id: Option<i32>,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Opened> {
    insert(db, team_id, role, token_id, None, now, ttl).await
}

/// Opens a session for person `user_id` in team `team_id`, where they are a member with `role`
/// (the role is read again from the membership on every request).
pub async fn open_for_user(
    db: &Db,
    user_id: i32,
    team_id: i32,
    role: Role,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Opened> {
    insert(db, team_id, role, None, Some(user_id), now, ttl).await
}

async fn insert(
    db: &Db,
    team_id: i32,
    role: Role,
    token_id: Option<i32>,
    user_id: Option<i32>,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Opened> {
    let secret = new_secret();
    let id = hash_token(&secret);
    let expires_at = now + ttl;
    let now_ms = now.timestamp_millis();
    let mut sweep = Sql::new(db.backend());
    sweep
        .push("DELETE FROM sessions WHERE expires_at < ")
        .param(now_ms);
    db.conn().execute_raw(sweep.build()).await?;
    let mut sql = Sql::new(db.backend());
    sql.push(
        "INSERT INTO sessions (id, team_id, role, token_id, user_id, created_at, expires_at, \
         last_seen_at) VALUES (",
    )
    .param(id.clone())
    .push(", ")
    .param(team_id)
    .push(", ")
    .param(role.as_str())
    .push(", ")
    .param(token_id)
    .push(", ")
    .param(user_id)
    .push(", ")
    .param(now_ms)
    .push(", ")
    .param(expires_at.timestamp_millis())
    .push(", ")
    .param(now_ms)
    .push(")");
    db.conn().execute_raw(sql.build()).await?;
    Ok(Opened {
        secret,
        id,
        expires_at,
    })
}

fn read(row: &QueryResult, id: String) -> Result<(ActiveSession, i64)> {
    let role: String = row.try_get_by_index(0)?;
    let expires_ms: i64 = row.try_get_by_index(2)?;
    let model = team::Model {
        id: row.try_get_by_index(4)?,
        slug: row.try_get_by_index(5)?,
        name: row.try_get_by_index(6)?,
        timezone: row.try_get_by_index(7)?,
        data_version: row.try_get_by_index(8)?,
        created_at: row.try_get_by_index(9)?,
        rollup_version: row.try_get_by_index(10)?,
        currency: row.try_get_by_index(11)?,
    };
    let session = ActiveSession {
        id,
        team: Team::try_from(model)?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Invalid(format!("stored role `{role}`")))?,
        token_id: row.try_get_by_index(1)?,
        user_id: row.try_get_by_index(12)?,
        expires_at: DateTime::from_timestamp_millis(expires_ms)
            .ok_or_else(|| StoreError::Invalid(format!("stored instant {expires_ms}")))?,
    };
    Ok((session, row.try_get_by_index(3)?))
}

/// The open session whose cookie holds `secret`, with its team: one query on the primary key.
/// Notes when it was seen, at most once a minute.
pub async fn find_active(
    db: &Db,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<ActiveSession>> {
    // Anything else in the cookie (an old signed cookie, garbage) is no session: no query.
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let id = hash_token(secret);
    let now_ms = now.timestamp_millis();
    let mut sql = Sql::new(db.backend());
    sql.push(
        "SELECT COALESCE(m.role, s.role), s.token_id, s.expires_at, s.last_seen_at, \
         t.id, t.slug, t.name, t.timezone, t.data_version, t.created_at, t.rollup_version, \
         t.currency, s.user_id \
         FROM sessions s JOIN teams t ON t.id = s.team_id \
         LEFT JOIN api_tokens k ON k.id = s.token_id \
         LEFT JOIN memberships m ON m.user_id = s.user_id AND m.team_id = s.team_id \
         WHERE s.id = ",
    )
    .param(id.clone())
    .push(
        " AND s.revoked_at IS NULL AND k.revoked_at IS NULL \
         AND (s.user_id IS NULL OR m.user_id IS NOT NULL) AND s.expires_at > ",
    )
    .param(now_ms);
    let Some(row) = db.conn().query_one_raw(sql.build()).await? else {
        return Ok(None);
    };
    let (session, last_seen) = read(&row, id)?;
    let stale_before = now_ms - LAST_SEEN_RESOLUTION.num_milliseconds();
    if last_seen <= stale_before {
        let mut touch = Sql::new(db.backend());
        touch
            .push("UPDATE sessions SET last_seen_at = ")
            .param(now_ms)
            .push(" WHERE id = ")
            .param(session.id.clone())
            .push(" AND last_seen_at <= ")
            .param(stale_before);
        db.conn().execute_raw(touch.build()).await?;
    }
    Ok(Some(session))
}

/// Ends the session `id` (signing out). `false` when it was not open.
pub async fn end(db: &Db, id: &str, now: DateTime<Utc>) -> Result<bool> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE sessions SET revoked_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE id = ")
        .param(id)
        .push(" AND revoked_at IS NULL");
    Ok(db.conn().execute_raw(sql.build()).await?.rows_affected() > 0)
}

/// Ends every session of person `user_id` ("sign out everywhere", a new password).
pub async fn end_all_of_user(
    conn: &impl ConnectionTrait,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut sql = Sql::new(conn.get_database_backend());
    sql.push("UPDATE sessions SET revoked_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE user_id = ")
        .param(user_id)
        .push(" AND revoked_at IS NULL");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// Moves person `user_id`'s session `id` to team `team_id`, where they must be a member.
/// `false` when they are not (nothing changes).
pub async fn switch_team(db: &Db, id: &str, user_id: i32, team_id: i32) -> Result<bool> {
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE sessions SET team_id = ")
        .param(team_id)
        .push(", role = (SELECT role FROM memberships WHERE user_id = ")
        .param(user_id)
        .push(" AND team_id = ")
        .param(team_id)
        .push(") WHERE revoked_at IS NULL AND id = ")
        .param(id)
        .push(" AND user_id = ")
        .param(user_id)
        .push(" AND EXISTS (SELECT 1 FROM memberships WHERE user_id = ")
        .param(user_id)
        .push(" AND team_id = ")
        .param(team_id)
        .push(")");
    Ok(db.conn().execute_raw(sql.build()).await?.rows_affected() > 0)
}

/// Ends every session opened with token `token_id` (the token is being revoked).
pub(crate) async fn end_opened_with(
    conn: &impl ConnectionTrait,
    token_id: i32,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut sql = Sql::new(conn.get_database_backend());
    sql.push("UPDATE sessions SET revoked_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE token_id = ")
        .param(token_id)
        .push(" AND revoked_at IS NULL");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::test_db;
    use crate::{teams, tokens};
    use lodestar_core::period::Timezone;

    #[tokio::test]
    async fn a_session_is_open_until_it_ends_expires_or_its_token_is_revoked() {
        let (db, _dir) = test_db().await;
        let utc = Timezone::parse("UTC").expect("UTC");
        let team = teams::create(&db, "acme", "Acme", &utc)
            .await
            .expect("team");
        tokens::create(&db, team.id, Role::Admin)
            .await
            .expect("token");
        let token_id = tokens::list(&db, team.id).await.expect("list")[0].id;
        let now = Utc::now();
        let ttl = Duration::days(7);

        let a = open(&db, team.id, Role::Admin, Some(token_id), now, ttl)
            .await
            .expect("open");
        let found = find_active(&db, &a.secret, now).await.expect("query");
        assert_eq!(found.as_ref().map(|s| s.team.id), Some(team.id));
        assert_eq!(found.map(|s| s.id), Some(a.id.clone()));
        assert_ne!(a.secret, a.id, "the secret is not what is stored");
        assert_eq!(find_active(&db, &a.id, now).await.expect("query"), None);
        assert_eq!(
            find_active(&db, &a.secret, a.expires_at)
                .await
                .expect("query"),
            None
        );
        assert!(end(&db, &a.id, now).await.expect("end"));
        assert!(!end(&db, &a.id, now).await.expect("end"), "once");
        assert_eq!(find_active(&db, &a.secret, now).await.expect("query"), None);

        let b = open(&db, team.id, Role::Admin, Some(token_id), now, ttl)
            .await
            .expect("open");
        let c = open(&db, team.id, Role::Viewer, None, now, ttl)
            .await
            .expect("open");
        tokens::revoke(&db, team.id, token_id, now)
            .await
            .expect("revoke")
            .expect("the team's token");
        assert_eq!(find_active(&db, &b.secret, now).await.expect("query"), None);
        assert!(
            find_active(&db, &c.secret, now)
                .await
                .expect("query")
                .is_some(),
            "a session without a token stays"
        );
        assert_eq!(find_active(&db, "garbage", now).await.expect("query"), None);
    }
}
