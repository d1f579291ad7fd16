//! API tokens: random, shown once, stored as SHA-256 hashes, each with a role. A token can be
//! revoked: it and every session opened with it stop working at once.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use crate::Db;
use crate::entities::api_token;
use crate::error::{Result, StoreError};
use crate::teams::{self, Team};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// Editors and admins may change data; viewers only read.
    pub fn can_write(self) -> bool {
        self >= Role::Editor
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a valid token (or a session opened with one) speaks for.
#[derive(Debug, Clone)]
pub struct Principal {
    pub team: Team,
    pub role: Role,
    /// The token presented or signed in with; `None` for other ways in.
    pub token_id: Option<i32>,
    /// The person signed in, for a browser session opened with a password or a link; `None`
    /// for a token.
    pub user_id: Option<i32>,
}

/// A token as its team's admins see it: never the secret, never its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i32,
    pub role: Role,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// "Last used" is written at most this often per token, so reads never turn into a write each.
pub const LAST_USED_RESOLUTION: Duration = Duration::minutes(1);

pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let mut out = String::from("lsk_");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Longest label a token may carry.
pub const MAX_LABEL_CHARS: usize = 200;

/// Creates a token for the team and returns it in clear, the only time it is ever visible.
pub async fn create(db: &Db, team_id: i32, role: Role) -> Result<String> {
    create_labelled(db, team_id, role, None).await
}

/// [`create`] with a label saying what the token is for (shown by `token list`).
pub async fn create_labelled(
    db: &Db,
    team_id: i32,
    role: Role,
    label: Option<&str>,
) -> Result<String> {
    let label = label.map(str::trim).filter(|l| !l.is_empty());
    if let Some(l) = label
        && (l.chars().count() > MAX_LABEL_CHARS || l.chars().any(char::is_control))
    {
        return Err(StoreError::Invalid(format!(
            "token label: at most {MAX_LABEL_CHARS} characters, no control characters"
        )));
    }
    let token = new_token();
    api_token::ActiveModel {
        team_id: Set(team_id),
        token_hash: Set(hash_token(&token)),
        role: Set(role.as_str().to_owned()),
        created_at: Set(Utc::now().timestamp_millis()),
        label: Set(label.map(str::to_owned)),
        ..Default::default()
    }
    .insert(db.conn())
    .await?;
    Ok(token)
}

fn parse_role(stored: &str) -> Result<Role> {
    Role::parse(stored).ok_or_else(|| StoreError::Invalid(format!("stored role `{stored}`")))
}

fn instant(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Invalid(format!("stored instant {ms}")))
}

/// The team and role a token grants, or `None` for an unknown or revoked token. Notes when the
/// token was used, at most once a minute.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Principal>> {
    let Some(row) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash_token(token)))
        .filter(api_token::Column::RevokedAt.is_null())
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    let role = parse_role(&row.role)?;
    let team = teams::find_by_id(db, row.team_id)
        .await?
        .ok_or_else(|| StoreError::Invalid(format!("token of missing team {}", row.team_id)))?;
    note_use(db, &row, Utc::now()).await?;
    Ok(Some(Principal {
        team,
        role,
        token_id: Some(row.id),
        user_id: None,
    }))
}

/// Writes "last used" when the stored one is a minute old or more. The condition is repeated in
/// the statement, so replicas racing on one token write it once.
async fn note_use(db: &Db, row: &api_token::Model, now: DateTime<Utc>) -> Result<()> {
    let now_ms = now.timestamp_millis();
    let stale_before = now_ms - LAST_USED_RESOLUTION.num_milliseconds();
    if row.last_used_at.is_some_and(|at| at > stale_before) {
        return Ok(());
    }
    api_token::Entity::update_many()
        .col_expr(api_token::Column::LastUsedAt, Expr::value(now_ms))
        .filter(api_token::Column::Id.eq(row.id))
        .filter(
            Condition::any()
                .add(api_token::Column::LastUsedAt.is_null())
                .add(api_token::Column::LastUsedAt.lte(stale_before)),
        )
        .exec(db.conn())
        .await?;
    Ok(())
}

fn info(row: api_token::Model) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: row.id,
        role: parse_role(&row.role)?,
        label: row.label,
        created_at: instant(row.created_at)?,
        last_used_at: row.last_used_at.map(instant).transpose()?,
        revoked_at: row.revoked_at.map(instant).transpose()?,
    })
}

/// The team's tokens, revoked ones included, oldest first.
pub async fn list(db: &Db, team_id: i32) -> Result<Vec<TokenInfo>> {
    api_token::Entity::find()
        .filter(api_token::Column::TeamId.eq(team_id))
        .order_by_asc(api_token::Column::Id)
        .all(db.conn())
        .await?
        .into_iter()
        .map(info)
        .collect()
}

/// Revokes the team's token `id` and ends every session opened with it, in one transaction.
/// `None` when the team has no such token; revoking a revoked token changes nothing.
pub async fn revoke(
    db: &Db,
    team_id: i32,
    id: i32,
    now: DateTime<Utc>,
) -> Result<Option<TokenInfo>> {
    let tx = db.begin_write().await?;
    let Some(row) = api_token::Entity::find_by_id(id)
        .filter(api_token::Column::TeamId.eq(team_id))
        .one(&tx)
        .await?
    else {
        return Ok(None);
    };
    let now_ms = now.timestamp_millis();
    if row.revoked_at.is_none() {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(now_ms))
            .filter(api_token::Column::Id.eq(id))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&tx)
            .await?;
        crate::sessions::end_opened_with(&tx, id, now).await?;
    }
    let row = api_token::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .ok_or_else(|| StoreError::Invalid(format!("token {id} vanished")))?;
    tx.commit().await?;
    info(row).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_are_hex_sha256() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with("lsk_") && a.len() == 52);
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn only_editors_and_admins_write() {
        assert!(!Role::Viewer.can_write());
        assert!(Role::Editor.can_write());
        assert!(Role::Admin.can_write());
    }
}
