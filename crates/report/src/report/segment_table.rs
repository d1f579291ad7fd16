//! The report's segment table: a row per segment of its dimension, a column per KPI (or, for a
//! report of every KPI, a chosen few).

use lodestar_core::catalog::Unit;
use lodestar_core::dimension::{Dimension, NONE_SEGMENT};
use serde::Serialize;

use crate::definition::KpiSelection;
use crate::engine::{KpiValue, SegmentValue};
use crate::format::Style;
use crate::number;

/// The columns of the segment table of a report of every KPI: a row per segment cannot hold 45.
const SEGMENT_COLUMNS: [&str; 8] = [
    "leads",
    "mqls",
    "sqls",
    "customers_won",
    "won_revenue",
    "marketing_spend",
    "cpl",
    "conversion_rate",
];

#[derive(Debug, Clone, Serialize)]
pub struct SegmentTable {
    pub dimension: Dimension,
    pub columns: Vec<SegmentColumn>,
    /// Largest first by the first column; the `(none)` segment last.
    pub rows: Vec<SegmentRow>,
    /// KPIs of the report that cannot be split by this dimension, with the reason.
    pub unsupported: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SegmentColumn {
    pub key: String,
    pub name: String,
    pub unit: Unit,
}

#[derive(Debug, Clone, Serialize)]
pub struct SegmentRow {
    pub segment: String,
    pub cells: Vec<SegmentCell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SegmentCell {
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
    pub text: String,
}

pub(super) fn segment_table(
    dim: &Dimension,
    selection: &KpiSelection,
    shown: &[&KpiValue],
    style: &Style,
) -> SegmentTable {
    let candidates: Vec<&KpiValue> = match selection {
        KpiSelection::All => SEGMENT_COLUMNS
            .iter()
            .filter_map(|key| shown.iter().copied().find(|k| k.meta.key == *key))
            .collect(),
        KpiSelection::Keys(_) => shown.to_vec(),
    };
    let unsupported = shown
        .iter()
        .filter(|k| {
            matches!(selection, KpiSelection::Keys(_))
                || SEGMENT_COLUMNS.contains(&k.meta.key.as_str())
        })
        .filter_map(|k| k.unsupported.clone())
        .collect();
    let split: Vec<(&KpiValue, &Vec<SegmentValue>)> = candidates
        .into_iter()
        .filter_map(|k| match &k.segments {
            Some(Some(list)) => Some((k, list)),
            _ => None,
        })
        .collect();

    let mut names: Vec<&str> = Vec::new();
    for (_, list) in &split {
        for s in list.iter() {
            if !names.contains(&s.segment.as_str()) {
                names.push(&s.segment);
            }
        }
    }
    let value = |list: &Vec<SegmentValue>, name: &str| {
        list.iter()
            .find(|s| s.segment == name)
            .and_then(|s| s.value)
    };
    let mut rows: Vec<SegmentRow> = names
        .into_iter()
        .map(|name| SegmentRow {
            segment: name.to_owned(),
            cells: split
                .iter()
                .map(|(k, list)| {
                    let v = value(list, name);
                    SegmentCell {
                        value: v,
                        text: style.value(&k.meta.key, k.meta.unit, v),
                    }
                })
                .collect(),
        })
        .collect();
    let first = |r: &SegmentRow| {
        r.cells
            .first()
            .and_then(|c| c.value)
            .unwrap_or(f64::NEG_INFINITY)
    };
    rows.sort_by(|a, b| {
        (a.segment == NONE_SEGMENT)
            .cmp(&(b.segment == NONE_SEGMENT))
            .then(first(b).total_cmp(&first(a)))
            .then_with(|| a.segment.cmp(&b.segment))
    });
    SegmentTable {
        dimension: dim.clone(),
        columns: split
            .iter()
            .map(|(k, _)| SegmentColumn {
                key: k.meta.key.clone(),
                name: k.meta.name.clone(),
                unit: k.meta.unit,
            })
            .collect(),
        rows,
        unsupported,
    }
}
