//! Daily rollups, and partial lifecycle indexes.
//!
//! `lead_days` and `event_days` hold, per team and local calendar day (in the team's timezone),
//! the counts and sums the KPI engine needs, keyed by the dimensions a segment can use without
//! reading raw rows. Ingest keeps them exact in the same transaction as the rows (it adds the
//! new rows' contributions and subtracts the replaced rows'), so a week with a 12-week trend
//! reads about 91 days × segments instead of every lead and event of those weeks.
//!
//! Lead columns, each counted on the local day of its anchor:
//! - created day: `leads`, `lead_value`, `cohort_won` (created leads with `won_at` set at any time)
//! - `mqls`, `sals`, `sqls`, `opportunities`, `lost` on their own timestamps' days
//! - won day: `won`, `won_value`, `to_conversion_ms` (Σ won − created), `cycle_ms` and `cycle_n`
//!   (Σ won − sql over leads with `sql_at`)
//! - churned day: `churned` (leads with `won_at` set)
//! - `ended`: customers (won and churned) counted on the day of the later of the two, so the
//!   customers active at a boundary are `Σ won − Σ ended` before it
//! - `settled`: leads won or lost, counted on the day of the later of creation and the first
//!   close, so the leads created before a boundary and not closed before it are
//!   `Σ leads − Σ settled` before it (engagement reach)
//!
//! `engaged_periods` holds the engagement-rate numerator (distinct engaged, reachable leads),
//! which does not add up over days: one row per period of each kind (day, week, month,
//! quarter, year; `day` is the period's first local day) and lead dimensions.
//!
//! `teams.rollup_version` says whether a team's rollups were built: existing teams start at 0
//! and the store rebuilds them from their rows once (`lodestar_store::rollup`); teams created
//! after this migration start at 1 with empty, exact rollups.
//!
//! Seven of the eight lifecycle indexes become partial (`WHERE col IS NOT NULL`): most leads
//! never reach most stages, and maintaining those entries was half the cost of an import.
//!
//! `reports.tree` (nullable) holds the slug of the KPI tree a report definition is organised by.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const LEAD_COLUMNS: &[&str] = &[
    "leads",
    "lead_value",
    "cohort_won",
    "mqls",
    "sals",
    "sqls",
    "opportunities",
    "lost",
    "won",
    "won_value",
    "to_conversion_ms",
    "cycle_ms",
    "cycle_n",
    "churned",
    "ended",
    "settled",
];

const EVENT_COLUMNS: &[&str] = &["n", "value_sum", "promoters", "detractors"];

const LIFECYCLE: &[&str] = &[
    "mql_at",
    "sal_at",
    "sql_at",
    "opportunity_at",
    "won_at",
    "lost_at",
    "churned_at",
];

fn counters(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("{c} BIGINT NOT NULL DEFAULT 0"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let sqlite = db.get_database_backend() == DbBackend::Sqlite;
        // SQLite stores these tables in key order (no separate rowid), so a day range of a team
        // is one contiguous read.
        let clustered = if sqlite { " WITHOUT ROWID" } else { "" };
        let mut statements = vec![
            format!(
                "CREATE TABLE lead_days (\
                 team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE, \
                 day INTEGER NOT NULL, \
                 channel VARCHAR(200) NOT NULL, campaign VARCHAR(200) NOT NULL, \
                 source VARCHAR(200) NOT NULL, {}, \
                 PRIMARY KEY (team_id, day, channel, campaign, source)){clustered}",
                counters(LEAD_COLUMNS)
            ),
            format!(
                "CREATE TABLE event_days (\
                 team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE, \
                 day INTEGER NOT NULL, kind VARCHAR(200) NOT NULL, \
                 channel VARCHAR(200) NOT NULL, campaign VARCHAR(200) NOT NULL, {}, \
                 PRIMARY KEY (team_id, day, kind, channel, campaign)){clustered}",
                counters(EVENT_COLUMNS)
            ),
            format!(
                "CREATE TABLE engaged_periods (\
                 team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE, \
                 period_kind VARCHAR(8) NOT NULL, day INTEGER NOT NULL, \
                 channel VARCHAR(200) NOT NULL, campaign VARCHAR(200) NOT NULL, \
                 source VARCHAR(200) NOT NULL, leads BIGINT NOT NULL DEFAULT 0, \
                 PRIMARY KEY (team_id, period_kind, day, channel, campaign, source)){clustered}"
            ),
            "ALTER TABLE teams ADD COLUMN rollup_version INTEGER NOT NULL DEFAULT 1".to_owned(),
            "UPDATE teams SET rollup_version = 0".to_owned(),
            // Leads closed (won or lost) before they were created: rare, but reach must count
            // them exactly, and this keeps finding them a short index read.
            "CREATE INDEX leads_team_closed_before_created ON leads (team_id, created_at) \
             WHERE won_at < created_at OR lost_at < created_at"
                .to_owned(),
        ];
        for col in LIFECYCLE {
            statements.push(format!("DROP INDEX leads_team_{col}"));
            statements.push(format!(
                "CREATE INDEX leads_team_{col} ON leads (team_id, {col}) WHERE {col} IS NOT NULL"
            ));
        }
        statements.push("ALTER TABLE reports ADD COLUMN tree VARCHAR(64) NULL".to_owned());
        run(db, sqlite, statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let sqlite = db.get_database_backend() == DbBackend::Sqlite;
        let mut statements = vec!["ALTER TABLE reports DROP COLUMN tree".to_owned()];
        for col in LIFECYCLE {
            statements.push(format!("DROP INDEX leads_team_{col}"));
            statements.push(format!(
                "CREATE INDEX leads_team_{col} ON leads (team_id, {col})"
            ));
        }
        for sql in [
            "DROP INDEX leads_team_closed_before_created",
            "ALTER TABLE teams DROP COLUMN rollup_version",
            "DROP TABLE engaged_periods",
            "DROP TABLE event_days",
            "DROP TABLE lead_days",
        ] {
            statements.push(sql.to_owned());
        }
        run(db, sqlite, statements).await
    }
}

/// Runs the statements as one script. sea-orm-migration runs SQLite migrations outside a
/// transaction and each statement may take another pooled connection (one that has not yet seen
/// a dropped index), so on SQLite the script is its own transaction on one connection.
async fn run(
    db: &SchemaManagerConnection<'_>,
    sqlite: bool,
    statements: Vec<String>,
) -> Result<(), DbErr> {
    let mut script = statements.join(";\n");
    if sqlite {
        script = format!("BEGIN;\n{script};\nCOMMIT;");
    }
    db.execute_unprepared(&script).await?;
    Ok(())
}
