//! API tokens: random, shown once, stored as SHA-256 hashes, each with a role.

use std::fmt;

use chrono::Utc;
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
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

/// Who a valid token speaks for.
#[derive(Debug, Clone)]
pub struct Principal {
    pub team: Team,
    pub role: Role,
}

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

/// Creates a token for the team and returns it in clear, the only time it is ever visible.
pub async fn create(db: &Db, team_id: i32, role: Role) -> Result<String> {
    let token = new_token();
    api_token::ActiveModel {
        team_id: Set(team_id),
        token_hash: Set(hash_token(&token)),
        role: Set(role.as_str().to_owned()),
        created_at: Set(Utc::now().timestamp_millis()),
        ..Default::default()
    }
    .insert(db.conn())
    .await?;
    Ok(token)
}

/// The team and role a token grants, or `None` for an unknown token.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Principal>> {
    let Some(row) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash_token(token)))
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    let role = Role::parse(&row.role)
        .ok_or_else(|| StoreError::Invalid(format!("stored role `{}`", row.role)))?;
    let team = teams::find_by_id(db, row.team_id)
        .await?
        .ok_or_else(|| StoreError::Invalid(format!("token of missing team {}", row.team_id)))?;
    Ok(Some(Principal { team, role }))
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
