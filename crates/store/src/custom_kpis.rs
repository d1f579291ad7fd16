//! A team's custom KPIs: the current version of each, and every version ever saved.

use chrono::Utc;
use sea_orm::{ConnectionTrait, QueryResult};
use serde::Serialize;

use crate::Db;
use crate::error::Result;
use crate::sql::Sql;
use crate::teams;
use crate::versioned::{self, VersionedTable};

/// A custom KPI as stored. Unit, direction and kind are kept as their API strings; the layers
/// above parse them into domain types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredKpi {
    pub key: String,
    pub name: String,
    pub unit: String,
    pub direction: String,
    pub category: String,
    pub kind: String,
    pub script: String,
    pub version: i32,
    /// Epoch milliseconds of the save (or, in history, of the deletion when `deleted`).
    pub updated_at: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

const TABLE: VersionedTable = VersionedTable {
    name: "custom_kpis",
    key_column: "key",
    history: Some("custom_kpi_versions"),
};

const COLUMNS: &str = "key, name, unit, direction, category, kind, script, version";

fn read(row: &QueryResult, updated_at: i64, deleted: bool) -> Result<StoredKpi> {
    Ok(StoredKpi {
        key: row.try_get_by_index(0)?,
        name: row.try_get_by_index(1)?,
        unit: row.try_get_by_index(2)?,
        direction: row.try_get_by_index(3)?,
        category: row.try_get_by_index(4)?,
        kind: row.try_get_by_index(5)?,
        script: row.try_get_by_index(6)?,
        version: row.try_get_by_index(7)?,
        updated_at,
        deleted,
    })
}

fn read_current(row: &QueryResult) -> Result<StoredKpi> {
    read(row, row.try_get_by_index(8)?, false)
}

pub async fn list(db: &Db, team_id: i32) -> Result<Vec<StoredKpi>> {
    let columns = format!("{COLUMNS}, updated_at");
    versioned::rows(db, TABLE, &columns, team_id, None, read_current).await
}

pub async fn get(db: &Db, team_id: i32, key: &str) -> Result<Option<StoredKpi>> {
    let columns = format!("{COLUMNS}, updated_at");
    versioned::one(db, TABLE, &columns, team_id, key, read_current).await
}

/// Creates or replaces the KPI; the previous version stays in history. Returns the new version.
pub async fn save(db: &Db, team_id: i32, kpi: &StoredKpi) -> Result<i32> {
    let columns = vec![
        ("name", kpi.name.as_str().into()),
        ("unit", kpi.unit.as_str().into()),
        ("direction", kpi.direction.as_str().into()),
        ("category", kpi.category.as_str().into()),
        ("kind", kpi.kind.as_str().into()),
        ("script", kpi.script.as_str().into()),
    ];
    let saved = versioned::save(db, TABLE, team_id, &kpi.key, columns).await?;
    Ok(saved.version)
}

/// Deletes the KPI (its history stays, the last version marked deleted). False if it did not exist.
pub async fn delete(db: &Db, team_id: i32, key: &str) -> Result<bool> {
    let tx = db.begin_write().await?;
    teams::bump_data_version(&tx, team_id).await?;
    let deleted = versioned::delete_in(&tx, TABLE, team_id, key).await?;
    if deleted {
        let mut sql = Sql::new(tx.get_database_backend());
        sql.push("UPDATE custom_kpi_versions SET deleted_at = ")
            .param(Utc::now().timestamp_millis())
            .push(" WHERE team_id = ")
            .param(team_id)
            .push(" AND key = ")
            .param(key)
            .push(" AND version = (SELECT MAX(version) FROM custom_kpi_versions WHERE team_id = ")
            .param(team_id)
            .push(" AND key = ")
            .param(key)
            .push(")");
        tx.execute_raw(sql.build()).await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

/// Every saved version of the KPI, newest first (empty if the team never had it).
pub async fn history(db: &Db, team_id: i32, key: &str) -> Result<Vec<StoredKpi>> {
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {COLUMNS}, created_at, deleted_at FROM custom_kpi_versions WHERE team_id = "
    ))
    .param(team_id)
    .push(" AND key = ")
    .param(key)
    .push(" ORDER BY version DESC");
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter()
        .map(|r| {
            let deleted_at: Option<i64> = r.try_get_by_index(9)?;
            read(r, r.try_get_by_index(8)?, deleted_at.is_some())
        })
        .collect()
}
