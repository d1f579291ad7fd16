//! Goals on evaluated KPIs: each KPI (or segment) of a result whose period kind has a goal gets
//! its pace ([`lodestar_core::goal::pace`]), phased evenly, by the weekday profile of the KPI's
//! daily values over the 8 weeks before the period, or by the daily shape of the same period a
//! year earlier; a segment's goal by that segment's own daily values. Only counts and amounts are phased; a rate's target applies as it is.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, TimeDelta};
use lodestar_core::catalog::Unit;
use lodestar_core::dimension::Dimension;
use lodestar_core::goal::{Pace, Phasing, pace, share};
use lodestar_core::period::{Compare, Comparison, PeriodKey, PeriodKind};
use lodestar_store::goals::{self, Goal};
use lodestar_store::teams::Team;

use crate::engine::{HistoryPoint, KpiEngine, KpiRequest, KpiResult};
use crate::error::ReportError;

/// Days of history the weekday profile reads.
const WEEKDAY_DAYS: usize = 56;

/// A goal's segment: `(segment by, segment)`; `None` for the whole team.
pub type GoalSegment<'a> = Option<(&'a str, &'a str)>;

/// The KPI's daily values ending with `last` (inclusive), oldest first: the whole team's, or
/// one segment's (all its days in one batched evaluation; the team's when the KPI cannot be
/// split that way).
async fn daily(
    engine: &KpiEngine,
    team: &Team,
    kpi: &str,
    (last, days): (NaiveDate, usize),
    segment: GoalSegment<'_>,
) -> Result<Vec<f64>, ReportError> {
    if let Some((by, name)) = segment {
        let dim = Dimension::parse(by)?;
        let points: Vec<HistoryPoint> = (0..days)
            .rev()
            .map(|back| {
                let day = last - TimeDelta::days(back as i64);
                (PeriodKey::containing(PeriodKind::Day, day), None)
            })
            .collect();
        let history = engine
            .evaluate_history(team, &[kpi.to_owned()], &points, Some(&dim))
            .await?;
        if let Some(points) = history.into_iter().next().and_then(|h| h.points) {
            return Ok(points
                .iter()
                .map(|p| {
                    p.iter()
                        .find(|(s, _)| s == name)
                        .and_then(|(_, v)| *v)
                        .filter(|v| v.is_finite())
                        .unwrap_or(0.0)
                })
                .collect());
        }
    }
    let result = engine
        .evaluate(
            team,
            &KpiRequest {
                period: PeriodKey::containing(PeriodKind::Day, last),
                comparison: Comparison {
                    compare: Compare::None,
                    to: None,
                },
                segment_by: None,
                keys: Some(vec![kpi.to_owned()]),
                trend: days,
            },
        )
        .await?;
    Ok(result
        .kpis
        .first()
        .map(|k| {
            k.trend
                .iter()
                .map(|p| p.value.filter(|v| v.is_finite()).unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default())
}

/// The weight of each day of `key` under `phasing`, by the daily values of the whole team or of
/// the goal's own segment.
pub async fn weights(
    engine: &KpiEngine,
    team: &Team,
    (kpi, segment): (&str, GoalSegment<'_>),
    key: PeriodKey,
    phasing: Phasing,
) -> Result<Vec<f64>, ReportError> {
    let days = usize::try_from(key.days()).unwrap_or(0);
    let first = key.first_day();
    match phasing {
        Phasing::Even => Ok(vec![1.0; days]),
        Phasing::Weekday => {
            let last = first - TimeDelta::days(1);
            let values = daily(engine, team, kpi, (last, WEEKDAY_DAYS), segment).await?;
            let mut by_weekday = [0.0; 7];
            let start = last - TimeDelta::days(values.len() as i64 - 1);
            for (i, v) in values.iter().enumerate() {
                let day = start + TimeDelta::days(i as i64);
                by_weekday[day.weekday().num_days_from_monday() as usize] += v;
            }
            Ok((0..days)
                .map(|i| {
                    let day = first + TimeDelta::days(i as i64);
                    by_weekday[day.weekday().num_days_from_monday() as usize]
                })
                .collect())
        }
        Phasing::LastYear => {
            let Some(earlier) = key.year_earlier() else {
                return Ok(vec![1.0; days]);
            };
            let n = usize::try_from(earlier.days()).unwrap_or(0);
            let last = earlier.end_day() - TimeDelta::days(1);
            let values = daily(engine, team, kpi, (last, n), segment).await?;
            if values.is_empty() {
                return Ok(vec![1.0; days]);
            }
            Ok((0..days).map(|i| values[i.min(values.len() - 1)]).collect())
        }
    }
}

/// The pace of `value` against `goal` for the period of `result`.
async fn pace_of(
    engine: &KpiEngine,
    team: &Team,
    goal: &Goal,
    result: &KpiResult,
    (unit, direction): (Unit, lodestar_core::catalog::Direction),
    value: f64,
    cache: &mut HashMap<(String, &'static str, String, String), Vec<f64>>,
) -> Result<Pace, ReportError> {
    let view = &result.period;
    let key = view.key;
    let today = engine.now().with_timezone(&team.timezone.0).date_naive();
    let elapsed = match view.elapsed_days {
        Some(d) => Some(d),
        None if view.complete => None,
        None => Some((today - key.first_day()).num_days() + 1),
    };
    let Some(elapsed) = elapsed else {
        return Ok(pace(goal.target, value, 1.0, true, direction));
    };
    let additive = matches!(unit, Unit::Count | Unit::Currency);
    if !additive {
        return Ok(pace(goal.target, value, 1.0, false, direction));
    }
    let phasing = Phasing::parse(&goal.phasing).unwrap_or(Phasing::Even);
    let cache_key = (
        goal.kpi.clone(),
        phasing.as_str(),
        goal.segment_by.clone(),
        goal.segment.clone(),
    );
    if !cache.contains_key(&cache_key) {
        let segment = (!goal.segment_by.is_empty())
            .then_some((goal.segment_by.as_str(), goal.segment.as_str()));
        let w = weights(engine, team, (&goal.kpi, segment), key, phasing).await?;
        cache.insert(cache_key.clone(), w);
    }
    let w = cache.get(&cache_key).map(Vec::as_slice).unwrap_or(&[]);
    let s = share(w, usize::try_from(elapsed.max(0)).unwrap_or(0));
    Ok(pace(goal.target, value, s, false, direction))
}

/// A goal as `PUT /api/v1/goals/{kpi}` sets it, checked; the error names the field at fault.
pub async fn validate(
    engine: &KpiEngine,
    team: &Team,
    kpi: &str,
    (period_kind, target, phasing): (&str, f64, Option<&str>),
    segment: (Option<&str>, Option<&str>),
) -> Result<Result<goals::GoalFields, (&'static str, String)>, ReportError> {
    let customs = engine.custom_kpis(team).await?;
    if lodestar_core::catalog::Builtin::from_key(kpi).is_none() && !customs.kpis.contains_key(kpi) {
        return Ok(Err((
            "kpi",
            format!("unknown KPI `{kpi}`: see GET /api/v1/catalog"),
        )));
    }
    if !matches!(period_kind, "week" | "month" | "quarter" | "year") {
        return Ok(Err((
            "period_kind",
            format!("unknown period kind `{period_kind}`: week, month, quarter or year"),
        )));
    }
    if !target.is_finite() {
        return Ok(Err(("target", "`target` must be a number".to_owned())));
    }
    let phasing = match phasing {
        None => Phasing::Even,
        Some(p) => match Phasing::parse(p) {
            Some(p) => p,
            None => {
                return Ok(Err((
                    "phasing",
                    format!("unknown phasing `{p}`: even, weekday or last_year"),
                )));
            }
        },
    };
    let (segment_by, segment) = match segment {
        (None, None) => (String::new(), String::new()),
        (Some(by), Some(seg)) if !seg.trim().is_empty() => {
            if let Err(e) = lodestar_core::dimension::Dimension::parse(by) {
                return Ok(Err(("segment_by", e.to_string())));
            }
            (by.to_owned(), seg.to_owned())
        }
        (Some(_), _) => {
            return Ok(Err((
                "segment",
                "`segment_by` needs a `segment`".to_owned(),
            )));
        }
        (None, Some(_)) => {
            return Ok(Err((
                "segment_by",
                "`segment` needs a `segment_by`".to_owned(),
            )));
        }
    };
    Ok(Ok(goals::GoalFields {
        kpi: kpi.to_owned(),
        period_kind: period_kind.to_owned(),
        segment_by,
        segment,
        target,
        phasing: phasing.as_str().to_owned(),
    }))
}

/// Adds `goal` to every KPI and segment of `result` that has a goal for its period kind.
pub async fn attach(
    engine: &KpiEngine,
    team: &Team,
    result: &mut KpiResult,
) -> Result<(), ReportError> {
    let kind = result.period.key.kind();
    let all: Vec<Goal> = goals::list(engine.db(), team.id)
        .await?
        .into_iter()
        .filter(|g| g.period_kind == kind.as_str())
        .collect();
    if all.is_empty() {
        return Ok(());
    }
    let segment_by = result
        .segment_by
        .as_ref()
        .map(|d| d.to_string())
        .unwrap_or_default();
    let mut cache = HashMap::new();
    let snapshot = result.clone();
    for kv in &mut result.kpis {
        let (unit, direction) = (kv.meta.unit, kv.meta.direction);
        for g in all.iter().filter(|g| g.kpi == kv.meta.key) {
            if g.segment_by.is_empty() {
                if let Some(v) = kv.value.filter(|v| v.is_finite()) {
                    kv.goal = Some(
                        pace_of(engine, team, g, &snapshot, (unit, direction), v, &mut cache)
                            .await?,
                    );
                }
            } else if g.segment_by == segment_by
                && let Some(Some(segs)) = kv.segments.as_mut()
                && let Some(seg) = segs.iter_mut().find(|s| s.segment == g.segment)
                && let Some(v) = seg.value.filter(|v| v.is_finite())
            {
                seg.goal = Some(
                    pace_of(engine, team, g, &snapshot, (unit, direction), v, &mut cache).await?,
                );
            }
        }
    }
    Ok(())
}
