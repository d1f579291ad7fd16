//! Lead score and customer lifetime in the daily rollups, for `avg_lead_score` and
//! `avg_customer_lifetime_days` (spec/KPIS.md, "More base measures").
//!
//! `lead_days` gains, on the created day, `score_sum` and `score_n` (Σ score and the number of
//! leads with a score), and on the churned day `lifetime_ms` (Σ churned − won over the leads
//! `churned` counts). The columns start at 0; the store's rollup version goes to 2, so every
//! existing team's rollups are rebuilt from its rows once at the next start-up
//! (`lodestar_store::rollup::rebuild_stale`), filling them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &[&str] = &["score_sum", "score_n", "lifetime_ms"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = COLUMNS
            .iter()
            .map(|c| format!("ALTER TABLE lead_days ADD COLUMN {c} BIGINT NOT NULL DEFAULT 0"))
            .collect();
        run(manager, statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = COLUMNS
            .iter()
            .map(|c| format!("ALTER TABLE lead_days DROP COLUMN {c}"))
            .collect();
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
