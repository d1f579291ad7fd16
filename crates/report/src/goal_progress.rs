//! How every goal of a team stands now, for the goals page: one engine evaluation per (period
//! kind, segmentation) for all the goals that share it, never one per goal, each goal with its
//! value so far and its pace (see [`crate::goals::attach`]).

use std::collections::BTreeMap;

use lodestar_core::catalog::Unit;
use lodestar_core::dimension::Dimension;
use lodestar_core::goal::Pace;
use lodestar_core::period::{Compare, Comparison, PeriodKey, PeriodKind};
use lodestar_store::goals::Goal;
use lodestar_store::teams::Team;

use crate::engine::{KpiEngine, KpiRequest};
use crate::error::ReportError;

/// One goal, its KPI as shown, and where it stands in the period in progress.
#[derive(Debug, Clone)]
pub struct GoalProgress {
    pub goal: Goal,
    pub kpi_name: String,
    pub unit: Unit,
    /// The period in progress (`2026-11`).
    pub period: String,
    pub value: Option<f64>,
    /// `None` when there is no value yet to pace.
    pub pace: Option<Pace>,
}

/// Every goal of `goals` (of `team`) in the period of its kind in progress now, in the order
/// given. A goal whose KPI or segmentation no longer reads has no value and no pace.
pub async fn progress(
    engine: &KpiEngine,
    team: &Team,
    goals: &[Goal],
) -> Result<Vec<GoalProgress>, ReportError> {
    let now = engine.now();
    let mut groups: BTreeMap<(&str, &str), Vec<&Goal>> = BTreeMap::new();
    for g in goals {
        groups
            .entry((g.period_kind.as_str(), g.segment_by.as_str()))
            .or_default()
            .push(g);
    }
    let mut found: Vec<(i32, GoalProgress)> = Vec::new();
    for ((kind, segment_by), members) in groups {
        let Ok(kind) = kind.parse::<PeriodKind>() else {
            continue;
        };
        let dim = if segment_by.is_empty() {
            None
        } else {
            match Dimension::parse(segment_by) {
                Ok(d) => Some(d),
                Err(_) => continue,
            }
        };
        let mut keys: Vec<String> = members.iter().map(|g| g.kpi.clone()).collect();
        keys.sort();
        keys.dedup();
        let period = PeriodKey::current(kind, now, team.timezone.0);
        let mut result = match engine
            .evaluate(
                team,
                &KpiRequest {
                    period,
                    comparison: Comparison {
                        compare: Compare::None,
                        to: None,
                    },
                    segment_by: dim,
                    keys: Some(keys),
                    trend: 0,
                },
            )
            .await
        {
            Ok(r) => r,
            // A goal on a KPI since deleted: the page lists it without progress.
            Err(ReportError::Input(_)) => continue,
            Err(e) => return Err(e),
        };
        crate::goals::attach(engine, team, &mut result).await?;
        for g in members {
            let Some(kv) = result.kpis.iter().find(|k| k.meta.key == g.kpi) else {
                continue;
            };
            let (value, pace) = if g.segment_by.is_empty() {
                (kv.value, kv.goal)
            } else {
                kv.segments
                    .as_ref()
                    .and_then(Option::as_ref)
                    .and_then(|segs| segs.iter().find(|s| s.segment == g.segment))
                    .map_or((None, None), |s| (s.value, s.goal))
            };
            found.push((
                g.id,
                GoalProgress {
                    goal: g.clone(),
                    kpi_name: kv.meta.name.clone(),
                    unit: kv.meta.unit,
                    period: period.to_string(),
                    value,
                    pace,
                },
            ));
        }
    }
    Ok(goals
        .iter()
        .map(|g| match found.iter().position(|(id, _)| *id == g.id) {
            Some(i) => found[i].1.clone(),
            None => GoalProgress {
                goal: g.clone(),
                kpi_name: g.kpi.clone(),
                unit: Unit::Count,
                period: String::new(),
                value: None,
                pace: None,
            },
        })
        .collect())
}
