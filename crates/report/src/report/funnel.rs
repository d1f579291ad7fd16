//! The report's lead funnel (each step with its conversion from the one before) and the stage
//! distribution at the period's end.

use std::collections::BTreeMap;

use lodestar_core::catalog::Unit;
use lodestar_core::stage::Stage;
use serde::Serialize;

use crate::format::format_value;
use crate::number;

/// The lead funnel, first touch to customer: (KPI key, label, the built-in rate of the step
/// from the one before).
pub const FUNNEL: [(&str, &str, Option<&str>); 6] = [
    ("leads", "Leads", None),
    ("mqls", "MQL", Some("lead_to_mql_rate")),
    ("sals", "SAL", Some("mql_to_sal_rate")),
    ("sqls", "SQL", Some("sal_to_sql_rate")),
    (
        "opportunities",
        "Opportunity",
        Some("sql_to_opportunity_rate"),
    ),
    ("customers_won", "Won", Some("opportunity_win_rate")),
];

#[derive(Debug, Clone, Serialize)]
pub struct FunnelStep {
    pub key: &'static str,
    pub label: &'static str,
    #[serde(serialize_with = "number::serialize_opt")]
    pub count: Option<f64>,
    pub text: String,
    /// Bar length against the largest step, 0 to 100.
    pub width_pct: f64,
    /// The step's conversion from the step before (a built-in rate KPI); none for the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_rate: Option<StepRate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRate {
    pub key: &'static str,
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
    pub text: String,
    /// The label of the step it converts from.
    pub from: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageCount {
    pub stage: &'static str,
    pub label: &'static str,
    pub count: u64,
    /// Of all leads at the period's end, 0 to 100.
    pub share_pct: f64,
}

pub(super) fn funnel(value_of: impl Fn(&str) -> Option<f64>) -> Vec<FunnelStep> {
    let counts = FUNNEL.map(|(key, _, _)| value_of(key));
    let max = counts.iter().flatten().fold(0.0_f64, |a, &b| a.max(b));
    FUNNEL
        .iter()
        .zip(counts)
        .enumerate()
        .map(|(i, (&(key, label, rate), count))| FunnelStep {
            key,
            label,
            count,
            text: format_value(Unit::Count, count),
            width_pct: match count {
                Some(c) if max > 0.0 => (c / max * 100.0).clamp(0.0, 100.0),
                _ => 0.0,
            },
            step_rate: rate.map(|rate| {
                let value = value_of(rate);
                StepRate {
                    key: rate,
                    value,
                    text: format_value(Unit::Percent, value),
                    from: FUNNEL[i.saturating_sub(1)].1,
                }
            }),
        })
        .collect()
}

fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::Lead => "Lead",
        Stage::Mql => "MQL",
        Stage::Sal => "SAL",
        Stage::Sql => "SQL",
        Stage::Opportunity => "Opportunity",
        Stage::Customer => "Customer",
        Stage::Lost => "Lost",
        Stage::Churned => "Churned",
    }
}

pub(super) fn stage_counts(stages: &BTreeMap<&'static str, u64>) -> Vec<StageCount> {
    let order = Stage::FUNNEL
        .iter()
        .copied()
        .chain([Stage::Lost, Stage::Churned]);
    let total: u64 = stages.values().sum();
    order
        .map(|stage| {
            let count = stages.get(stage.key()).copied().unwrap_or(0);
            StageCount {
                stage: stage.key(),
                label: stage_label(stage),
                count,
                share_pct: if total == 0 {
                    0.0
                } else {
                    count as f64 / total as f64 * 100.0
                },
            }
        })
        .collect()
}
