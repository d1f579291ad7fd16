//! Rebuilding a team's rollups from its rows: on request, and once per database for teams whose
//! rollups predate the current [`VERSION`].

use sea_orm::ConnectionTrait;

use super::{Facts, Pending, Reach, VERSION, engagement_times, stored_columns, team_clock};
use crate::Db;
use crate::error::Result;
use crate::sql::Sql;

/// Rows read per page while rebuilding.
const PAGE: i64 = 20_000;

/// Recomputes a team's rollups from its rows, in one write transaction, and marks them current.
pub async fn rebuild(db: &Db, team_id: i32) -> Result<()> {
    rebuild_team(db, team_id, false, &mut |_| {})
        .await
        .map(|_| ())
}

/// The same, calling `progress` with the number of rows read so far after each page of them
/// (out of the team's leads and events).
pub async fn rebuild_with_progress(
    db: &Db,
    team_id: i32,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<()> {
    rebuild_team(db, team_id, false, progress).await.map(|_| ())
}

/// Rebuilds (unless `only_if_stale` and another process already did); true when it did.
async fn rebuild_team(
    db: &Db,
    team_id: i32,
    only_if_stale: bool,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<bool> {
    let tx = db.begin_write().await?;
    // Takes the team row's lock, as every load does first: no load of this team runs while its
    // rollups are rebuilt, and a replica starting at the same time waits here, then skips.
    crate::teams::bump_data_version(&tx, team_id).await?;
    if only_if_stale {
        let mut sql = Sql::new(tx.get_database_backend());
        sql.push("SELECT rollup_version FROM teams WHERE id = ")
            .param(team_id);
        let current: i32 = match tx.query_one_raw(sql.build()).await? {
            Some(row) => row.try_get_by_index(0)?,
            None => VERSION,
        };
        if current >= VERSION {
            tx.rollback().await?;
            return Ok(false);
        }
    }
    let mut clock = team_clock(&tx, team_id).await?;
    let mut pending = Pending::default();
    for table in [
        "lead_days",
        "event_days",
        "engaged_periods",
        "engaged_first",
    ] {
        let mut sql = Sql::new(tx.get_database_backend());
        sql.push(&format!("DELETE FROM {table} WHERE team_id = "))
            .param(team_id);
        tx.execute_raw(sql.build()).await?;
    }
    let mut read = 0u64;
    for table in ["leads", "events"] {
        let columns = stored_columns(table).unwrap_or_default();
        let mut after = 0i64;
        loop {
            let mut sql = Sql::new(tx.get_database_backend());
            sql.push(&format!(
                "SELECT {columns}, id FROM {table} WHERE +team_id = "
            ))
            .param(team_id)
            .push(" AND id > ")
            .param(after)
            .push(&format!(" ORDER BY id LIMIT {PAGE}"));
            let rows = tx.query_all_raw(sql.build()).await?;
            let Some(last) = rows.last() else { break };
            let id_col = columns.split(',').count();
            after = last.try_get_by_index(id_col)?;
            let mut reach = Vec::new();
            for row in &rows {
                let facts = Facts::from_stored(table, row)?;
                pending.add(&mut clock, &facts, 1);
                if let Facts::Lead(lead) = &facts {
                    reach.push((row.try_get_by_index::<String>(0)?, Reach::of(lead)));
                }
            }
            if !reach.is_empty() {
                let ids: Vec<&str> = reach.iter().map(|(id, _)| id.as_str()).collect();
                let times = engagement_times(&tx, team_id, &ids).await?;
                for (id, lead) in &reach {
                    if let Some(times) = times.get(id) {
                        pending.add_engaged(&mut clock, lead, times, 1);
                    }
                }
            }
            pending.flush_if_large(&tx, team_id).await?;
            read += rows.len() as u64;
            progress(read);
        }
    }
    pending.flush(&tx, team_id).await?;
    let mut sql = Sql::new(tx.get_database_backend());
    sql.push(&format!(
        "UPDATE teams SET rollup_version = {VERSION} WHERE id = "
    ))
    .param(team_id);
    tx.execute_raw(sql.build()).await?;
    tx.commit().await?;
    Ok(true)
}

/// Rebuilds the rollups of every team whose rollups predate [`VERSION`] (teams that had data
/// before the rollups existed). Runs after migrations, so it is done once per database.
pub async fn rebuild_stale(db: &Db) -> Result<()> {
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT id FROM teams WHERE rollup_version < {VERSION} ORDER BY id"
    ));
    let rows = db.conn().query_all_raw(sql.build()).await?;
    for row in rows {
        let team_id: i32 = row.try_get_by_index(0)?;
        let started = std::time::Instant::now();
        if !rebuild_team(db, team_id, true, &mut |_| {}).await? {
            continue;
        }
        tracing::info!(
            team_id,
            ms = started.elapsed().as_millis() as u64,
            "built daily rollups"
        );
    }
    Ok(())
}
