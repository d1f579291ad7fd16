//! Teams: the tenants. Every other query takes a team id that came from here.

use chrono::Utc;
use lodestar_core::currency::Currency;
use lodestar_core::period::Timezone;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait},
};

use crate::Db;
use crate::entities::team;
use crate::error::{Result, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: i32,
    pub slug: String,
    pub name: String,
    pub timezone: Timezone,
    pub data_version: i64,
    /// What money is in: reports print amounts with its symbol.
    pub currency: Currency,
}

impl TryFrom<team::Model> for Team {
    type Error = StoreError;

    fn try_from(m: team::Model) -> Result<Team> {
        Ok(Team {
            timezone: Timezone::parse(&m.timezone)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
            id: m.id,
            slug: m.slug,
            name: m.name,
            data_version: m.data_version,
            currency: Currency::parse(&m.currency)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        })
    }
}

/// Slugs are what URLs and the CLI use: 1 to 64 of lowercase letters, digits and `-`.
pub fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub async fn create(db: &Db, slug: &str, name: &str, timezone: &Timezone) -> Result<Team> {
    if !valid_slug(slug) {
        return Err(StoreError::Invalid(format!(
            "team slug `{slug}`: use 1 to 64 lowercase letters, digits and -"
        )));
    }
    if find_by_slug(db, slug).await?.is_some() {
        return Err(StoreError::TeamExists(slug.to_owned()));
    }
    let model = team::ActiveModel {
        slug: Set(slug.to_owned()),
        name: Set(name.to_owned()),
        timezone: Set(timezone.to_string()),
        data_version: Set(0),
        created_at: Set(Utc::now().timestamp_millis()),
        // A new team's rollups are empty and exact: nothing to rebuild.
        rollup_version: Set(crate::rollup::VERSION),
        currency: Set(Currency::default().to_string()),
        ..Default::default()
    }
    .insert(db.conn())
    .await
    .map_err(|e| match find_unique_violation(&e) {
        true => StoreError::TeamExists(slug.to_owned()),
        false => StoreError::Db(e),
    })?;
    Team::try_from(model)
}

fn find_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

pub async fn find_by_slug(db: &Db, slug: &str) -> Result<Option<Team>> {
    team::Entity::find()
        .filter(team::Column::Slug.eq(slug))
        .one(db.conn())
        .await?
        .map(Team::try_from)
        .transpose()
}

pub async fn find_by_id(db: &Db, id: i32) -> Result<Option<Team>> {
    team::Entity::find_by_id(id)
        .one(db.conn())
        .await?
        .map(Team::try_from)
        .transpose()
}

pub async fn list(db: &Db) -> Result<Vec<Team>> {
    team::Entity::find()
        .all(db.conn())
        .await?
        .into_iter()
        .map(Team::try_from)
        .collect()
}

/// Marks the team's data as changed, so caches keyed on the data version miss.
/// Sets the team's currency. The data version moves too, so no cached report keeps the old one.
pub async fn set_currency(db: &Db, team_id: i32, currency: Currency) -> Result<()> {
    team::Entity::update_many()
        .col_expr(team::Column::Currency, Expr::value(currency.to_string()))
        .col_expr(
            team::Column::DataVersion,
            Expr::col(team::Column::DataVersion).add(1),
        )
        .filter(team::Column::Id.eq(team_id))
        .exec(db.conn())
        .await?;
    Ok(())
}

/// Longest team name.
pub const MAX_NAME_CHARS: usize = 100;

/// Renames the team (what pages and e-mails show). The data version moves, so no cached report
/// keeps the old name.
pub async fn rename(db: &Db, team_id: i32, name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(StoreError::Invalid(format!(
            "team name: 1 to {MAX_NAME_CHARS} characters, no control characters"
        )));
    }
    team::Entity::update_many()
        .col_expr(team::Column::Name, Expr::value(name.to_owned()))
        .col_expr(
            team::Column::DataVersion,
            Expr::col(team::Column::DataVersion).add(1),
        )
        .filter(team::Column::Id.eq(team_id))
        .exec(db.conn())
        .await?;
    Ok(())
}

/// Moves the team to another timezone and rebuilds its daily summaries, whose days are the
/// team's local days. The summaries are marked stale first, so a rebuild cut short is finished
/// by the next start (`rollup::rebuild_stale`).
/// Moves the team to `timezone` and marks its daily summaries stale; the caller rebuilds them
/// (`rollup::rebuild`, or `rebuild_with_progress` to show how far it got). Until then, and if the
/// process stops first, the next start-up rebuilds them (`rollup::rebuild_stale`).
pub async fn set_timezone(db: &Db, team_id: i32, timezone: &Timezone) -> Result<()> {
    team::Entity::update_many()
        .col_expr(team::Column::Timezone, Expr::value(timezone.to_string()))
        .col_expr(team::Column::RollupVersion, Expr::value(0))
        .col_expr(
            team::Column::DataVersion,
            Expr::col(team::Column::DataVersion).add(1),
        )
        .filter(team::Column::Id.eq(team_id))
        .exec(db.conn())
        .await?;
    Ok(())
}

pub async fn bump_data_version(conn: &impl ConnectionTrait, team_id: i32) -> Result<()> {
    team::Entity::update_many()
        .col_expr(
            team::Column::DataVersion,
            Expr::col(team::Column::DataVersion).add(1),
        )
        .filter(team::Column::Id.eq(team_id))
        .exec(conn)
        .await?;
    Ok(())
}
