//! Driver trees: a KPI declared as the product or the sum of driver KPIs, and the attribution of
//! its change between two periods to those drivers, so the parts add up to the change exactly.
//!
//! - Product, `V = scale × Π xᵢ^pᵢ`: logarithmic mean Divisia (LMDI-I). With `L(a, b) =
//!   (a − b) / (ln a − ln b)` and `L(a, a) = a`, driver i gets `L(V₁, V₀) · pᵢ · ln(xᵢ₁ / xᵢ₀)`.
//!   Since `ln(V₁/V₀) = Σ pᵢ ln(xᵢ₁/xᵢ₀)`, the parts sum to `L(V₁,V₀) · ln(V₁/V₀) = V₁ − V₀`.
//!   Logarithms need positive numbers: a zero, negative or undefined value is a stated reason
//!   not to attribute, never a NaN.
//! - Sum, `V = scale × Σ wᵢ xᵢ`: driver i gets `scale · wᵢ · (xᵢ₁ − xᵢ₀)`.
//!
//! Both periods must satisfy the identity (within rounding) with the KPI's own values; a
//! declaration that does not hold for the data is reported, not attributed.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    Product,
    Sum,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTree")]
pub struct DriverTree {
    pub kpi: String,
    pub combine: Combine,
    /// A constant factor (`0.01` when a percentage is a factor).
    pub scale: f64,
    pub drivers: Vec<Driver>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Driver {
    pub kpi: String,
    /// A short name for sentences ("conversion"); the KPI's name when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Product trees: the power of the factor (−1 for a divisor).
    pub power: i32,
    /// Sum trees: the coefficient of the term (−1 for a subtracted one).
    pub weight: f64,
}

/// The declaration as written in plugin.toml or JSON: `factors` for a product, `terms` for a sum.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTree {
    kpi: String,
    #[serde(default)]
    scale: Option<f64>,
    #[serde(default)]
    factors: Option<Vec<RawDriver>>,
    #[serde(default)]
    terms: Option<Vec<RawDriver>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDriver {
    kpi: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    power: Option<i32>,
    #[serde(default)]
    weight: Option<f64>,
}

/// Most drivers of one KPI.
pub const MAX_DRIVERS: usize = 10;

fn is_key(key: &str) -> bool {
    let b = key.as_bytes();
    matches!(b.first(), Some(b'a'..=b'z'))
        && b.len() <= 64
        && b.iter()
            .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

impl TryFrom<RawTree> for DriverTree {
    type Error = String;

    fn try_from(raw: RawTree) -> Result<DriverTree, String> {
        let kpi = raw.kpi;
        if !is_key(&kpi) {
            return Err(format!("driver tree: `{kpi}` is not a KPI key"));
        }
        let (combine, list) = match (raw.factors, raw.terms) {
            (Some(f), None) => (Combine::Product, f),
            (None, Some(t)) => (Combine::Sum, t),
            _ => {
                return Err(format!(
                    "driver tree of {kpi}: give either `factors` (a product) or `terms` (a sum)"
                ));
            }
        };
        let scale = raw.scale.unwrap_or(1.0);
        let scale_ok = match combine {
            Combine::Product => scale.is_finite() && scale > 0.0,
            Combine::Sum => scale.is_finite() && scale != 0.0,
        };
        if !scale_ok {
            return Err(format!(
                "driver tree of {kpi}: scale {scale} must be a finite number (positive for a product)"
            ));
        }
        if list.is_empty() || list.len() > MAX_DRIVERS {
            return Err(format!(
                "driver tree of {kpi}: expected 1 to {MAX_DRIVERS} drivers"
            ));
        }
        let mut drivers: Vec<Driver> = Vec::with_capacity(list.len());
        for d in list {
            if !is_key(&d.kpi) || d.kpi == kpi || drivers.iter().any(|x| x.kpi == d.kpi) {
                return Err(format!(
                    "driver tree of {kpi}: driver `{}` must be another KPI key, named once",
                    d.kpi
                ));
            }
            let (power, weight) = match combine {
                Combine::Product if d.weight.is_some() => {
                    return Err(format!(
                        "driver tree of {kpi}: factors take `power`, not `weight`"
                    ));
                }
                Combine::Sum if d.power.is_some() => {
                    return Err(format!(
                        "driver tree of {kpi}: terms take `weight`, not `power`"
                    ));
                }
                Combine::Product => (d.power.unwrap_or(1), 1.0),
                Combine::Sum => (1, d.weight.unwrap_or(1.0)),
            };
            if power == 0 || power.abs() > 3 || !weight.is_finite() || weight == 0.0 {
                return Err(format!(
                    "driver tree of {kpi}: driver `{}` needs a power of ±1 to ±3 or a non-zero weight",
                    d.kpi
                ));
            }
            drivers.push(Driver {
                kpi: d.kpi,
                label: d.label.filter(|l| !l.trim().is_empty()),
                power,
                weight,
            });
        }
        Ok(DriverTree {
            kpi,
            combine,
            scale,
            drivers,
        })
    }
}

/// A value in the previous and in the current period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub previous: Option<f64>,
    pub current: Option<f64>,
}

/// Which of the two periods a reason is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    Previous,
    Current,
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            When::Previous => "the previous period",
            When::Current => "this period",
        })
    }
}

/// Why a change cannot be attributed.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocker {
    Undefined {
        kpi: String,
        when: When,
    },
    Zero {
        kpi: String,
        when: When,
    },
    Negative {
        kpi: String,
        when: When,
    },
    /// The KPI's value is not what its drivers combine to.
    NotIdentity {
        when: When,
        value: f64,
        combined: f64,
    },
}

impl Blocker {
    /// "cannot attribute: conversion is 0 in the previous period"; `name` turns keys into
    /// what people read.
    pub fn describe(&self, tree: &DriverTree, name: &dyn Fn(&str) -> String) -> String {
        match self {
            Blocker::Undefined { kpi, when } => {
                format!("cannot attribute: {} is undefined in {when}", name(kpi))
            }
            Blocker::Zero { kpi, when } => {
                format!("cannot attribute: {} is 0 in {when}", name(kpi))
            }
            Blocker::Negative { kpi, when } => {
                format!("cannot attribute: {} is negative in {when}", name(kpi))
            }
            Blocker::NotIdentity {
                when,
                value,
                combined,
            } => format!(
                "cannot attribute: in {when} {} is {value} but its drivers combine to {combined}",
                name(&tree.kpi)
            ),
        }
    }
}

/// The logarithmic mean of two positive numbers.
pub fn log_mean(a: f64, b: f64) -> f64 {
    if a == b {
        return a;
    }
    // ln(a/b) through ln_1p keeps precision when a and b are close.
    (a - b) / ((a - b) / b).ln_1p()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12
}

impl DriverTree {
    /// What the drivers combine to.
    pub fn combine(&self, xs: &[f64]) -> f64 {
        match self.combine {
            Combine::Product => self
                .drivers
                .iter()
                .zip(xs)
                .fold(self.scale, |acc, (d, x)| acc * x.powi(d.power)),
            Combine::Sum => {
                self.scale
                    * self
                        .drivers
                        .iter()
                        .zip(xs)
                        .map(|(d, x)| d.weight * x)
                        .sum::<f64>()
            }
        }
    }

    /// Each driver's part of `value.current − value.previous`, in driver order.
    pub fn attribute(&self, value: Pair, drivers: &[Pair]) -> Result<Vec<f64>, Blocker> {
        let mut prev = Vec::with_capacity(drivers.len());
        let mut cur = Vec::with_capacity(drivers.len());
        let defined = |kpi: &str, v: Option<f64>, when: When| {
            v.filter(|x| x.is_finite()).ok_or(Blocker::Undefined {
                kpi: kpi.to_owned(),
                when,
            })
        };
        let v0 = defined(&self.kpi, value.previous, When::Previous)?;
        let v1 = defined(&self.kpi, value.current, When::Current)?;
        for (d, pair) in self.drivers.iter().zip(drivers) {
            prev.push(defined(&d.kpi, pair.previous, When::Previous)?);
            cur.push(defined(&d.kpi, pair.current, When::Current)?);
        }
        if self.combine == Combine::Product {
            let named = std::iter::once((&self.kpi, v0, v1)).chain(
                self.drivers
                    .iter()
                    .zip(prev.iter().zip(&cur))
                    .map(|(d, (p, c))| (&d.kpi, *p, *c)),
            );
            for (kpi, p, c) in named {
                for (x, when) in [(p, When::Previous), (c, When::Current)] {
                    let kpi = kpi.clone();
                    if x == 0.0 {
                        return Err(Blocker::Zero { kpi, when });
                    }
                    if x < 0.0 {
                        return Err(Blocker::Negative { kpi, when });
                    }
                }
            }
        }
        for (v, xs, when) in [(v0, &prev, When::Previous), (v1, &cur, When::Current)] {
            let combined = self.combine(xs);
            if !close(v, combined) {
                return Err(Blocker::NotIdentity {
                    when,
                    value: v,
                    combined,
                });
            }
        }
        Ok(match self.combine {
            Combine::Product => {
                let l = log_mean(v1, v0);
                self.drivers
                    .iter()
                    .zip(prev.iter().zip(&cur))
                    .map(|(d, (p, c))| l * f64::from(d.power) * ((c - p) / p).ln_1p())
                    .collect()
            }
            Combine::Sum => self
                .drivers
                .iter()
                .zip(prev.iter().zip(&cur))
                .map(|(d, (p, c))| self.scale * d.weight * (c - p))
                .collect(),
        })
    }
}

fn factor(kpi: &str, label: &str, power: i32) -> Driver {
    Driver {
        kpi: kpi.to_owned(),
        label: Some(label.to_owned()),
        power,
        weight: 1.0,
    }
}

/// The driver trees of the built-in KPIs. Each identity holds exactly for the built-in
/// definitions (e.g. leads × (customers_won / leads × 100) / 100 × (won_revenue /
/// customers_won) = won_revenue) whenever every driver is defined and no divisor is zero.
pub fn builtin_trees() -> Vec<DriverTree> {
    let product = |kpi: &str, scale: f64, drivers: Vec<Driver>| DriverTree {
        kpi: kpi.to_owned(),
        combine: Combine::Product,
        scale,
        drivers,
    };
    vec![
        product(
            "won_revenue",
            0.01,
            vec![
                factor("leads", "leads", 1),
                factor("conversion_rate", "conversion", 1),
                factor("avg_deal_size", "deal size", 1),
            ],
        ),
        // The funnel, step by step: each rate is a percentage, hence 0.01 per step. An identity
        // only while no step is zero (a stated reason not to attribute, never a guess).
        product(
            "customers_won",
            1e-10,
            vec![
                factor("leads", "leads", 1),
                factor("lead_to_mql_rate", "lead→MQL", 1),
                factor("mql_to_sal_rate", "MQL→SAL", 1),
                factor("sal_to_sql_rate", "SAL→SQL", 1),
                factor("sql_to_opportunity_rate", "SQL→opportunity", 1),
                factor("opportunity_win_rate", "opportunity→win", 1),
            ],
        ),
        product(
            "leads",
            0.01,
            vec![
                factor("visits", "visits", 1),
                factor("visitor_conversion_rate", "visitor conversion", 1),
            ],
        ),
        product(
            "cac",
            1.0,
            vec![
                factor("total_spend", "spend", 1),
                factor("customers_won", "customers won", -1),
            ],
        ),
        product(
            "roas",
            1.0,
            vec![
                factor("won_revenue", "won revenue", 1),
                factor("ad_spend", "ad spend", -1),
            ],
        ),
        DriverTree {
            kpi: "revenue".to_owned(),
            combine: Combine::Sum,
            scale: 1.0,
            drivers: vec![
                Driver {
                    kpi: "won_revenue".to_owned(),
                    label: Some("won revenue".to_owned()),
                    power: 1,
                    weight: 1.0,
                },
                Driver {
                    kpi: "recurring_revenue".to_owned(),
                    label: Some("recurring revenue".to_owned()),
                    power: 1,
                    weight: 1.0,
                },
            ],
        },
    ]
}

#[cfg(test)]
mod tests;
