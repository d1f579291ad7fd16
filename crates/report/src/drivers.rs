//! Driver trees in reports: each period-over-period change of a KPI declared as a product or sum
//! of drivers, attributed to those drivers so the parts add up to the change ("Won revenue
//! −12.0%: leads −5.1%, conversion −9.2%, deal size +2.3%"). The math is in
//! `lodestar_core::drivers`; this file gathers the numbers and words.
//!
//! Pages and digests call [`explain`] (every driver tree of the team) or [`explain_kpi`] and
//! show [`Explanation::sentence`], or the parts themselves.

use std::collections::{BTreeMap, BTreeSet};

use lodestar_core::catalog::{Builtin, Direction, Unit};
use lodestar_core::drivers::{Combine, DriverTree, Pair, builtin_trees};
use lodestar_core::formula;
use lodestar_core::period::PeriodKey;
use lodestar_store::teams::Team;
use serde::Serialize;

use crate::engine::{KpiEngine, KpiRequest, KpiValue};
use crate::error::ReportError;
use crate::format::format_value;
use crate::number;

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub kpi: String,
    pub name: String,
    pub unit: Unit,
    pub direction: Direction,
    pub combine: Combine,
    pub scale: f64,
    pub period: String,
    pub previous_period: String,
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub previous: Option<f64>,
    /// `value − previous`.
    #[serde(serialize_with = "number::serialize_opt")]
    pub change: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub change_pct: Option<f64>,
    pub parts: Vec<Part>,
    /// Why the change cannot be attributed ("cannot attribute: conversion is 0 in this
    /// period"); the parts then have no contributions.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub kpi: String,
    pub name: String,
    /// What sentences call the driver.
    pub label: String,
    pub unit: Unit,
    /// Product trees: the factor's power (−1 for a divisor).
    pub power: i32,
    /// Sum trees: the term's coefficient.
    pub weight: f64,
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub previous: Option<f64>,
    /// The driver's own change in percent.
    #[serde(serialize_with = "number::serialize_opt")]
    pub change_pct: Option<f64>,
    /// Its share of the KPI's change, in the KPI's unit; the parts sum to `change`.
    #[serde(serialize_with = "number::serialize_opt")]
    pub contribution: Option<f64>,
    /// `contribution` as a percentage of the KPI's previous value; sums to `change_pct`.
    #[serde(serialize_with = "number::serialize_opt")]
    pub contribution_pct: Option<f64>,
}

/// `+5.1%` or `−12.0%` (with a real minus sign), to one decimal.
fn signed_pct(x: f64) -> String {
    let text = format!("{:.1}", x.abs());
    if text == "0.0" {
        "±0.0%".to_owned()
    } else if x < 0.0 {
        format!("−{text}%")
    } else {
        format!("+{text}%")
    }
}

fn signed_value(unit: Unit, x: f64) -> String {
    let text = format_value(unit, Some(x.abs()));
    if x < 0.0 {
        format!("−{text}")
    } else {
        format!("+{text}")
    }
}

impl Explanation {
    /// One line for people: "Won revenue −12.0%: leads −5.1%, conversion −9.2%, deal size
    /// +2.3%". Contributions are in percent of the previous value, so they add up to the
    /// headline; when the previous value is 0 (a sum from nothing) they are in the KPI's unit.
    pub fn sentence(&self) -> String {
        let headline = match (self.change_pct, self.change) {
            (Some(pct), _) => format!("{} {}", self.name, signed_pct(pct)),
            (None, Some(change)) => format!("{} {}", self.name, signed_value(self.unit, change)),
            (None, None) => self.name.clone(),
        };
        if let Some(error) = &self.error {
            return format!("{headline}: {error}");
        }
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|p| {
                let amount = match (p.contribution_pct, p.contribution) {
                    (Some(pct), _) => signed_pct(pct),
                    (None, Some(c)) => signed_value(self.unit, c),
                    (None, None) => "—".to_owned(),
                };
                format!("{} {amount}", p.label)
            })
            .collect();
        format!("{headline}: {}", parts.join(", "))
    }
}

/// The driver trees a team's reports use: the built-in ones, replaced or extended by those the
/// packs declare (`[[driver]]`), by KPI key.
pub fn driver_trees(engine: &KpiEngine) -> Vec<DriverTree> {
    let mut trees: BTreeMap<String, DriverTree> = builtin_trees()
        .into_iter()
        .map(|t| (t.kpi.clone(), t))
        .collect();
    if let Some(packs) = engine.packs() {
        for t in packs.drivers() {
            trees.insert(t.kpi.clone(), t.clone());
        }
    }
    trees.into_values().collect()
}

fn explanation(
    tree: &DriverTree,
    values: &BTreeMap<&str, &KpiValue>,
    period: &PeriodKey,
) -> Option<Explanation> {
    let kpi = values.get(tree.kpi.as_str())?;
    let pair = |v: &KpiValue| Pair {
        previous: v.previous,
        current: v.value,
    };
    let drivers: Vec<&KpiValue> = tree
        .drivers
        .iter()
        .map(|d| values.get(d.kpi.as_str()).copied())
        .collect::<Option<_>>()?;
    let pairs: Vec<Pair> = drivers.iter().map(|v| pair(v)).collect();
    let change = kpi.value.zip(kpi.previous).map(|(v, p)| v - p);
    let change_pct = formula::change_pct(kpi.value, kpi.previous);
    let (contributions, error) = match tree.attribute(pair(kpi), &pairs) {
        Ok(parts) => (parts.into_iter().map(Some).collect(), None),
        Err(blocker) => {
            let label = |key: &str| {
                tree.drivers
                    .iter()
                    .find(|d| d.kpi == key)
                    .and_then(|d| d.label.clone())
                    .or_else(|| values.get(key).map(|v| v.name.to_lowercase()))
                    .unwrap_or_else(|| key.to_owned())
            };
            (
                vec![None; tree.drivers.len()],
                Some(blocker.describe(tree, &label)),
            )
        }
    };
    let base = kpi.previous.filter(|p| *p != 0.0).map(f64::abs);
    let parts = tree
        .drivers
        .iter()
        .zip(drivers)
        .zip(contributions)
        .map(|((d, v), contribution)| Part {
            kpi: d.kpi.clone(),
            name: v.name.clone(),
            label: d.label.clone().unwrap_or_else(|| v.name.to_lowercase()),
            unit: v.unit,
            power: d.power,
            weight: d.weight,
            value: v.value,
            previous: v.previous,
            change_pct: formula::change_pct(v.value, v.previous),
            contribution,
            contribution_pct: contribution.zip(base).map(|(c, b)| c / b * 100.0),
        })
        .collect();
    Some(Explanation {
        kpi: tree.kpi.clone(),
        name: kpi.name.clone(),
        unit: kpi.unit,
        direction: kpi.direction,
        combine: tree.combine,
        scale: tree.scale,
        period: period.to_string(),
        previous_period: period.previous().to_string(),
        value: kpi.value,
        previous: kpi.previous,
        change,
        change_pct,
        parts,
        error,
    })
}

async fn explain_trees(
    engine: &KpiEngine,
    team: &Team,
    trees: Vec<DriverTree>,
    period: PeriodKey,
) -> Result<Vec<Explanation>, ReportError> {
    let customs = engine.custom_kpis(team).await?;
    let known = |k: &str| Builtin::from_key(k).is_some() || customs.kpis.contains_key(k);
    // A tree over a KPI the team does not have (a pack's custom KPI it replaced, say) is left out.
    let trees: Vec<DriverTree> = trees
        .into_iter()
        .filter(|t| known(&t.kpi) && t.drivers.iter().all(|d| known(&d.kpi)))
        .collect();
    if trees.is_empty() {
        return Ok(Vec::new());
    }
    let keys: BTreeSet<String> = trees
        .iter()
        .flat_map(|t| std::iter::once(t.kpi.clone()).chain(t.drivers.iter().map(|d| d.kpi.clone())))
        .collect();
    let result = engine
        .evaluate(
            team,
            &KpiRequest {
                period,
                segment_by: None,
                keys: Some(keys.into_iter().collect()),
                trend: 0,
            },
        )
        .await?;
    let values: BTreeMap<&str, &KpiValue> =
        result.kpis.iter().map(|k| (k.key.as_str(), k)).collect();
    Ok(trees
        .iter()
        .filter_map(|t| explanation(t, &values, &period))
        .collect())
}

/// The change of every KPI with a driver tree in `period` against the period before, explained.
pub async fn explain(
    engine: &KpiEngine,
    team: &Team,
    period: PeriodKey,
) -> Result<Vec<Explanation>, ReportError> {
    explain_trees(engine, team, driver_trees(engine), period).await
}

/// One KPI's explanation; `None` when it has no driver tree (or the team lacks a driver).
pub async fn explain_kpi(
    engine: &KpiEngine,
    team: &Team,
    kpi: &str,
    period: PeriodKey,
) -> Result<Option<Explanation>, ReportError> {
    let trees: Vec<DriverTree> = driver_trees(engine)
        .into_iter()
        .filter(|t| t.kpi == kpi)
        .collect();
    Ok(explain_trees(engine, team, trees, period).await?.pop())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(label: &str, pct: Option<f64>, contribution: Option<f64>) -> Part {
        Part {
            kpi: label.into(),
            name: label.into(),
            label: label.into(),
            unit: Unit::Count,
            power: 1,
            weight: 1.0,
            value: None,
            previous: None,
            change_pct: None,
            contribution,
            contribution_pct: pct,
        }
    }

    fn explanation(change_pct: Option<f64>, parts: Vec<Part>, error: Option<&str>) -> Explanation {
        Explanation {
            kpi: "won_revenue".into(),
            name: "Won revenue".into(),
            unit: Unit::Currency,
            direction: Direction::HigherIsBetter,
            combine: Combine::Product,
            scale: 0.01,
            period: "2026-W45".into(),
            previous_period: "2026-W44".into(),
            value: Some(88.0),
            previous: Some(100.0),
            change: Some(-12.0),
            change_pct,
            parts,
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn the_sentence_names_each_driver_with_its_share_of_the_change() {
        let e = explanation(
            Some(-12.0),
            vec![
                part("leads", Some(-5.04), Some(-5.04)),
                part("conversion", Some(-9.2), Some(-9.2)),
                part("deal size", Some(2.24), Some(2.24)),
            ],
            None,
        );
        assert_eq!(
            e.sentence(),
            "Won revenue −12.0%: leads −5.0%, conversion −9.2%, deal size +2.2%"
        );
    }

    #[test]
    fn a_blocked_attribution_says_why_instead_of_showing_numbers() {
        let e = explanation(
            Some(-12.0),
            vec![part("leads", None, None)],
            Some("cannot attribute: conversion is 0 in this period"),
        );
        assert_eq!(
            e.sentence(),
            "Won revenue −12.0%: cannot attribute: conversion is 0 in this period"
        );
    }

    #[test]
    fn from_zero_the_parts_are_amounts_in_the_kpis_unit() {
        let mut e = explanation(
            None,
            vec![
                part("won revenue", None, Some(1000.0)),
                part("recurring revenue", None, Some(-234.5)),
            ],
            None,
        );
        e.change = Some(765.5);
        assert_eq!(
            e.sentence(),
            "Won revenue +765.50: won revenue +1,000.00, recurring revenue −234.50"
        );
    }
}
