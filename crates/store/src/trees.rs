//! A team's KPI trees saved over HTTP, by slug. A saved `default` replaces the built-in default
//! tree for that team.

use lodestar_core::tree::KpiTree;
use sea_orm::QueryResult;

use crate::Db;
use crate::error::{Result, StoreError};
use crate::versioned::{self, VersionedTable};

#[derive(Debug, Clone, PartialEq)]
pub struct StoredTree {
    pub tree: KpiTree,
    /// 1 on creation, one more on each replacement.
    pub version: i32,
    /// Epoch milliseconds.
    pub updated_at: i64,
}

const TABLE: VersionedTable = VersionedTable {
    name: "kpi_trees",
    key_column: "slug",
    history: None,
};

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
    versioned::rows(db, TABLE, COLUMNS, team_id, None, read).await
}

pub async fn find(db: &Db, team_id: i32, slug: &str) -> Result<Option<StoredTree>> {
    versioned::one(db, TABLE, COLUMNS, team_id, slug, read).await
}

/// Creates or replaces `tree.slug` (validated by the caller); returns what was stored and
/// whether it was new. Bumps the team's data version so cached reports organised by the tree
/// miss.
pub async fn save(db: &Db, team_id: i32, tree: &KpiTree) -> Result<(StoredTree, bool)> {
    let definition =
        serde_json::to_string(tree).map_err(|e| StoreError::Invalid(format!("tree: {e}")))?;
    let columns = vec![
        ("title", tree.title.as_str().into()),
        ("definition", definition.into()),
    ];
    let saved = versioned::save(db, TABLE, team_id, &tree.slug, columns).await?;
    Ok((
        StoredTree {
            tree: tree.clone(),
            version: saved.version,
            updated_at: saved.updated_at,
        },
        saved.created,
    ))
}

/// Removes the tree; `false` when there was none.
pub async fn delete(db: &Db, team_id: i32, slug: &str) -> Result<bool> {
    versioned::delete(db, TABLE, team_id, slug).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::teams;
    use lodestar_core::period::Timezone;
    use lodestar_core::tree::TreeNode;

    #[tokio::test]
    async fn a_saved_tree_round_trips_and_stays_with_its_team() {
        let (db, _dir) = crate::db::test_db().await;
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
