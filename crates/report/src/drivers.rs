//! Driver trees in reports: each period-over-period change of a KPI declared as a product or sum
//! of drivers, attributed to those drivers so the parts add up to the change ("Won revenue
//! −12.0%: leads −5.1%, conversion −9.2%, deal size +2.3%"). The math is in
//! `lodestar_core::drivers`; this file gathers the numbers and words.
//!
//! Pages and digests call [`explain`] (every driver tree of the team) or [`explain_kpi`] and
//! show [`Explanation::sentence`], or the parts themselves.

use std::collections::{BTreeMap, BTreeSet};

use lodestar_core::catalog::{Builtin, Direction, Unit};
use lodestar_core::drivers::{Combine, DriverTree, Pair, When, builtin_trees};
use lodestar_core::formula;
use lodestar_core::period::PeriodKey;
use lodestar_store::teams::Team;
use serde::Serialize;

use crate::custom::CustomSet;
use crate::engine::{KpiEngine, KpiRequest, KpiValue};
use crate::error::ReportError;
use crate::format::{Tone, UNDEFINED, change_display, format_value};
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
    /// The driver's own change as its card shows it ([`change_display`]: `+9.5%`, `-2.0 pp`,
    /// `—`), so the panel and the cards never disagree.
    pub change_display: String,
    /// Its effect on the KPI as sentences write it: `−8.9%` of the KPI's previous value, an
    /// amount in the KPI's unit from a previous value of 0, or `—` when it has none.
    pub effect_display: String,
    /// Why this driver's change or effect cannot be computed, in words ("0 in the previous
    /// period"), when its value is missing or zero where the math needs it.
    pub note: Option<String>,
}

/// How many drivers of an explanation show before the rest fold away.
pub const TOP_DRIVERS: usize = 3;

/// `+5.1%` or `-12.0%`, to one decimal: the same hyphen-minus as every other number the views
/// show (`format`), so a driver's sentence never mixes two kinds of minus.
fn signed_pct(x: f64) -> String {
    let text = format!("{:.1}", x.abs());
    if text == "0.0" {
        "±0.0%".to_owned()
    } else if x < 0.0 {
        format!("-{text}%")
    } else {
        format!("+{text}%")
    }
}

fn signed_value(unit: Unit, x: f64) -> String {
    let text = format_value(unit, Some(x.abs()));
    if x < 0.0 {
        format!("-{text}")
    } else {
        format!("+{text}")
    }
}

/// One row of the picture of an explanation: the KPI's change or a driver's part of it, as a
/// signed bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    /// The driver as sentences call it; the KPI's name for the change itself.
    pub label: String,
    /// `+5.1%`, or an amount in the KPI's unit when the previous value was 0.
    pub text: String,
    /// The row's own change as its card shows it: the KPI's for the first row, each driver's
    /// after it.
    pub own: String,
    /// Signed, in the unit of `text` (percent of the previous value, or the KPI's unit).
    #[serde(serialize_with = "number::serialize")]
    pub value: f64,
    /// `|value|` against the largest row of the explanation, 0 to 100.
    #[serde(serialize_with = "number::serialize")]
    pub length_pct: f64,
    /// Whether this part moved the KPI the good or the bad way, by the KPI's direction.
    pub tone: Tone,
}

impl Explanation {
    /// One line for people: "CAC −4.9%: customers won +9.5% (→ −8.9%), spend +3.9% (→ +3.9%)", the
    /// arrow joined to its number by a no-break space so it never ends a line on its own.
    /// Each driver with its own change as its card shows it, then its effect on the KPI: in
    /// percent of the previous value, so the effects add up to the headline, or in the KPI's
    /// unit when the previous value was 0 (a sum from nothing). Largest effect first.
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
            .map(|p| match &p.note {
                Some(note) => format!("{} {} ({note})", p.label, p.change_display),
                None => format!(
                    "{} {} (→\u{a0}{})",
                    p.label, p.change_display, p.effect_display
                ),
            })
            .collect();
        format!("{headline}: {}", parts.join(", "))
    }

    /// The drivers a reader sees first (the [`TOP_DRIVERS`] largest effects) and the rest,
    /// folded away; the parts are already in order of effect.
    pub fn folded(&self) -> (&[Part], &[Part]) {
        self.parts.split_at(self.parts.len().min(TOP_DRIVERS))
    }

    /// A part's share as the sentence tells it: percent of the previous value, or else an amount.
    fn amount(&self, p: &Part) -> Option<(f64, String)> {
        match (p.contribution_pct, p.contribution) {
            (Some(pct), _) => Some((pct, signed_pct(pct))),
            (None, Some(c)) => Some((c, signed_value(self.unit, c))),
            (None, None) => None,
        }
    }

    /// The KPI moved (or became defined or undefined) since the previous period: worth
    /// explaining. An unchanged KPI, or one undefined in both periods, is not.
    pub fn changed(&self) -> bool {
        match (self.value, self.previous) {
            (Some(v), Some(p)) => v != p,
            (None, None) => false,
            _ => true,
        }
    }

    /// The picture of the explanation: the change itself, then each driver's part, each as a
    /// signed bar on one scale. Empty when the change cannot be attributed.
    pub fn bars(&self) -> Vec<Bar> {
        if self.error.is_some() {
            return Vec::new();
        }
        let parts: Vec<(String, f64, String, String)> = self
            .parts
            .iter()
            .filter_map(|p| {
                self.amount(p)
                    .map(|(v, text)| (p.label.clone(), v, text, p.change_display.clone()))
            })
            .collect();
        if parts.len() != self.parts.len() {
            return Vec::new();
        }
        // The headline in the parts' unit: percent when they are, else the amount.
        let from_zero = self.parts.iter().any(|p| p.contribution_pct.is_none());
        let total = if from_zero {
            self.change.map(|c| (c, signed_value(self.unit, c)))
        } else {
            self.change_pct.map(|c| (c, signed_pct(c)))
        };
        let own = change_display(self.unit, self.value, self.previous);
        let rows: Vec<(String, f64, String, String)> = total
            .map(|(v, text)| (self.name.clone(), v, text, own))
            .into_iter()
            .chain(parts)
            .collect();
        let max = rows
            .iter()
            .map(|(_, v, _, _)| v.abs())
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        rows.into_iter()
            .map(|(label, value, text, own)| Bar {
                label,
                text,
                own,
                value,
                length_pct: if max > 0.0 && value.is_finite() {
                    (value.abs() / max * 100.0).clamp(0.0, 100.0)
                } else {
                    0.0
                },
                // A part is judged as if it were the whole change (in percent, so the flat band
                // of one decimal applies; amounts only need a sign).
                tone: Tone::of(
                    self.direction,
                    Some(match from_zero {
                        true if value == 0.0 => 0.0,
                        true => value.signum(),
                        false => value,
                    }),
                ),
            })
            .collect()
    }
}

/// Serialises explanations with their sentence, as the API and the report's JSON give them.
pub fn serialize_with_sentences<S: serde::Serializer>(
    list: &[Explanation],
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Said<'a> {
        #[serde(flatten)]
        explanation: &'a Explanation,
        sentence: String,
        bars: Vec<Bar>,
    }
    s.collect_seq(list.iter().map(|e| Said {
        explanation: e,
        sentence: e.sentence(),
        bars: e.bars(),
    }))
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
    compared_with: &PeriodKey,
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
                    .or_else(|| values.get(key).map(|v| v.meta.name.to_lowercase()))
                    .unwrap_or_else(|| key.to_owned())
            };
            (
                vec![None; tree.drivers.len()],
                Some(blocker.describe(tree, &label)),
            )
        }
    };
    let base = kpi.previous.filter(|p| *p != 0.0).map(f64::abs);
    let mut parts: Vec<Part> = tree
        .drivers
        .iter()
        .zip(drivers)
        .zip(contributions)
        .map(|((d, v), contribution)| {
            let contribution_pct = contribution.zip(base).map(|(c, b)| c / b * 100.0);
            let effect_display = match (contribution_pct, contribution) {
                (Some(pct), _) => signed_pct(pct),
                (None, Some(c)) => signed_value(kpi.meta.unit, c),
                (None, None) => UNDEFINED.to_owned(),
            };
            Part {
                kpi: d.kpi.clone(),
                name: v.meta.name.clone(),
                label: d
                    .label
                    .clone()
                    .unwrap_or_else(|| v.meta.name.to_lowercase()),
                unit: v.meta.unit,
                power: d.power,
                weight: d.weight,
                value: v.value,
                previous: v.previous,
                change_pct: formula::change_pct(v.value, v.previous),
                contribution,
                contribution_pct,
                change_display: v.change_display.clone().unwrap_or_default(),
                effect_display,
                note: cannot_compute(tree.combine, v.value, v.previous),
            }
        })
        .collect();
    // Largest effect first; a stable sort keeps the tree's order among equals (and when
    // nothing could be attributed).
    parts.sort_by(|a, b| {
        let size = |p: &Part| p.contribution.map_or(0.0, f64::abs);
        size(b).total_cmp(&size(a))
    });
    Some(Explanation {
        kpi: tree.kpi.clone(),
        name: kpi.meta.name.clone(),
        unit: kpi.meta.unit,
        direction: kpi.meta.direction,
        combine: tree.combine,
        scale: tree.scale,
        period: period.to_string(),
        previous_period: compared_with.to_string(),
        value: kpi.value,
        previous: kpi.previous,
        change,
        change_pct,
        parts,
        error,
    })
}

/// Why a driver's change or effect cannot be computed, in words: a value missing in either
/// period, or (for a product, whose split takes logarithms) zero or negative. `None` when it
/// can be.
fn cannot_compute(combine: Combine, value: Option<f64>, previous: Option<f64>) -> Option<String> {
    let finite = |x: Option<f64>| x.filter(|x| x.is_finite());
    let (previous, value) = (finite(previous), finite(value));
    if previous.is_none() && value.is_none() {
        return Some("no data in either period".to_owned());
    }
    for (x, when) in [(previous, When::Previous), (value, When::Current)] {
        match x {
            None => return Some(format!("no data in {when}")),
            Some(x) if combine == Combine::Product && x == 0.0 => {
                return Some(format!("0 in {when}, so its share cannot be computed"));
            }
            Some(x) if combine == Combine::Product && x < 0.0 => {
                return Some(format!(
                    "negative in {when}, so its share cannot be computed"
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// The driver trees whose KPI and drivers the team all has (a tree over a pack's custom KPI the
/// team replaced, say, is left out).
pub fn known_trees(engine: &KpiEngine, customs: &CustomSet) -> Vec<DriverTree> {
    let known = |k: &str| Builtin::from_key(k).is_some() || customs.kpis.contains_key(k);
    driver_trees(engine)
        .into_iter()
        .filter(|t| known(&t.kpi) && t.drivers.iter().all(|d| known(&d.kpi)))
        .collect()
}

/// Every KPI key the trees name: their KPIs and their drivers.
pub fn keys_of(trees: &[DriverTree]) -> BTreeSet<String> {
    trees
        .iter()
        .flat_map(|t| std::iter::once(t.kpi.clone()).chain(t.drivers.iter().map(|d| d.kpi.clone())))
        .collect()
}

/// Explains each tree from values already evaluated for `period` against `compared_with`; a
/// tree whose KPI or a driver is not among `kpis` is skipped, and nothing is explained without
/// a comparison.
pub fn explain_values(
    trees: &[DriverTree],
    kpis: &[KpiValue],
    period: &PeriodKey,
    compared_with: Option<PeriodKey>,
) -> Vec<Explanation> {
    let Some(compared_with) = compared_with else {
        return Vec::new();
    };
    let values: BTreeMap<&str, &KpiValue> = kpis.iter().map(|k| (k.meta.key.as_str(), k)).collect();
    trees
        .iter()
        .filter_map(|t| explanation(t, &values, period, &compared_with))
        .collect()
}

async fn explain_trees(
    engine: &KpiEngine,
    team: &Team,
    trees: Vec<DriverTree>,
    period: PeriodKey,
) -> Result<Vec<Explanation>, ReportError> {
    if trees.is_empty() {
        return Ok(Vec::new());
    }
    let keys = keys_of(&trees);
    let result = engine
        .evaluate(
            team,
            &KpiRequest {
                period,
                comparison: Default::default(),
                segment_by: None,
                keys: Some(keys.into_iter().collect()),
                trend: 0,
            },
        )
        .await?;
    let compared_with = result.previous_period.as_ref().map(|p| p.key);
    Ok(explain_values(&trees, &result.kpis, &period, compared_with))
}

/// The change of every KPI with a driver tree in `period` against the period before, explained.
pub async fn explain(
    engine: &KpiEngine,
    team: &Team,
    period: PeriodKey,
) -> Result<Vec<Explanation>, ReportError> {
    let customs = engine.custom_kpis(team).await?;
    explain_trees(engine, team, known_trees(engine, &customs), period).await
}

/// One KPI's explanation; `None` when it has no driver tree (or the team lacks a driver).
pub async fn explain_kpi(
    engine: &KpiEngine,
    team: &Team,
    kpi: &str,
    period: PeriodKey,
) -> Result<Option<Explanation>, ReportError> {
    let customs = engine.custom_kpis(team).await?;
    let trees: Vec<DriverTree> = known_trees(engine, &customs)
        .into_iter()
        .filter(|t| t.kpi == kpi)
        .collect();
    Ok(explain_trees(engine, team, trees, period).await?.pop())
}

#[cfg(test)]
mod tests;
