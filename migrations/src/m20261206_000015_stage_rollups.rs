//! The stage distribution from the daily rollups, so a report page no longer scans every lead
//! (spec/KPIS.md, "Stage distribution").
//!
//! A lead's stage at an instant changes only when the instant passes one of its timestamps.
//! `lead_days` gains one column per stage (`stage_lead` … `stage_churned`) holding, per local day,
//! the net number of leads that entered the stage on that day: +1 for the stage a lead enters,
//! −1 for the one it leaves, the first on its created day. The distribution at a local midnight
//! is the running sum of these columns over the days before it. The columns start at 0; the
//! store's rollup version goes to 3, so every existing team's rollups are rebuilt from its rows
//! once at the next start-up, filling them.
//!
//! `engaged_first` makes engagement rate exact from the rollups for a period read to a date (a
//! month to day 18 and the same days of the months it is compared with): per period kind, lead
//! dimensions and local day, the number of leads whose engagement in a period of that kind
//! starts counting on that day, the later of their first engagement in the period and their
//! creation (and who were not won or lost before the period began). The engaged, reachable leads
//! of the first days of a period are the sum of its rows over those days; over all its days it
//! is the period's `engaged_periods` row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &[&str] = &[
    "stage_churned",
    "stage_customer",
    "stage_lost",
    "stage_opportunity",
    "stage_sql",
    "stage_sal",
    "stage_mql",
    "stage_lead",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sqlite = manager.get_connection().get_database_backend() == DbBackend::Sqlite;
        let clustered = if sqlite { " WITHOUT ROWID" } else { "" };
        let mut statements: Vec<String> = COLUMNS
            .iter()
            .map(|c| format!("ALTER TABLE lead_days ADD COLUMN {c} BIGINT NOT NULL DEFAULT 0"))
            .collect();
        statements.push(format!(
            "CREATE TABLE engaged_first (\
             team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE, \
             period_kind VARCHAR(8) NOT NULL, day INTEGER NOT NULL, \
             channel VARCHAR(200) NOT NULL, campaign VARCHAR(200) NOT NULL, \
             source VARCHAR(200) NOT NULL, leads BIGINT NOT NULL DEFAULT 0, \
             PRIMARY KEY (team_id, period_kind, day, channel, campaign, source)){clustered}"
        ));
        run(manager, statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut statements: Vec<String> = COLUMNS
            .iter()
            .map(|c| format!("ALTER TABLE lead_days DROP COLUMN {c}"))
            .collect();
        statements.push("DROP TABLE engaged_first".to_owned());
        run(manager, statements).await
    }
}

/// One script, its own transaction on SQLite (see migration 000007 for why).
async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let mut script = statements.join(";\n");
    if db.get_database_backend() == DbBackend::Sqlite {
        script = format!("BEGIN;\n{script};\nCOMMIT;");
    }
    db.execute_unprepared(&script).await?;
    Ok(())
}
