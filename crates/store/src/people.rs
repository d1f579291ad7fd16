//! People: accounts (an e-mail and a password), their memberships (a role in each team), one-time
//! links to set a password (first sign-in and resets) and invitations. Link secrets are random,
//! shown once and stored as SHA-256 hashes, like API tokens; a link works once and expires.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DbBackend, QueryResult};

use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::Sql;
use crate::teams::{self, Team};
use crate::tokens::{Role, hash_token};

/// How long a link to set a password works.
pub const PASSWORD_LINK_TTL: Duration = Duration::hours(24);
/// How long an invitation works.
pub const INVITATION_TTL: Duration = Duration::days(7);

/// Lower-cased and trimmed, or `None` when it is not shaped like an address.
pub fn normalize_email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && e.len() <= 254
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    ok.then_some(e)
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn looks_like_secret(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn role(stored: &str) -> Result<Role> {
    Role::parse(stored).ok_or_else(|| StoreError::Invalid(format!("stored role `{stored}`")))
}

async fn one(conn: &impl ConnectionTrait, sql: Sql) -> Result<Option<QueryResult>> {
    Ok(conn.query_one_raw(sql.build()).await?)
}

async fn exec(conn: &impl ConnectionTrait, sql: Sql) -> Result<u64> {
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// The user id of `email`, creating the account (without a password) when there is none.
async fn ensure_user(conn: &impl ConnectionTrait, email: &str, now: DateTime<Utc>) -> Result<i32> {
    let backend = conn.get_database_backend();
    let mut find = Sql::new(backend);
    find.push("SELECT id FROM users WHERE email = ")
        .param(email);
    if let Some(row) = one(conn, find).await? {
        return Ok(row.try_get_by_index(0)?);
    }
    let mut insert = Sql::new(backend);
    insert
        .push("INSERT INTO users (email, created_at) VALUES (")
        .param(email)
        .push(", ")
        .param(now.timestamp_millis())
        .push(") RETURNING id");
    let row = one(conn, insert)
        .await?
        .ok_or_else(|| StoreError::Invalid("insert returned no id".to_owned()))?;
    Ok(row.try_get_by_index(0)?)
}

/// Gives `user_id` `role` in `team_id`, adding the membership when there is none.
async fn upsert_membership(
    conn: &impl ConnectionTrait,
    user_id: i32,
    team_id: i32,
    role: Role,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut sql = Sql::new(conn.get_database_backend());
    sql.push("INSERT INTO memberships (user_id, team_id, role, created_at) VALUES (")
        .param(user_id)
        .push(", ")
        .param(team_id)
        .push(", ")
        .param(role.as_str())
        .push(", ")
        .param(now.timestamp_millis())
        .push(") ON CONFLICT (user_id, team_id) DO UPDATE SET role = excluded.role");
    exec(conn, sql).await?;
    Ok(())
}

/// A person as `lodestar user list` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub id: i32,
    pub email: String,
    pub has_password: bool,
    /// (team slug, role), by slug.
    pub teams: Vec<(String, Role)>,
}

/// Adds `email` (creating the person if needed) to team `team_id` with `role`, and returns the
/// person's id and a one-time link secret to set their password.
pub async fn create_member(
    db: &Db,
    email: &str,
    team_id: i32,
    role: Role,
    now: DateTime<Utc>,
) -> Result<(i32, String)> {
    let email = normalize_email(email)
        .ok_or_else(|| StoreError::Invalid(format!("`{email}` is not an e-mail address")))?;
    let tx = db.begin_write().await?;
    let user_id = ensure_user(&tx, &email, now).await?;
    upsert_membership(&tx, user_id, team_id, role, now).await?;
    let secret = insert_password_link(&tx, user_id, now).await?;
    tx.commit().await?;
    Ok((user_id, secret))
}

async fn insert_password_link(
    conn: &impl ConnectionTrait,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<String> {
    let secret = new_secret();
    let mut sql = Sql::new(conn.get_database_backend());
    sql.push("INSERT INTO password_links (token_hash, user_id, created_at, expires_at) VALUES (")
        .param(hash_token(&secret))
        .push(", ")
        .param(user_id)
        .push(", ")
        .param(now.timestamp_millis())
        .push(", ")
        .param((now + PASSWORD_LINK_TTL).timestamp_millis())
        .push(")");
    exec(conn, sql).await?;
    Ok(secret)
}

/// A one-time link to set the password of the person with `email`, or `None` when there is no
/// such person (the caller answers alike either way).
pub async fn issue_password_link(
    db: &Db,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Option<(i32, String)>> {
    let Some(email) = normalize_email(email) else {
        return Ok(None);
    };
    let Some((user_id, _)) = find_for_sign_in(db, &email).await? else {
        return Ok(None);
    };
    let secret = insert_password_link(db.conn(), user_id, now).await?;
    Ok(Some((user_id, secret)))
}

/// The address a password link is for, while it is unused and unexpired.
pub async fn password_link(db: &Db, secret: &str, now: DateTime<Utc>) -> Result<Option<String>> {
    if !looks_like_secret(secret) {
        return Ok(None);
    }
    let mut sql = Sql::new(db.backend());
    sql.push(
        "SELECT u.email FROM password_links l JOIN users u ON u.id = l.user_id \
         WHERE l.used_at IS NULL AND l.token_hash = ",
    )
    .param(hash_token(secret))
    .push(" AND l.expires_at > ")
    .param(now.timestamp_millis());
    Ok(match one(db.conn(), sql).await? {
        Some(row) => Some(row.try_get_by_index(0)?),
        None => None,
    })
}

/// Marks the password link `secret` used, in `tx`, and gives its person; `None` when it is
/// unknown, used or expired. The conditional update decides between two racing requests.
async fn use_link(
    db: &Db,
    tx: &impl ConnectionTrait,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<i32>> {
    if !looks_like_secret(secret) {
        return Ok(None);
    }
    let hash = hash_token(secret);
    let now_ms = now.timestamp_millis();
    let mut used = Sql::new(db.backend());
    used.push("UPDATE password_links SET used_at = ")
        .param(now_ms)
        .push(" WHERE token_hash = ")
        .param(hash.clone())
        .push(" AND used_at IS NULL AND expires_at > ")
        .param(now_ms);
    if exec(tx, used).await? != 1 {
        return Ok(None);
    }
    let mut who = Sql::new(db.backend());
    who.push("SELECT user_id FROM password_links WHERE token_hash = ")
        .param(hash);
    let user_id: i32 = one(tx, who)
        .await?
        .ok_or_else(|| StoreError::Invalid("used link vanished".to_owned()))?
        .try_get_by_index(0)?;
    Ok(Some(user_id))
}

/// Uses a password link: sets the password (`phc`, already hashed) and ends every session the
/// person had. `None` when the link is unknown, used or expired: a link works once, even when
/// two requests race (the conditional update decides).
pub async fn set_password_with_link(
    db: &Db,
    secret: &str,
    phc: &str,
    now: DateTime<Utc>,
) -> Result<Option<i32>> {
    let tx = db.begin_write().await?;
    let Some(user_id) = use_link(db, &tx, secret, now).await? else {
        return Ok(None);
    };
    let mut set = Sql::new(db.backend());
    set.push("UPDATE users SET password_hash = ")
        .param(phc)
        .push(" WHERE id = ")
        .param(user_id);
    exec(&tx, set).await?;
    crate::sessions::end_all_of_user(&tx, user_id, now).await?;
    tx.commit().await?;
    Ok(Some(user_id))
}

/// Uses a one-time link to sign in without choosing a password (the demo's link). `None` when
/// the link is unknown, used or expired.
pub async fn sign_in_with_link(db: &Db, secret: &str, now: DateTime<Utc>) -> Result<Option<i32>> {
    let tx = db.begin_write().await?;
    let Some(user_id) = use_link(db, &tx, secret, now).await? else {
        return Ok(None);
    };
    tx.commit().await?;
    Ok(Some(user_id))
}

/// The id and stored password (if set) of the person with `email`.
pub async fn find_for_sign_in(db: &Db, email: &str) -> Result<Option<(i32, Option<String>)>> {
    let Some(email) = normalize_email(email) else {
        return Ok(None);
    };
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT id, password_hash FROM users WHERE email = ")
        .param(email);
    Ok(match one(db.conn(), sql).await? {
        Some(row) => Some((row.try_get_by_index(0)?, row.try_get_by_index(1)?)),
        None => None,
    })
}

/// The teams of a person with their role in each, by team name.
pub async fn teams_of(db: &Db, user_id: i32) -> Result<Vec<(Team, Role)>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT team_id, role FROM memberships WHERE user_id = ")
        .param(user_id);
    let rows = db.conn().query_all_raw(sql.build()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let team_id: i32 = row.try_get_by_index(0)?;
        let r: String = row.try_get_by_index(1)?;
        if let Some(team) = teams::find_by_id(db, team_id).await? {
            out.push((team, role(&r)?));
        }
    }
    out.sort_by(|a, b| a.0.name.cmp(&b.0.name).then(a.0.id.cmp(&b.0.id)));
    Ok(out)
}

/// Everyone, with their teams (`lodestar user list`).
pub async fn list_users(db: &Db) -> Result<Vec<UserInfo>> {
    let sql_text = "SELECT u.id, u.email, CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END, t.slug, m.role \
         FROM users u LEFT JOIN memberships m ON m.user_id = u.id \
         LEFT JOIN teams t ON t.id = m.team_id ORDER BY u.email, t.slug";
    let mut sql = Sql::new(db.backend());
    sql.push(sql_text);
    let rows = db.conn().query_all_raw(sql.build()).await?;
    let mut out: Vec<UserInfo> = Vec::new();
    for row in rows {
        let id: i32 = row.try_get_by_index(0)?;
        let has_password = row.try_get_by_index::<i32>(2)? != 0;
        let team: Option<(String, String)> = match row.try_get_by_index::<Option<String>>(3)? {
            Some(slug) => Some((slug, row.try_get_by_index(4)?)),
            None => None,
        };
        if out.last().map(|u| u.id) != Some(id) {
            out.push(UserInfo {
                id,
                email: row.try_get_by_index(1)?,
                has_password,
                teams: Vec::new(),
            });
        }
        if let (Some(last), Some((slug, r))) = (out.last_mut(), team) {
            last.teams.push((slug, role(&r)?));
        }
    }
    Ok(out)
}

/// A member of a team, as its settings page lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: i32,
    pub email: String,
    pub role: Role,
    pub has_password: bool,
}

pub async fn members(db: &Db, team_id: i32) -> Result<Vec<Member>> {
    let mut sql = Sql::new(db.backend());
    sql.push(
        "SELECT u.id, u.email, m.role, CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END FROM memberships m \
         JOIN users u ON u.id = m.user_id WHERE m.team_id = ",
    )
    .param(team_id)
    .push(" ORDER BY u.email");
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter()
        .map(|row| {
            let r: String = row.try_get_by_index(2)?;
            Ok(Member {
                user_id: row.try_get_by_index(0)?,
                email: row.try_get_by_index(1)?,
                role: role(&r)?,
                has_password: row.try_get_by_index::<i32>(3)? != 0,
            })
        })
        .collect()
}

/// What became of a change to a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Done,
    NotAMember,
    /// The team would be left without an admin.
    LastAdmin,
}

/// Holds the team's row until the transaction ends (PostgreSQL), so two admins demoting each
/// other at once cannot both pass the last-admin check. SQLite's write transaction already
/// holds the database.
async fn lock_team(conn: &impl ConnectionTrait, team_id: i32) -> Result<()> {
    let backend = conn.get_database_backend();
    let mut sql = Sql::new(backend);
    sql.push("SELECT id FROM teams WHERE id = ").param(team_id);
    if backend == DbBackend::Postgres {
        sql.push(" FOR UPDATE");
    }
    one(conn, sql).await?;
    Ok(())
}

async fn current_role(
    conn: &impl ConnectionTrait,
    team_id: i32,
    user_id: i32,
) -> Result<Option<Role>> {
    let mut sql = Sql::new(conn.get_database_backend());
    sql.push("SELECT role FROM memberships WHERE team_id = ")
        .param(team_id)
        .push(" AND user_id = ")
        .param(user_id);
    match one(conn, sql).await? {
        Some(row) => Ok(Some(role(&row.try_get_by_index::<String>(0)?)?)),
        None => Ok(None),
    }
}

async fn admins(conn: &impl ConnectionTrait, team_id: i32) -> Result<i64> {
    let mut sql = Sql::new(conn.get_database_backend());
    sql.push("SELECT COUNT(*) FROM memberships WHERE role = 'admin' AND team_id = ")
        .param(team_id);
    Ok(one(conn, sql)
        .await?
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0))
}

/// Changes a member's role; the last admin stays admin. Takes effect on the member's open
/// sessions at once (a session reads its role from the membership on every request).
pub async fn set_role(db: &Db, team_id: i32, user_id: i32, new: Role) -> Result<Change> {
    let tx = db.begin_write().await?;
    lock_team(&tx, team_id).await?;
    let Some(old) = current_role(&tx, team_id, user_id).await? else {
        return Ok(Change::NotAMember);
    };
    if old == Role::Admin && new != Role::Admin && admins(&tx, team_id).await? <= 1 {
        return Ok(Change::LastAdmin);
    }
    let mut sql = Sql::new(db.backend());
    sql.push("UPDATE memberships SET role = ")
        .param(new.as_str())
        .push(" WHERE team_id = ")
        .param(team_id)
        .push(" AND user_id = ")
        .param(user_id);
    exec(&tx, sql).await?;
    tx.commit().await?;
    Ok(Change::Done)
}

/// Removes a member from a team and ends their sessions in it; the last admin stays.
pub async fn remove_member(
    db: &Db,
    team_id: i32,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<Change> {
    let tx = db.begin_write().await?;
    lock_team(&tx, team_id).await?;
    let Some(old) = current_role(&tx, team_id, user_id).await? else {
        return Ok(Change::NotAMember);
    };
    if old == Role::Admin && admins(&tx, team_id).await? <= 1 {
        return Ok(Change::LastAdmin);
    }
    let mut sql = Sql::new(db.backend());
    sql.push("DELETE FROM memberships WHERE team_id = ")
        .param(team_id)
        .push(" AND user_id = ")
        .param(user_id);
    exec(&tx, sql).await?;
    let mut end = Sql::new(db.backend());
    end.push("UPDATE sessions SET revoked_at = ")
        .param(now.timestamp_millis())
        .push(" WHERE revoked_at IS NULL AND user_id = ")
        .param(user_id)
        .push(" AND team_id = ")
        .param(team_id);
    exec(&tx, end).await?;
    tx.commit().await?;
    Ok(Change::Done)
}

/// An invitation while it can be accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    pub team: Team,
    pub email: String,
    pub role: Role,
    /// The invited address already has a password: accepting only adds the team.
    pub has_password: bool,
}

/// Records an invitation of `email` to `team_id` as `role`; returns the link's secret.
pub async fn invite(
    db: &Db,
    team_id: i32,
    email: &str,
    role: Role,
    invited_by: Option<i32>,
    now: DateTime<Utc>,
) -> Result<String> {
    let email = normalize_email(email)
        .ok_or_else(|| StoreError::Invalid(format!("`{email}` is not an e-mail address")))?;
    let secret = new_secret();
    let mut sql = Sql::new(db.backend());
    sql.push(
        "INSERT INTO invitations (token_hash, team_id, email, role, invited_by, created_at, \
         expires_at) VALUES (",
    )
    .param(hash_token(&secret))
    .push(", ")
    .param(team_id)
    .push(", ")
    .param(email)
    .push(", ")
    .param(role.as_str())
    .push(", ")
    .param(invited_by)
    .push(", ")
    .param(now.timestamp_millis())
    .push(", ")
    .param((now + INVITATION_TTL).timestamp_millis())
    .push(")");
    exec(db.conn(), sql).await?;
    Ok(secret)
}

/// The e-mail address of person `user_id`.
pub async fn email_of(db: &Db, user_id: i32) -> Result<Option<String>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT email FROM users WHERE id = ")
        .param(user_id);
    match one(db.conn(), sql).await? {
        Some(row) => Ok(Some(row.try_get_by_index(0)?)),
        None => Ok(None),
    }
}

/// An invitation not yet accepted, as the members page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingInvitation {
    pub id: i32,
    pub email: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

/// The team's invitations still open at `now` (unused, unexpired), newest first.
pub async fn pending_invitations(
    db: &Db,
    team_id: i32,
    now: DateTime<Utc>,
) -> Result<Vec<PendingInvitation>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT id, email, role, expires_at FROM invitations WHERE team_id = ")
        .param(team_id)
        .push(" AND accepted_at IS NULL AND expires_at > ")
        .param(now.timestamp_millis())
        .push(" ORDER BY created_at DESC, id DESC");
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter()
        .map(|row| {
            let r: String = row.try_get_by_index(2)?;
            let expires: i64 = row.try_get_by_index(3)?;
            Ok(PendingInvitation {
                id: row.try_get_by_index(0)?,
                email: row.try_get_by_index(1)?,
                role: role(&r)?,
                expires_at: DateTime::from_timestamp_millis(expires).unwrap_or_default(),
            })
        })
        .collect()
}

/// Withdraws an open invitation of the team: its link stops working at once. False when the
/// team has no such open invitation (another team's, or accepted already).
pub async fn revoke_invitation(db: &Db, team_id: i32, id: i32) -> Result<bool> {
    let mut sql = Sql::new(db.backend());
    sql.push("DELETE FROM invitations WHERE id = ")
        .param(id)
        .push(" AND team_id = ")
        .param(team_id)
        .push(" AND accepted_at IS NULL");
    Ok(exec(db.conn(), sql).await? == 1)
}

/// The invitation a link names, while it is unused and unexpired.
pub async fn invitation(db: &Db, secret: &str, now: DateTime<Utc>) -> Result<Option<Invitation>> {
    if !looks_like_secret(secret) {
        return Ok(None);
    }
    let mut sql = Sql::new(db.backend());
    sql.push(
        "SELECT i.team_id, i.email, i.role, CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END FROM invitations i \
         LEFT JOIN users u ON u.email = i.email \
         WHERE i.accepted_at IS NULL AND i.token_hash = ",
    )
    .param(hash_token(secret))
    .push(" AND i.expires_at > ")
    .param(now.timestamp_millis());
    let Some(row) = one(db.conn(), sql).await? else {
        return Ok(None);
    };
    let team_id: i32 = row.try_get_by_index(0)?;
    let Some(team) = teams::find_by_id(db, team_id).await? else {
        return Ok(None);
    };
    let r: String = row.try_get_by_index(2)?;
    Ok(Some(Invitation {
        team,
        email: row.try_get_by_index(1)?,
        role: role(&r)?,
        has_password: row.try_get_by_index::<i32>(3)? != 0,
    }))
}

/// Accepts an invitation: creates the account (with password `phc`) or, for an address that
/// already has one, only adds the membership. `None` when the link is unknown, used or expired.
/// A new password is only taken for an account that has none: an invitation never replaces one.
pub async fn accept(
    db: &Db,
    secret: &str,
    phc: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<(i32, i32)>> {
    if !looks_like_secret(secret) {
        return Ok(None);
    }
    let hash = hash_token(secret);
    let now_ms = now.timestamp_millis();
    let tx = db.begin_write().await?;
    let mut used = Sql::new(db.backend());
    used.push("UPDATE invitations SET accepted_at = ")
        .param(now_ms)
        .push(" WHERE token_hash = ")
        .param(hash.clone())
        .push(" AND accepted_at IS NULL AND expires_at > ")
        .param(now_ms);
    if exec(&tx, used).await? != 1 {
        return Ok(None);
    }
    let mut read = Sql::new(db.backend());
    read.push("SELECT team_id, email, role FROM invitations WHERE token_hash = ")
        .param(hash);
    let row = one(&tx, read)
        .await?
        .ok_or_else(|| StoreError::Invalid("accepted invitation vanished".to_owned()))?;
    let team_id: i32 = row.try_get_by_index(0)?;
    let email: String = row.try_get_by_index(1)?;
    let r: String = row.try_get_by_index(2)?;
    let user_id = ensure_user(&tx, &email, now).await?;
    if let Some(phc) = phc {
        let mut set = Sql::new(db.backend());
        set.push("UPDATE users SET password_hash = ")
            .param(phc)
            .push(" WHERE password_hash IS NULL AND id = ")
            .param(user_id);
        exec(&tx, set).await?;
    }
    // An invitation does not lower a role the person already has in the team.
    let new = role(&r)?;
    let keep = current_role(&tx, team_id, user_id).await?;
    upsert_membership(&tx, user_id, team_id, keep.map_or(new, |k| k.max(new)), now).await?;
    tx.commit().await?;
    Ok(Some((user_id, team_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_lower_cased_and_checked() {
        assert_eq!(
            normalize_email("  Ann@Example.COM "),
            Some("ann@example.com".to_owned())
        );
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
