//! A team's named segment sets, and the partition check's row counts: how many rows of a table
//! fall in no segment of a set and how many in more than one, computed in SQL.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use lodestar_core::dimension::Table;
use lodestar_core::segment_set::SegmentSet;
use sea_orm::{ConnectionTrait, DbBackend, QueryResult};
use serde::Serialize;

use crate::Db;
use crate::error::{Result, StoreError};
use crate::segment_sql::{push_filter, value};
use crate::sql::Sql;
use crate::versioned::{self, VersionedTable};

/// A segment set as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSet {
    pub set: SegmentSet,
    /// 1 on creation, one more on each replacement.
    pub version: i32,
    /// Epoch milliseconds.
    pub updated_at: i64,
}

fn read(row: &QueryResult) -> Result<StoredSet> {
    let name: String = row.try_get_by_index(0)?;
    let text: String = row.try_get_by_index(1)?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| StoreError::Invalid(format!("stored segment set `{name}`: {e}")))?;
    let set = SegmentSet::from_json(&name, &json)
        .map_err(|e| StoreError::Invalid(format!("stored segment set `{name}`: {e}")))?;
    Ok(StoredSet {
        set,
        version: row.try_get_by_index(2)?,
        updated_at: row.try_get_by_index(3)?,
    })
}

const TABLE: VersionedTable = VersionedTable {
    name: "segment_sets",
    key_column: "name",
    history: None,
};

const COLUMNS: &str = "name, definition, version, updated_at";

pub async fn list(db: &Db, team_id: i32) -> Result<Vec<StoredSet>> {
    versioned::rows(db, TABLE, COLUMNS, team_id, None, read).await
}

pub async fn find(db: &Db, team_id: i32, name: &str) -> Result<Option<StoredSet>> {
    versioned::one(db, TABLE, COLUMNS, team_id, name, read).await
}

/// Creates or replaces the set; returns what was stored and whether it was new. Bumps the
/// team's data version: cached reports split by the set must not outlive its definition.
pub async fn save(db: &Db, team_id: i32, set: &SegmentSet) -> Result<(StoredSet, bool)> {
    let columns = vec![("definition", set.to_json().to_string().into())];
    let saved = versioned::save(db, TABLE, team_id, &set.name, columns).await?;
    Ok((
        StoredSet {
            set: set.clone(),
            version: saved.version,
            updated_at: saved.updated_at,
        },
        saved.created,
    ))
}

/// Removes the set; `false` when there was none.
pub async fn delete(db: &Db, team_id: i32, name: &str) -> Result<bool> {
    versioned::delete(db, TABLE, team_id, name).await
}

/// The rows a check looks at: instants `[lo, hi)` (epoch ms) for leads and events, local days
/// `[lo_day, hi_day)` (days since 1970-01-01) for spend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub lo: i64,
    pub hi: i64,
    pub lo_day: i32,
    pub hi_day: i32,
}

/// How the rows of one table in a window fall into a set's segments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub table: Table,
    /// Rows in the window: leads with any lifecycle timestamp in it, events that occurred in
    /// it, spend of its days.
    pub rows: u64,
    /// Rows in no segment.
    pub gap: u64,
    /// Rows in more than one segment.
    pub overlap: u64,
    pub gap_examples: Vec<RowExample>,
    pub overlap_examples: Vec<RowExample>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowExample {
    /// The row's id (leads, events) or its key (spend: day, channel, campaign, category).
    pub id: String,
    /// The segments it is in.
    pub segments: Vec<String>,
    /// The row's value of each field the set's filters read (`channel`, `attrs.region`…);
    /// a missing or empty value is left out. Says why a row is in no segment, or in several.
    pub values: BTreeMap<String, String>,
}

const LEAD_TIMES: [&str; 8] = [
    "created_at",
    "mql_at",
    "sal_at",
    "sql_at",
    "opportunity_at",
    "won_at",
    "lost_at",
    "churned_at",
];

/// The key columns of a table's rows, selected as k0, k1, ….
fn keys(table: Table) -> &'static [&'static str] {
    match table {
        Table::Leads => &["l.ext_id"],
        Table::Events => &["ev.ext_id"],
        Table::Spend => &["s.day", "s.channel", "s.campaign", "s.category"],
    }
}

/// `SELECT k…, v…, f0, f1, … FROM <table> WHERE <team and window>`: a row's key, the values of
/// the fields the set reads and, per segment, 1 when it matches the segment's filter.
fn push_flags(
    sql: &mut Sql,
    backend: DbBackend,
    team_id: i32,
    set: &SegmentSet,
    table: Table,
    w: &Window,
) {
    let (alias, from) = match table {
        Table::Leads => ("l", "leads l"),
        Table::Events => ("ev", "events ev"),
        Table::Spend => ("s", "spend s"),
    };
    sql.push("SELECT ");
    for (i, k) in keys(table).iter().enumerate() {
        sql.push(&format!("{k} AS k{i}, "));
    }
    for (j, field) in set.fields().into_iter().enumerate() {
        sql.push(&format!("{} AS v{j}, ", value(backend, alias, field)));
    }
    for (i, segment) in set.segments.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("CASE WHEN ");
        push_filter(sql, backend, alias, segment);
        sql.push(&format!(" THEN 1 ELSE 0 END AS f{i}"));
    }
    let window = match table {
        Table::Leads => {
            let any: Vec<String> = LEAD_TIMES
                .iter()
                .map(|c| format!("(l.{c} >= {} AND l.{c} < {})", w.lo, w.hi))
                .collect();
            format!("({})", any.join(" OR "))
        }
        Table::Events => format!("ev.occurred_at >= {} AND ev.occurred_at < {}", w.lo, w.hi),
        Table::Spend => format!("s.day >= {} AND s.day < {}", w.lo_day, w.hi_day),
    };
    sql.push(&format!(
        " FROM {from} WHERE {alias}.team_id = {team_id} AND {window}"
    ));
}

fn flag_sum(n: usize) -> String {
    let flags: Vec<String> = (0..n).map(|i| format!("b0.f{i}")).collect();
    flags.join(" + ")
}

fn get_u64(row: &QueryResult, idx: usize) -> Result<u64> {
    let v: Option<i64> = row.try_get_by_index(idx)?;
    Ok(v.unwrap_or(0).max(0) as u64)
}

fn day_text(day: i32) -> String {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .map(|epoch| (epoch + Duration::days(i64::from(day))).to_string())
        .unwrap_or_else(|| day.to_string())
}

/// Counts the rows of `table` in the window in no segment and in several, with up to
/// `examples` of each (by id), in two grouped statements.
pub async fn coverage(
    db: &Db,
    team_id: i32,
    set: &SegmentSet,
    table: Table,
    window: &Window,
    examples: usize,
) -> Result<Coverage> {
    let n = set.segments.len();
    let mut sql = Sql::new(db.backend());
    sql.push(
        "SELECT COUNT(*), SUM(CASE WHEN x.n = 0 THEN 1 ELSE 0 END), \
         SUM(CASE WHEN x.n > 1 THEN 1 ELSE 0 END) FROM (SELECT ",
    );
    sql.push(&flag_sum(n)).push(" AS n FROM (");
    push_flags(&mut sql, db.backend(), team_id, set, table, window);
    sql.push(") b0) x");
    let (rows, gap, overlap) = match db.conn().query_one_raw(sql.build()).await? {
        Some(row) => (get_u64(&row, 0)?, get_u64(&row, 1)?, get_u64(&row, 2)?),
        None => (0, 0, 0),
    };

    let mut coverage = Coverage {
        table,
        rows,
        gap,
        overlap,
        gap_examples: Vec::new(),
        overlap_examples: Vec::new(),
    };
    if gap + overlap == 0 || examples == 0 {
        return Ok(coverage);
    }
    let key_cols: Vec<String> = (0..keys(table).len()).map(|i| format!("k{i}")).collect();
    let fields = set.fields();
    let value_cols: Vec<String> = (0..fields.len()).map(|j| format!("v{j}")).collect();
    let flag_cols: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
    let cols = [&key_cols[..], &value_cols[..], &flag_cols[..]]
        .concat()
        .join(", ");
    // Values are read as text; flags are 32-bit on PostgreSQL, and rows are read as 64-bit.
    let outer: Vec<String> = value_cols
        .iter()
        .map(|v| format!("CAST({v} AS TEXT)"))
        .chain(flag_cols.iter().map(|f| format!("CAST({f} AS BIGINT)")))
        .collect();
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {keys}, {outer} FROM (SELECT {cols}, n, ROW_NUMBER() OVER (PARTITION BY \
         CASE WHEN n = 0 THEN 0 ELSE 1 END ORDER BY {keys}) AS rn FROM (SELECT b0.*, {sum} AS n FROM (",
        keys = key_cols.join(", "),
        outer = outer.join(", "),
        sum = flag_sum(n),
    ));
    push_flags(&mut sql, db.backend(), team_id, set, table, window);
    sql.push(&format!(
        ") b0) b WHERE n <> 1) y WHERE rn <= {examples} ORDER BY n, {}",
        key_cols.join(", ")
    ));
    for row in db.conn().query_all_raw(sql.build()).await? {
        let id = match table {
            Table::Spend => {
                let day: i32 = row.try_get_by_index(0)?;
                let channel: String = row.try_get_by_index(1)?;
                let campaign: String = row.try_get_by_index(2)?;
                let category: String = row.try_get_by_index(3)?;
                format!(
                    "day={} channel={channel} campaign={campaign} category={category}",
                    day_text(day)
                )
            }
            _ => row.try_get_by_index(0)?,
        };
        let mut values = BTreeMap::new();
        for (j, field) in fields.iter().enumerate() {
            let v: Option<String> = row.try_get_by_index(key_cols.len() + j)?;
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                values.insert(field.to_string(), v);
            }
        }
        let first_flag = key_cols.len() + fields.len();
        let mut segments = Vec::new();
        for (i, segment) in set.segments.iter().enumerate() {
            if get_u64(&row, first_flag + i)? > 0 {
                segments.push(segment.name.clone());
            }
        }
        let example = RowExample {
            id,
            segments,
            values,
        };
        if example.segments.is_empty() {
            coverage.gap_examples.push(example);
        } else {
            coverage.overlap_examples.push(example);
        }
    }
    Ok(coverage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::test_db as db;
    use crate::teams;
    use lodestar_core::period::Timezone;
    use serde_json::json;

    fn set(name: &str, channel: &str) -> SegmentSet {
        SegmentSet::from_json(
            name,
            &json!({"segments": [{"name": "One", "filter": {"channel": channel}}]}),
        )
        .expect("valid")
    }

    #[tokio::test]
    async fn a_saved_set_is_versioned_scoped_to_its_team_and_bumps_the_data_version() {
        let (db, _dir) = db().await;
        let tz = Timezone::default();
        let a = teams::create(&db, "a", "A", &tz).await.expect("team a");
        let b = teams::create(&db, "b", "B", &tz).await.expect("team b");
        let (first, created) = save(&db, a.id, &set("paid", "email")).await.expect("save");
        assert!(created);
        assert_eq!(first.version, 1);
        let (second, created) = save(&db, a.id, &set("paid", "social")).await.expect("save");
        assert!(!created);
        assert_eq!(second.version, 2);
        let found = find(&db, a.id, "paid").await.expect("find").expect("found");
        assert_eq!(found.set, set("paid", "social"));
        assert_eq!(find(&db, b.id, "paid").await.expect("find"), None);
        assert!(list(&db, b.id).await.expect("list").is_empty());
        let version = teams::find_by_id(&db, a.id)
            .await
            .expect("team")
            .map(|t| t.data_version);
        assert_eq!(version, Some(2));
        assert!(!delete(&db, b.id, "paid").await.expect("delete"));
        assert!(delete(&db, a.id, "paid").await.expect("delete"));
        assert!(list(&db, a.id).await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn rows_in_several_or_no_segments_are_counted_and_segmented_measures_follow_membership() {
        use crate::ingest;
        use crate::measures::{self, MeasureQuery, TOTAL};
        use lodestar_core::dimension::{Dimension, SetRef};
        use lodestar_core::measure::Measure;
        use lodestar_core::period::Buckets;
        use lodestar_core::rows::{InputRow, LeadRow};

        let (db, _dir) = db().await;
        let team = teams::create(&db, "a", "A", &Timezone::default())
            .await
            .expect("team");
        let lead = |id: &str, channel: &str, region: Option<&str>| {
            let mut row =
                json!({"id": id, "created_at": "2026-11-03T10:00:00Z", "channel": channel});
            if let Some(r) = region {
                row["attrs"] = json!({"region": r});
            }
            LeadRow::from_json(&row).expect("valid lead")
        };
        let rows = [
            lead("a", "email", Some("EU")),
            lead("b", "email", None),
            lead("c", "social", Some("EU")),
            lead("d", "organic", Some("NA")),
            lead("e", "", Some("EU")),
        ];
        ingest::upsert_batch(&db, team.id, &rows)
            .await
            .expect("stored");
        let set = SegmentSet::from_json(
            "mixed",
            &json!({"segments": [
                {"name": "EU", "filter": {"attrs.region": "EU"}},
                {"name": "Email", "filter": {"channel": {"in": ["email"]}}},
                {"name": "No channel", "filter": {"channel": {"is_missing": true}}}
            ]}),
        )
        .expect("valid");
        let lo = chrono::DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z")
            .expect("instant")
            .timestamp_millis();
        let hi = lo + 7 * 86_400_000;
        let window = Window {
            lo,
            hi,
            lo_day: 20_759,
            hi_day: 20_766,
        };
        let c = coverage(&db, team.id, &set, Table::Leads, &window, 5)
            .await
            .expect("coverage");
        let values = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        // a: EU + Email; e: EU + No channel; b: Email; c: EU; d: none.
        assert_eq!((c.rows, c.gap, c.overlap), (5, 1, 2));
        assert_eq!(
            c.gap_examples,
            vec![RowExample {
                id: "d".into(),
                segments: vec![],
                values: values(&[("attrs.region", "NA"), ("channel", "organic")]),
            }]
        );
        assert_eq!(
            c.overlap_examples,
            vec![
                RowExample {
                    id: "a".into(),
                    segments: vec!["EU".into(), "Email".into()],
                    values: values(&[("attrs.region", "EU"), ("channel", "email")]),
                },
                RowExample {
                    id: "e".into(),
                    segments: vec!["EU".into(), "No channel".into()],
                    // An empty channel is missing: left out.
                    values: values(&[("attrs.region", "EU")]),
                },
            ]
        );

        let dim = Dimension::Set(SetRef::resolved(set));
        let wanted = [Measure::Leads].into_iter().collect();
        // Week 2026-W45 in UTC: the bounds `lo` and `hi` above.
        let week = lodestar_core::period::PeriodKey::parse("2026-W45").expect("a week");
        let bounds = Buckets::of(&[week], Timezone::default().0);
        assert_eq!(bounds.instants, [lo, hi]);
        assert_eq!(bounds.days, [20_759, 20_766]);
        let m = measures::compute(
            &db,
            &MeasureQuery {
                team_id: team.id,
                bounds: &bounds,
                dimension: Some(&dim),
                measures: &wanted,
            },
        )
        .await
        .expect("measured");
        let leads = |s: &str| m.get(0, s).get(Measure::Leads);
        assert_eq!(m.segments([0]), ["EU", "Email", "No channel"]);
        assert_eq!(
            (leads("EU"), leads("Email"), leads("No channel")),
            (Some(3.0), Some(2.0), Some(1.0))
        );
        assert_eq!(leads(TOTAL), Some(0.0));
    }

    #[test]
    fn spend_days_print_as_dates() {
        assert_eq!(day_text(0), "1970-01-01");
        assert_eq!(day_text(20_727), "2026-10-01");
    }
}
