//! Each route module registers its own routes.

use actix_web::web;
use chrono::{DateTime, Utc};
use lodestar_core::period::{Asked, PeriodKey, PeriodKind};
use lodestar_store::teams::Team;

use crate::error::ApiError;

mod alert_pages;
mod alerts;
mod custom;
mod data_page;
mod goal_pages;
mod goals;
mod health;
mod imports;
mod ingest;
mod kpis;
mod pages;
mod people;
mod report_editor;
pub(crate) mod reports;
mod schedule_pages;
mod schedules;
mod segment_pages;
pub(crate) mod session;
mod settings;
mod static_files;
mod team;
mod tokens;
mod tree_editor;
mod trees;

pub fn config(cfg: &mut web::ServiceConfig) {
    alert_pages::config(cfg);
    alerts::config(cfg);
    custom::config(cfg);
    data_page::config(cfg);
    goal_pages::config(cfg);
    goals::config(cfg);
    health::config(cfg);
    imports::config(cfg);
    ingest::config(cfg);
    kpis::config(cfg);
    pages::config(cfg);
    people::config(cfg);
    report_editor::config(cfg);
    segment_pages::config(cfg);
    tree_editor::config(cfg);
    reports::config(cfg);
    schedule_pages::config(cfg);
    schedules::config(cfg);
    settings::config(cfg);
    session::config(cfg);
    static_files::config(cfg);
    team::config(cfg);
    tokens::config(cfg);
    trees::config(cfg);
}

/// The requested period, or (absent or empty) the last complete week at `now` in the team's
/// timezone.
pub(crate) fn period_or_last_week(
    period: Option<&str>,
    team: &Team,
    now: DateTime<Utc>,
) -> Result<PeriodKey, ApiError> {
    Ok(asked(period, None, None, team, now)?.period)
}

/// The requested period with its comparison (`compare`, `to`), the last complete week by
/// default.
pub(crate) fn asked(
    period: Option<&str>,
    compare: Option<&str>,
    to: Option<&str>,
    team: &Team,
    now: DateTime<Utc>,
) -> Result<Asked, ApiError> {
    let tz = team.timezone.0;
    let default = PeriodKey::last_complete(PeriodKind::Week, now, tz);
    Ok(Asked::parse(period, compare, to, default, now, tz)?)
}
