//! Lodestar's schema. A released migration is never edited: add a new timestamped one.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_teams_and_tokens;
mod m20261122_000002_team_data;
mod m20261122_000003_secrets_and_custom_kpis;
mod m20261122_000004_schedules_and_deliveries;
mod m20261122_000005_reports;
mod m20261122_000006_trees_and_segment_sets;
mod m20261122_000007_daily_rollups;
mod m20261205_000008_score_and_lifetime_rollups;
mod m20261205_000009_team_currency;
mod m20261206_000010_sessions_and_revocations;
mod m20261206_000011_people;
mod m20261206_000012_report_compare;
mod m20261206_000014_alerts_and_goals;
mod m20261206_000015_stage_rollups;
mod m20261206_000020_schedule_owners;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_teams_and_tokens::Migration),
            Box::new(m20261122_000002_team_data::Migration),
            Box::new(m20261122_000003_secrets_and_custom_kpis::Migration),
            Box::new(m20261122_000004_schedules_and_deliveries::Migration),
            Box::new(m20261122_000005_reports::Migration),
            Box::new(m20261122_000006_trees_and_segment_sets::Migration),
            Box::new(m20261122_000007_daily_rollups::Migration),
            Box::new(m20261205_000008_score_and_lifetime_rollups::Migration),
            Box::new(m20261205_000009_team_currency::Migration),
            Box::new(m20261206_000010_sessions_and_revocations::Migration),
            Box::new(m20261206_000011_people::Migration),
            Box::new(m20261206_000012_report_compare::Migration),
            Box::new(m20261206_000014_alerts_and_goals::Migration),
            Box::new(m20261206_000015_stage_rollups::Migration),
            Box::new(m20261206_000020_schedule_owners::Migration),
        ]
    }
}
