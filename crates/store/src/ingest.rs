//! Upserting validated rows. A batch runs in one write transaction: it is stored whole or not at
//! all. Rows go in as multi-row `INSERT … ON CONFLICT DO UPDATE` statements of up to 1,000 rows,
//! and the daily rollups (`crate::rollup`) change in the same transaction.
//!
//! - `rows`: how each row type maps onto its table;
//! - `prepare`: a chunk's keys, rollup facts and statement, made on any thread;
//! - `loader`: writing chunks and keeping the rollups in step;
//! - `bloom`: the loader's memory of keys written to a table that started empty.

mod bloom;
mod loader;
mod prepare;
mod rows;

use sea_orm::DatabaseTransaction;

pub use loader::Loader;
pub use prepare::{Prepared, prepare};
pub use rows::{StoredRow, day_number};

use crate::Db;
use crate::error::Result;
use crate::teams;

/// Rows per INSERT statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const CHUNK: usize = 1000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub updated: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, o: UpsertCounts) {
        self.inserted += o.inserted;
        self.updated += o.updated;
    }
}

/// Upserts a whole batch atomically and marks the team's data as changed.
pub async fn upsert_batch<R: StoredRow>(db: &Db, team_id: i32, rows: &[R]) -> Result<UpsertCounts> {
    let tx = db.begin_write().await?;
    // First statement of the transaction: on PostgreSQL it locks the team row, which serialises
    // concurrent batches of one team so the inserted/updated counts stay exact.
    teams::bump_data_version(&tx, team_id).await?;
    let counts = upsert(&tx, team_id, rows).await?;
    tx.commit().await?;
    Ok(counts)
}

/// Upserts rows inside an open write transaction (the caller commits). When a key appears
/// several times the last row wins, as if they had been sent one after the other.
pub async fn upsert<R: StoredRow>(
    tx: &DatabaseTransaction,
    team_id: i32,
    rows: &[R],
) -> Result<UpsertCounts> {
    let mut loader = Loader::new(tx, team_id).await?;
    let counts = loader.upsert(rows).await?;
    loader.finish().await?;
    Ok(counts)
}
