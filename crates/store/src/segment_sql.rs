//! How the grouped queries put rows into segments. A dimension gives each row one segment (its
//! value, `(none)` when missing). A segment set gives each row every segment whose filter it
//! matches: the row is joined to the list of segment numbers and kept once per matching one,
//!
//! ```sql
//! … FROM leads l CROSS JOIN (SELECT 0 AS i UNION ALL SELECT 1 AS i) seg
//!   WHERE … AND (CASE seg.i WHEN 0 THEN (<filter 0>) WHEN 1 THEN (<filter 1>) END)
//!   GROUP BY …, CAST(seg.i AS TEXT)
//! ```
//!
//! so one grouped statement per table still computes every segment. Filter values are bound
//! parameters; field names come from validated dimensions. The segment numbers come back as
//! text and are renamed to the set's segment names once the rows are read.

use lodestar_core::dimension::{Dimension, NONE_SEGMENT};
use lodestar_core::segment_set::{Segment, SegmentSet, Test};
use sea_orm::DbBackend;

use crate::error::{Result, StoreError};
use crate::measures::TOTAL;
use crate::sql::Sql;

/// A dimension's raw column expression on a row of `alias`.
fn column(backend: DbBackend, alias: &str, dimension: &Dimension) -> String {
    match dimension {
        Dimension::Channel => format!("{alias}.channel"),
        Dimension::Campaign => format!("{alias}.campaign"),
        Dimension::Source => format!("{alias}.source"),
        Dimension::Category => format!("{alias}.category"),
        // Attribute keys are validated to [A-Za-z0-9_-] by `Dimension::parse`, so inlining is safe.
        Dimension::Attr(key) => match backend {
            DbBackend::Postgres => format!("(CAST({alias}.attrs AS jsonb) ->> '{key}')"),
            _ => format!("json_extract({alias}.attrs, '$.\"{key}\"')"),
        },
        // Never reached: sets are not fields (`SegmentSet::from_json` refuses them).
        Dimension::Set(_) => "NULL".to_owned(),
    }
}

/// The value a filter compares: NULL when missing or empty.
pub(crate) fn value(backend: DbBackend, alias: &str, dimension: &Dimension) -> String {
    format!("NULLIF({}, '')", column(backend, alias, dimension))
}

/// `(<test> AND <test> …)`, true for a segment without tests. Must agree with `Test::matches`.
pub(crate) fn push_filter(sql: &mut Sql, backend: DbBackend, alias: &str, segment: &Segment) {
    if segment.conditions.is_empty() {
        sql.push("(1 = 1)");
        return;
    }
    sql.push("(");
    for (i, c) in segment.conditions.iter().enumerate() {
        if i > 0 {
            sql.push(" AND ");
        }
        let v = value(backend, alias, &c.field);
        match &c.test {
            Test::Eq(x) => {
                sql.push(&format!("{v} = ")).param(x.as_str());
            }
            Test::Ne(x) => {
                sql.push(&format!("({v} IS NULL OR {v} <> "))
                    .param(x.as_str())
                    .push(")");
            }
            // One bound variable per list, however long (see `Sql::param_list`).
            Test::In(xs) => {
                sql.push(&format!("{v} IN "));
                sql.param_list(xs);
            }
            Test::NotIn(xs) => {
                sql.push(&format!("({v} IS NULL OR {v} NOT IN "));
                sql.param_list(xs);
                sql.push(")");
            }
            Test::IsMissing(true) => {
                sql.push(&format!("{v} IS NULL"));
            }
            Test::IsMissing(false) => {
                sql.push(&format!("{v} IS NOT NULL"));
            }
        }
    }
    sql.push(")");
}

/// `(SELECT 0 AS i UNION ALL SELECT 1 AS i …)`: one row per segment number.
pub(crate) fn numbers(n: usize) -> String {
    let rows: Vec<String> = (0..n).map(|i| format!("SELECT {i} AS i")).collect();
    format!("({})", rows.join(" UNION ALL "))
}

/// The segmentation of one query over rows of `alias`.
pub(crate) struct Segments<'a> {
    backend: DbBackend,
    alias: &'a str,
    kind: Kind<'a>,
}

enum Kind<'a> {
    Total,
    Value(&'a Dimension),
    Set(&'a SegmentSet),
}

impl<'a> Segments<'a> {
    pub fn new(
        backend: DbBackend,
        alias: &'a str,
        dimension: Option<&'a Dimension>,
    ) -> Result<Segments<'a>> {
        let kind = match dimension {
            None => Kind::Total,
            Some(Dimension::Set(set)) => match set.definition.as_deref() {
                Some(def) => Kind::Set(def),
                None => {
                    return Err(StoreError::Invalid(format!(
                        "segment set `{}` was not resolved before querying",
                        set.name
                    )));
                }
            },
            Some(d) => Kind::Value(d),
        };
        Ok(Segments {
            backend,
            alias,
            kind,
        })
    }

    /// The segment column of a row.
    pub fn expr(&self) -> String {
        match self.kind {
            Kind::Total => format!("'{TOTAL}'"),
            Kind::Value(d) => format!(
                "COALESCE(NULLIF({}, ''), '{NONE_SEGMENT}')",
                column(self.backend, self.alias, d)
            ),
            Kind::Set(_) => "CAST(seg.i AS TEXT)".to_owned(),
        }
    }

    /// What follows the row's table in FROM.
    pub fn join(&self) -> String {
        match self.kind {
            Kind::Set(set) => format!(" CROSS JOIN {} seg", numbers(set.segments.len())),
            _ => String::new(),
        }
    }

    /// Appended to the WHERE clause: keeps a row once per segment it belongs to.
    pub fn push_where(&self, sql: &mut Sql) {
        if let Kind::Set(set) = self.kind {
            sql.push(" AND (CASE seg.i");
            for (i, segment) in set.segments.iter().enumerate() {
                sql.push(&format!(" WHEN {i} THEN "));
                push_filter(sql, self.backend, self.alias, segment);
            }
            sql.push(" END)");
        }
    }

    /// The name of a segment as read back from a row.
    pub fn name(&self, raw: String) -> String {
        match self.kind {
            Kind::Set(set) => raw
                .parse::<usize>()
                .ok()
                .and_then(|i| set.segments.get(i))
                .map_or(raw, |s| s.name.clone()),
            _ => raw,
        }
    }

    /// Every segment, in declared order, when the segments are known before querying.
    pub fn declared(&self) -> Vec<String> {
        match self.kind {
            Kind::Set(set) => set.names(),
            _ => Vec::new(),
        }
    }
}
