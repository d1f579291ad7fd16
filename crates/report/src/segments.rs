//! Named segment sets in reports: resolving `set:<name>` to the team's definition, and the
//! partition check (does every row of the period fall in exactly one segment, and do the
//! segments of every additive measure sum to its total?).

use std::collections::BTreeSet;

use lodestar_core::CoreError;
use lodestar_core::dimension::{Dimension, SetRef, Table};
use lodestar_core::measure::Measure;
use lodestar_core::period::{Buckets, PeriodKey, PeriodView};
use lodestar_core::segment_set::SegmentSet;
use lodestar_store::Db;
use lodestar_store::measures::{self, MeasureQuery, TOTAL};
use lodestar_store::segment_sets::{self, Coverage, Window};
use lodestar_store::teams::Team;
use serde::Serialize;

use crate::error::ReportError;
use crate::number;

/// Example rows shown per table for gaps and for overlaps.
pub const EXAMPLES: usize = 5;

/// `dim` with a segment set's definition filled in from the team's stored sets; other
/// dimensions unchanged. An unknown set is an input error (the request named it).
pub async fn resolve(db: &Db, team: &Team, dim: &Dimension) -> Result<Dimension, ReportError> {
    match dim {
        Dimension::Set(set) if set.definition.is_none() => {
            match segment_sets::find(db, team.id, &set.name).await? {
                Some(stored) => Ok(Dimension::Set(SetRef::resolved(stored.set))),
                None => Err(CoreError::UnknownSegmentSet(set.name.clone()).into()),
            }
        }
        other => Ok(other.clone()),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PartitionCheck {
    pub set: String,
    pub period: PeriodView,
    pub segments: Vec<String>,
    /// Every covered table has no gap and no overlap, and every additive measure's segments
    /// sum to its total.
    pub partition: bool,
    /// The tables whose rows the set can split, with their gaps and overlaps.
    pub tables: Vec<Coverage>,
    /// The tables it cannot split, and why.
    pub unsupported: Vec<UnsupportedTable>,
    /// Every additive measure of the covered tables: its total and the sum of its segments.
    pub measures: Vec<MeasureSum>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnsupportedTable {
    pub table: Table,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeasureSum {
    pub measure: &'static str,
    pub table: Table,
    #[serde(serialize_with = "number::serialize")]
    pub total: f64,
    #[serde(serialize_with = "number::serialize")]
    pub segments_sum: f64,
    pub sums_match: bool,
}

fn sums_match(total: f64, sum: f64) -> bool {
    (total - sum).abs() <= 1e-6 + 1e-9 * total.abs()
}

/// The partition check of the team's set `name` over `period`; `None` when there is no such
/// set. Row counts and sums are computed in SQL.
pub async fn check_partition(
    db: &Db,
    team: &Team,
    name: &str,
    period: PeriodKey,
) -> Result<Option<PartitionCheck>, ReportError> {
    let Some(stored) = segment_sets::find(db, team.id, name).await? else {
        return Ok(None);
    };
    check_set(db, team, stored.set, period).await.map(Some)
}

/// The partition check of `set` (saved or not: the segment-set editor checks each edit with
/// it) over `period`.
pub async fn check_set(
    db: &Db,
    team: &Team,
    set: SegmentSet,
    period: PeriodKey,
) -> Result<PartitionCheck, ReportError> {
    let bounds = Buckets::of(&[period], team.timezone.0);
    let window = Window {
        lo: bounds.instants[0],
        hi: bounds.instants[1],
        lo_day: bounds.days[0],
        hi_day: bounds.days[1],
    };
    let mut tables = Vec::new();
    let mut unsupported = Vec::new();
    for table in Table::ALL {
        match set.missing_on(table) {
            None => tables
                .push(segment_sets::coverage(db, team.id, &set, table, &window, EXAMPLES).await?),
            Some(field) => unsupported.push(UnsupportedTable {
                table,
                reason: format!("{table} has no dimension {field}"),
            }),
        }
    }

    let covered: BTreeSet<Table> = tables.iter().map(|c| c.table).collect();
    let wanted: BTreeSet<Measure> = Measure::ALL
        .iter()
        .copied()
        .filter(|m| m.is_additive() && !m.is_internal() && covered.contains(&m.table()))
        .collect();
    let names = set.names();
    let set_name = set.name.clone();
    let dim = Dimension::Set(SetRef::resolved(set));
    let mut sums = Vec::new();
    if !wanted.is_empty() {
        let query = |dimension| MeasureQuery {
            team_id: team.id,
            bounds: &bounds,
            dimension,
            measures: &wanted,
        };
        let totals = measures::compute(db, &query(None)).await?;
        let split = measures::compute(db, &query(Some(&dim))).await?;
        let total_values = totals.get(0, TOTAL);
        for &m in &wanted {
            let total = total_values.get(m).unwrap_or(0.0);
            let segments_sum: f64 = names
                .iter()
                .map(|s| split.get(0, s).get(m).unwrap_or(0.0))
                .sum();
            sums.push(MeasureSum {
                measure: m.key(),
                table: m.table(),
                total,
                segments_sum,
                sums_match: sums_match(total, segments_sum),
            });
        }
    }
    let partition =
        tables.iter().all(|c| c.gap == 0 && c.overlap == 0) && sums.iter().all(|s| s.sums_match);
    Ok(PartitionCheck {
        set: set_name,
        period: PeriodView::new(&bounds.periods[0], team.timezone),
        segments: names,
        partition,
        tables,
        unsupported,
        measures: sums,
    })
}
