//! Every KPI a team can use, with what it means: the built-ins with their formula, then the
//! custom KPIs (packs and the team's own) with their script.

use lodestar_core::catalog::Builtin;
use lodestar_core::formula::{Definition, definition};
use lodestar_store::teams::Team;
use serde::Serialize;

use crate::custom::Origin;
use crate::engine::KpiEngine;
use crate::error::ReportError;
use crate::meta::KpiMeta;

#[derive(Debug, Clone, Serialize)]
pub struct CatalogEntry {
    #[serde(flatten)]
    pub meta: KpiMeta,
    /// The definition as people read it; for a script, its description when it has one.
    pub formula: String,
    /// A base measure (counted or summed in SQL) rather than a formula over others.
    pub base: bool,
    /// The base measures a built-in needs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<&'static str>,
    /// A custom KPI's Rhai source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// Where a custom KPI comes from: a pack, or the team (with its version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

pub fn builtins() -> Vec<CatalogEntry> {
    Builtin::ALL
        .iter()
        .map(|b| CatalogEntry {
            meta: KpiMeta::builtin(*b),
            formula: b.formula().to_owned(),
            base: matches!(definition(*b), Definition::Base(_)),
            inputs: b.measures().iter().map(|m| m.key()).collect(),
            script: None,
            origin: None,
        })
        .collect()
}

/// The team's whole catalog: built-ins in tree order, then custom KPIs by key.
pub async fn catalog(engine: &KpiEngine, team: &Team) -> Result<Vec<CatalogEntry>, ReportError> {
    let mut out = builtins();
    let custom = engine.custom_kpis(team).await?;
    out.extend(custom.kpis.into_values().map(|k| {
        CatalogEntry {
            meta: KpiMeta::custom(&k),
            formula: k
                .description
                .clone()
                .unwrap_or_else(|| "Rhai script (custom KPI)".to_owned()),
            base: false,
            inputs: Vec::new(),
            script: Some(k.source),
            origin: Some(k.origin),
        }
    }));
    Ok(out)
}
