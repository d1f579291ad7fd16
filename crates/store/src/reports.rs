//! Report definitions, per team and slug. Saving one bumps the team's data version, so cached
//! reports keyed on it miss on every replica.

use sea_orm::QueryResult;
use serde::Serialize;

use crate::Db;
use crate::error::Result;
use crate::versioned::{self, VersionedTable};

/// A report definition as stored: the layers above parse the strings into domain types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredReport {
    pub slug: String,
    pub title: String,
    /// `day`, `week`, `month`, `quarter` or `year`.
    pub period_kind: String,
    /// A JSON array of KPI keys; `None` for every KPI of the team.
    pub kpis: Option<String>,
    pub segment_by: Option<String>,
    /// A JSON object: KPI key → `{"min": x, "max": y}`.
    pub targets: String,
    /// The slug of the KPI tree the report is organised by; `None` for the default branches.
    pub tree: Option<String>,
    /// `previous`, `year` or `none`: what the period is compared with.
    pub compare: String,
    /// 1 on creation, one more on each replacement.
    pub version: i32,
    /// Epoch milliseconds.
    pub updated_at: i64,
}

const TABLE: VersionedTable = VersionedTable {
    name: "reports",
    key_column: "slug",
    history: None,
};

const COLUMNS: &str =
    "slug, title, period_kind, kpis, segment_by, targets, tree, version, updated_at, compare";

fn read(row: &QueryResult) -> Result<StoredReport> {
    Ok(StoredReport {
        slug: row.try_get_by_index(0)?,
        title: row.try_get_by_index(1)?,
        period_kind: row.try_get_by_index(2)?,
        kpis: row.try_get_by_index(3)?,
        segment_by: row.try_get_by_index(4)?,
        targets: row.try_get_by_index(5)?,
        tree: row.try_get_by_index(6)?,
        version: row.try_get_by_index(7)?,
        updated_at: row.try_get_by_index(8)?,
        compare: row.try_get_by_index(9)?,
    })
}

/// The team's stored reports, by slug.
pub async fn list(db: &Db, team_id: i32) -> Result<Vec<StoredReport>> {
    versioned::rows(db, TABLE, COLUMNS, team_id, None, read).await
}

pub async fn find(db: &Db, team_id: i32, slug: &str) -> Result<Option<StoredReport>> {
    versioned::one(db, TABLE, COLUMNS, team_id, slug, read).await
}

/// Creates or replaces the report `report.slug` (its `version` and `updated_at` are set here).
/// Returns what was stored and whether it was new.
pub async fn save(db: &Db, team_id: i32, report: &StoredReport) -> Result<(StoredReport, bool)> {
    let columns = vec![
        ("title", report.title.as_str().into()),
        ("period_kind", report.period_kind.as_str().into()),
        ("kpis", report.kpis.clone().into()),
        ("segment_by", report.segment_by.clone().into()),
        ("targets", report.targets.as_str().into()),
        ("tree", report.tree.clone().into()),
        ("compare", report.compare.as_str().into()),
    ];
    let saved = versioned::save(db, TABLE, team_id, &report.slug, columns).await?;
    let stored = StoredReport {
        version: saved.version,
        updated_at: saved.updated_at,
        ..report.clone()
    };
    Ok((stored, saved.created))
}

/// Removes the report; `false` when there was none.
pub async fn delete(db: &Db, team_id: i32, slug: &str) -> Result<bool> {
    versioned::delete(db, TABLE, team_id, slug).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::test_db as db;
    use crate::teams;
    use lodestar_core::period::Timezone;

    fn report(slug: &str, title: &str) -> StoredReport {
        StoredReport {
            slug: slug.to_owned(),
            title: title.to_owned(),
            period_kind: "month".to_owned(),
            kpis: Some(r#"["leads","cpl"]"#.to_owned()),
            segment_by: Some("channel".to_owned()),
            targets: r#"{"cpl":{"max":400}}"#.to_owned(),
            tree: None,
            compare: "year".to_owned(),
            version: 0,
            updated_at: 0,
        }
    }

    #[tokio::test]
    async fn a_saved_report_is_versioned_scoped_to_its_team_and_bumps_the_data_version() {
        let (db, _dir) = db().await;
        let tz = Timezone::default();
        let a = teams::create(&db, "a", "A", &tz).await.expect("team a");
        let b = teams::create(&db, "b", "B", &tz).await.expect("team b");

        let (first, created) = save(&db, a.id, &report("paid", "Paid"))
            .await
            .expect("save");
        assert!(created);
        assert_eq!(first.version, 1);
        let (second, created) = save(&db, a.id, &report("paid", "Paid v2"))
            .await
            .expect("save");
        assert!(!created);
        assert_eq!(second.version, 2);

        let found = find(&db, a.id, "paid").await.expect("find");
        assert_eq!(found.as_ref().map(|r| r.title.as_str()), Some("Paid v2"));
        assert_eq!(
            found.and_then(|r| r.kpis),
            Some(r#"["leads","cpl"]"#.to_owned())
        );
        assert_eq!(find(&db, b.id, "paid").await.expect("find"), None);
        assert!(list(&db, b.id).await.expect("list").is_empty());
        assert_eq!(list(&db, a.id).await.expect("list").len(), 1);

        let version = teams::find_by_id(&db, a.id)
            .await
            .expect("team")
            .map(|t| t.data_version);
        assert_eq!(version, Some(2));

        assert!(!delete(&db, b.id, "paid").await.expect("delete"));
        assert!(delete(&db, a.id, "paid").await.expect("delete"));
        assert_eq!(find(&db, a.id, "paid").await.expect("find"), None);
    }

    #[tokio::test]
    async fn a_report_reads_back_with_the_tree_it_was_saved_with_or_none() {
        let (db, _dir) = db().await;
        let team = teams::create(&db, "a", "A", &Timezone::default())
            .await
            .expect("team");
        let by_funnel = StoredReport {
            tree: Some("funnel".to_owned()),
            ..report("by-funnel", "By funnel")
        };
        let (saved, _) = save(&db, team.id, &by_funnel).await.expect("save");
        assert_eq!(saved.tree.as_deref(), Some("funnel"));
        save(&db, team.id, &report("plain", "Plain"))
            .await
            .expect("save");

        let found = find(&db, team.id, "by-funnel").await.expect("find");
        assert_eq!(found, Some(saved));
        let plain = find(&db, team.id, "plain").await.expect("find");
        assert_eq!(plain.map(|r| r.tree), Some(None));
        let trees = |reports: Vec<StoredReport>| -> Vec<(String, Option<String>)> {
            reports.into_iter().map(|r| (r.slug, r.tree)).collect()
        };
        assert_eq!(
            trees(list(&db, team.id).await.expect("list")),
            vec![
                ("by-funnel".to_owned(), Some("funnel".to_owned())),
                ("plain".to_owned(), None)
            ]
        );

        // Replacing the report replaces its tree too: saved without one, it has none.
        let (replaced, created) = save(&db, team.id, &report("by-funnel", "By funnel"))
            .await
            .expect("save");
        assert!(!created);
        assert_eq!(replaced.version, 2);
        let found = find(&db, team.id, "by-funnel").await.expect("find");
        assert_eq!(found.map(|r| (r.version, r.tree)), Some((2, None)));
    }
}
