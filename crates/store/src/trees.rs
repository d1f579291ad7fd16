//! A team's KPI trees saved over HTTP, by slug. A saved `default` replaces the built-in default
//! tree for that team.

use chrono::Utc;
use lodestar_core::tree::KpiTree;
use sea_orm::{ConnectionTrait, QueryResult};

use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::{Sql, team_rows};
use crate::teams;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredTree {
    pub tree: KpiTree,
    /// 1 on creation, one more on each replacement.
    pub version: i32,
    /// Epoch milliseconds.
    pub updated_at: i64,
}

const COLUMNS: &str = "slug, definition, version, updated_at";

fn read(row: &QueryResult) -> Result<StoredTree> {
    let slug: String = row.try_get_by_index(0)?;
    let text: String = row.try_get_by_index(1)?;
    let mut tree: KpiTree = serde_json::from_str(&text)
        .map_err(|e| StoreError::Invalid(format!("stored tree `{slug}`: {e}")))?;
    tree.slug = slug;
    Ok(StoredTree {
        tree,
        version: row.try_get_by_index(2)?,
        updated_at: row.try_get_by_index(3)?,
    })
}

pub async fn list(db: &Db, team_id: i32) -> Result<Vec<StoredTree>> {
    team_rows(db, "kpi_trees", COLUMNS, "slug", team_id, None, read).await
}

pub async fn find(db: &Db, team_id: i32, slug: &str) -> Result<Option<StoredTree>> {
    let rows = team_rows(db, "kpi_trees", COLUMNS, "slug", team_id, Some(slug), read).await?;
    Ok(rows.into_iter().next())
}

/// Creates or replaces `tree.slug` (validated by the caller); returns what was stored and
/// whether it was new. Bumps the team's data version so cached reports organised by the tree
/// miss.
pub async fn save(db: &Db, team_id: i32, tree: &KpiTree) -> Result<(StoredTree, bool)> {
    let definition =
        serde_json::to_string(tree).map_err(|e| StoreError::Invalid(format!("tree: {e}")))?;
    let tx = db.begin_write().await?;
    // Locks the team row on PostgreSQL, so two saves never pick the same version.
    teams::bump_data_version(&tx, team_id).await?;
    let mut sql = Sql::new(tx.get_database_backend());
    sql.push("SELECT version FROM kpi_trees WHERE team_id = ")
        .param(team_id)
        .push(" AND slug = ")
        .param(tree.slug.as_str());
    let previous: Option<i32> = match tx.query_one_raw(sql.build()).await? {
        Some(row) => Some(row.try_get_by_index(0)?),
        None => None,
    };
    let now = Utc::now().timestamp_millis();
    let version = previous.unwrap_or(0) + 1;
    let mut sql = Sql::new(tx.get_database_backend());
    sql.push(
        "INSERT INTO kpi_trees (team_id, slug, title, definition, version, created_at, updated_at) VALUES (",
    )
    .param(team_id)
    .push(", ")
    .param(tree.slug.as_str())
    .push(", ")
    .param(tree.title.as_str())
    .push(", ")
    .param(definition)
    .push(", ")
    .param(version)
    .push(", ")
    .param(now)
    .push(", ")
    .param(now)
    .push(
        ") ON CONFLICT (team_id, slug) DO UPDATE SET title = excluded.title, \
         definition = excluded.definition, version = excluded.version, \
         updated_at = excluded.updated_at",
    );
    tx.execute_raw(sql.build()).await?;
    tx.commit().await?;
    Ok((
        StoredTree {
            tree: tree.clone(),
            version,
            updated_at: now,
        },
        previous.is_none(),
    ))
}

/// Removes the tree; `false` when there was none.
pub async fn delete(db: &Db, team_id: i32, slug: &str) -> Result<bool> {
    let tx = db.begin_write().await?;
    let mut sql = Sql::new(tx.get_database_backend());
    sql.push("DELETE FROM kpi_trees WHERE team_id = ")
        .param(team_id)
        .push(" AND slug = ")
        .param(slug);
    let deleted = tx.execute_raw(sql.build()).await?.rows_affected() > 0;
    if deleted {
        teams::bump_data_version(&tx, team_id).await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lodestar_core::period::Timezone;
    use lodestar_core::tree::TreeNode;

    #[tokio::test]
    async fn a_saved_tree_round_trips_and_stays_with_its_team() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let db = Db::connect(&url).await.expect("sqlite opens");
        db.migrate().await.expect("migrations run");
        let tz = Timezone::default();
        let a = teams::create(&db, "a", "A", &tz).await.expect("team a");
        let b = teams::create(&db, "b", "B", &tz).await.expect("team b");
        let tree = KpiTree {
            slug: "funnel".into(),
            title: "Funnel".into(),
            branches: vec![TreeNode {
                title: "Top".into(),
                kind: None,
                kpis: vec!["leads".into()],
                branches: vec![TreeNode {
                    title: "Deeper".into(),
                    kind: None,
                    kpis: vec!["mqls".into()],
                    branches: vec![],
                }],
            }],
        };
        let (stored, created) = save(&db, a.id, &tree).await.expect("save");
        assert!(created && stored.version == 1);
        let (stored, created) = save(&db, a.id, &tree).await.expect("save");
        assert!(!created && stored.version == 2);
        let found = find(&db, a.id, "funnel")
            .await
            .expect("find")
            .expect("found");
        assert_eq!(found.tree, tree);
        assert_eq!(find(&db, b.id, "funnel").await.expect("find"), None);
        assert_eq!(list(&db, a.id).await.expect("list").len(), 1);
        assert!(!delete(&db, b.id, "funnel").await.expect("delete"));
        assert!(delete(&db, a.id, "funnel").await.expect("delete"));
        assert!(list(&db, a.id).await.expect("list").is_empty());
    }
}
