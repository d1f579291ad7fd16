//! Per-team definitions saved by name with a version: reports, segment sets, KPI trees and
//! custom KPIs. Saving one bumps the team's data version (cached reports keyed on it miss on
//! every replica) and gives it the next version; this is the one place that does it.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, QueryResult, Value};

use crate::Db;
use crate::error::Result;
use crate::sql::Sql;
use crate::teams;

/// A per-team table of definitions, each keyed by `(team_id, key_column)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VersionedTable {
    pub name: &'static str,
    pub key_column: &'static str,
    /// A table that keeps every saved version (custom KPIs'). The next version then follows the
    /// newest one there, even after a delete, and the current table records only `updated_at`
    /// (the history holds each version's `created_at`).
    pub history: Option<&'static str>,
}

/// Rows of `table`: all of the team's, ordered by key, or (with `key`) just the one. `columns`
/// is the select list `read` expects.
pub(crate) async fn rows<T>(
    db: &Db,
    table: VersionedTable,
    columns: &str,
    team_id: i32,
    key: Option<&str>,
    read: impl Fn(&QueryResult) -> Result<T>,
) -> Result<Vec<T>> {
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {columns} FROM {} WHERE team_id = ",
        table.name
    ))
    .param(team_id);
    match key {
        Some(key) => {
            sql.push(&format!(" AND {} = ", table.key_column))
                .param(key);
        }
        None => {
            sql.push(&format!(" ORDER BY {}", table.key_column));
        }
    }
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter().map(read).collect()
}

/// The team's row of `key`, if any.
pub(crate) async fn one<T>(
    db: &Db,
    table: VersionedTable,
    columns: &str,
    team_id: i32,
    key: &str,
    read: impl Fn(&QueryResult) -> Result<T>,
) -> Result<Option<T>> {
    let rows = rows(db, table, columns, team_id, Some(key), read).await?;
    Ok(rows.into_iter().next())
}

/// What a save stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Saved {
    pub version: i32,
    /// Epoch milliseconds.
    pub updated_at: i64,
    /// There was no current row of that key before.
    pub created: bool,
}

/// Creates or replaces the definition `key` of `table`: `columns` are its other columns and
/// their values (without version and timestamps, which are set here). Returns the new version.
pub(crate) async fn save(
    db: &Db,
    table: VersionedTable,
    team_id: i32,
    key: &str,
    columns: Vec<(&'static str, Value)>,
) -> Result<Saved> {
    let tx = db.begin_write().await?;
    // Locks the team row on PostgreSQL, so two saves of one team never pick the same version.
    teams::bump_data_version(&tx, team_id).await?;
    let backend = tx.get_database_backend();
    let previous = current_version(&tx, table, team_id, key).await?;
    let version = match table.history {
        Some(history) => newest_version(&tx, history, table.key_column, team_id, key).await? + 1,
        None => previous.unwrap_or(0) + 1,
    };
    let now = Utc::now().timestamp_millis();
    let mut row = Vec::with_capacity(columns.len() + 4);
    row.push((table.key_column, Value::from(key)));
    row.extend(columns);
    row.push(("version", Value::from(version)));
    if let Some(history) = table.history {
        let mut stored = row.clone();
        stored.push(("created_at", Value::from(now)));
        tx.execute_raw(insert(backend, history, team_id, &stored, None).build())
            .await?;
    } else {
        row.push(("created_at", Value::from(now)));
    }
    row.push(("updated_at", Value::from(now)));
    tx.execute_raw(insert(backend, table.name, team_id, &row, Some(table.key_column)).build())
        .await?;
    tx.commit().await?;
    Ok(Saved {
        version,
        updated_at: now,
        created: previous.is_none(),
    })
}

/// Removes the definition `key`, bumping the team's data version if there was one; `false`
/// when there was none.
pub(crate) async fn delete(
    db: &Db,
    table: VersionedTable,
    team_id: i32,
    key: &str,
) -> Result<bool> {
    let tx = db.begin_write().await?;
    let deleted = delete_in(&tx, table, team_id, key).await?;
    if deleted {
        teams::bump_data_version(&tx, team_id).await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

/// Removes the current row of `key` inside an open transaction; `false` when there was none.
pub(crate) async fn delete_in(
    tx: &DatabaseTransaction,
    table: VersionedTable,
    team_id: i32,
    key: &str,
) -> Result<bool> {
    let mut sql = Sql::new(tx.get_database_backend());
    sql.push(&format!("DELETE FROM {} WHERE team_id = ", table.name))
        .param(team_id)
        .push(&format!(" AND {} = ", table.key_column))
        .param(key);
    Ok(tx.execute_raw(sql.build()).await?.rows_affected() > 0)
}

async fn current_version(
    tx: &DatabaseTransaction,
    table: VersionedTable,
    team_id: i32,
    key: &str,
) -> Result<Option<i32>> {
    let mut sql = Sql::new(tx.get_database_backend());
    sql.push(&format!(
        "SELECT version FROM {} WHERE team_id = ",
        table.name
    ))
    .param(team_id)
    .push(&format!(" AND {} = ", table.key_column))
    .param(key);
    match tx.query_one_raw(sql.build()).await? {
        Some(row) => Ok(Some(row.try_get_by_index(0)?)),
        None => Ok(None),
    }
}

/// The newest version `history` holds of `key`; 0 when none.
async fn newest_version(
    tx: &DatabaseTransaction,
    history: &str,
    key_column: &str,
    team_id: i32,
    key: &str,
) -> Result<i32> {
    let mut sql = Sql::new(tx.get_database_backend());
    sql.push(&format!(
        "SELECT COALESCE(MAX(version), 0) FROM {history} WHERE team_id = "
    ))
    .param(team_id)
    .push(&format!(" AND {key_column} = "))
    .param(key);
    match tx.query_one_raw(sql.build()).await? {
        Some(row) => Ok(row.try_get_by_index(0)?),
        None => Ok(0),
    }
}

/// `INSERT INTO table (team_id, columns…) VALUES (…)`; with `conflict_key`, an existing row of
/// that key has every column replaced but its key and `created_at`.
fn insert(
    backend: DbBackend,
    table: &str,
    team_id: i32,
    columns: &[(&'static str, Value)],
    conflict_key: Option<&str>,
) -> Sql {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "INSERT INTO {table} (team_id, {}) VALUES (",
        names.join(", ")
    ))
    .param(team_id);
    for (_, value) in columns {
        sql.push(", ").param(value.clone());
    }
    sql.push(")");
    if let Some(key) = conflict_key {
        let updates: Vec<String> = names
            .iter()
            .filter(|name| **name != key && **name != "created_at")
            .map(|name| format!("{name} = excluded.{name}"))
            .collect();
        sql.push(&format!(
            " ON CONFLICT (team_id, {key}) DO UPDATE SET {}",
            updates.join(", ")
        ));
    }
    sql
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, Value};

    use super::insert;

    #[test]
    fn an_upsert_replaces_every_column_but_the_key_and_the_creation_time() {
        let columns = [
            ("slug", Value::from("paid")),
            ("title", Value::from("Paid")),
            ("version", Value::from(2)),
            ("created_at", Value::from(7_i64)),
            ("updated_at", Value::from(7_i64)),
        ];
        let built = insert(DbBackend::Postgres, "reports", 1, &columns, Some("slug")).build();
        assert_eq!(
            built.sql,
            "INSERT INTO reports (team_id, slug, title, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (team_id, slug) DO UPDATE SET \
             title = excluded.title, version = excluded.version, updated_at = excluded.updated_at"
        );
        let plain = insert(DbBackend::Sqlite, "history", 1, &columns[..2], None).build();
        assert_eq!(
            plain.sql,
            "INSERT INTO history (team_id, slug, title) VALUES (?, ?, ?)"
        );
    }
}
