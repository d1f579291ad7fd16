//! What every reply says about a KPI besides its numbers: its key, name, unit, direction, kind,
//! category and where it comes from.

use lodestar_core::catalog::{Builtin, Direction, Kind, Unit};
use serde::Serialize;

use crate::custom::CustomKpi;

/// Where a KPI is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// One of the catalog's formulas (spec/KPIS.md).
    Builtin,
    /// A Rhai script: from a pack or the team's own.
    Script,
}

impl Source {
    /// The name replies use: `builtin` or `script`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Builtin => "builtin",
            Source::Script => "script",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiMeta {
    pub key: String,
    pub name: String,
    pub unit: Unit,
    pub direction: Direction,
    pub kind: Kind,
    /// The catalog branch of a built-in; a custom KPI's own category.
    pub category: String,
    pub source: Source,
}

impl KpiMeta {
    pub fn builtin(b: Builtin) -> KpiMeta {
        KpiMeta {
            key: b.key().to_owned(),
            name: b.name().to_owned(),
            unit: b.unit(),
            direction: b.direction(),
            kind: b.kind(),
            category: b.branch().title().to_owned(),
            source: Source::Builtin,
        }
    }

    pub fn custom(k: &CustomKpi) -> KpiMeta {
        KpiMeta {
            key: k.key.clone(),
            name: k.name.clone(),
            unit: k.unit,
            direction: k.direction,
            kind: k.kind,
            category: k.category.clone(),
            source: Source::Script,
        }
    }
}
