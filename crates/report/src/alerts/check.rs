//! Evaluating a team's alerts at one instant, batched: alerts are grouped by window (period,
//! read-to day, segmentation, comparison) and each window is one KPI engine run over every KPI
//! its alerts read (their KPIs, minimum-volume KPIs, the drivers of their driver trees). An
//! anomaly window adds one batched evaluation of all its periods of history, shared by all its
//! anomaly alerts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use lodestar_core::catalog::Unit;
use lodestar_core::dimension::Dimension;
use lodestar_core::goal::GoalStatus;
use lodestar_core::period::{Compare, Comparison, PeriodKey, PeriodKind};
use lodestar_store::teams::Team;
use serde_json::{Value, json};

use super::condition::{Against, Condition, HISTORY, Test, anomaly_band};
use super::spec::AlertSpec;
use crate::drivers::{explain_values, known_trees};
use crate::engine::{KpiEngine, KpiRequest, KpiResult, KpiValue};
use crate::error::ReportError;
use crate::format;
use crate::segments;

/// One alert to evaluate.
#[derive(Debug, Clone)]
pub struct AlertInput {
    pub id: i32,
    pub kpi: String,
    pub spec: AlertSpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    Clear,
    /// Not judged (no value, too little history or volume, snoozed): the state stays.
    Unknown,
}

/// The verdict on one segment (`""`: the whole team) of one alert, with what a notification
/// says about it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub alert_id: i32,
    pub segment: String,
    pub verdict: Verdict,
    pub period: String,
    /// Values, threshold or band, comparison, text and a link (relative to the public URL).
    pub detail: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Window {
    period: PeriodKey,
    to: Option<NaiveDate>,
    segment_by: Option<String>,
    year: bool,
}

fn window(spec: &AlertSpec, now: DateTime<Utc>, team: &Team) -> Result<Window, ReportError> {
    let tz = team.timezone.0;
    let today = now.with_timezone(&tz).date_naive();
    let (period, to) = match (&spec.period, spec.period_kind) {
        (Some(p), _) => (PeriodKey::parse(p)?, None),
        (None, Some(kind)) if spec.last_complete => (PeriodKey::last_complete(kind, now, tz), None),
        (None, Some(kind)) => {
            let key = PeriodKey::current(kind, now, tz);
            let to = (kind != PeriodKind::Day).then_some(today);
            (key, to)
        }
        (None, None) => (PeriodKey::current(PeriodKind::Month, now, tz), Some(today)),
    };
    Ok(Window {
        period,
        to,
        segment_by: spec.segment_by.clone(),
        year: spec.condition.compare() == Against::Year,
    })
}

/// The periods an anomaly compares `w` with, newest first: the same weekday of earlier weeks for
/// a day, else the earlier periods read over the same number of days.
fn history_windows(w: &Window) -> Vec<(PeriodKey, Option<NaiveDate>)> {
    let step = if w.period.kind() == PeriodKind::Day {
        7
    } else {
        1
    };
    let elapsed = w.to.map(|t| t - w.period.first_day());
    (1..=HISTORY as i64)
        .map(|i| w.period.offset(-step * i))
        .filter(|k| *k < w.period)
        .map(|k| {
            let to = elapsed.map(|d| (k.first_day() + d).min(k.end_day() - TimeDelta::days(1)));
            (k, to)
        })
        .collect()
}

async fn run(
    engine: &KpiEngine,
    team: &Team,
    (period, to): (PeriodKey, Option<NaiveDate>),
    compare: Compare,
    segment_by: Option<&Dimension>,
    keys: &BTreeSet<String>,
) -> Result<KpiResult, ReportError> {
    engine
        .evaluate(
            team,
            &KpiRequest {
                period,
                comparison: Comparison { compare, to },
                segment_by: segment_by.cloned(),
                keys: Some(keys.iter().cloned().collect()),
                trend: 0,
            },
        )
        .await
}

type Values = (Option<f64>, Option<f64>, Option<GoalStatus>);

/// `(value, previous, goal status)` of each segment of `v` (or of the whole team), `Err` when
/// the KPI cannot be split that way.
fn per_segment(v: &KpiValue, segmented: bool) -> Result<BTreeMap<String, Values>, String> {
    if !segmented {
        return Ok(BTreeMap::from([(
            String::new(),
            (v.value, v.previous, v.goal.map(|g| g.status)),
        )]));
    }
    match &v.segments {
        Some(Some(segs)) => Ok(segs
            .iter()
            .map(|s| {
                (
                    s.segment.clone(),
                    (s.value, s.previous, s.goal.map(|g| g.status)),
                )
            })
            .collect()),
        _ => Err(v
            .unsupported
            .clone()
            .unwrap_or_else(|| format!("{} cannot be split this way", v.meta.name))),
    }
}

fn link(w: &Window, segment: &str) -> String {
    let mut link = format!("/reports/weekly?period={}", w.period);
    if let Some(to) = w.to {
        link.push_str(&format!("&to={to}"));
    }
    if w.year {
        link.push_str("&compare=year");
    }
    if let Some(by) = &w.segment_by {
        link.push_str(&format!(
            "&segment_by={}&segment={}",
            encode(by),
            encode(segment)
        ));
    }
    link
}

/// Percent-encodes everything but unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Evaluates `alerts` of `team` at `now`: a finding per alert and segment.
pub async fn evaluate(
    engine: &KpiEngine,
    team: &Team,
    alerts: &[AlertInput],
    now: DateTime<Utc>,
) -> Result<Vec<Finding>, ReportError> {
    let today = now.with_timezone(&team.timezone.0).date_naive();
    let customs = engine.custom_kpis(team).await?;
    let trees = known_trees(engine, &customs);
    let mut findings = Vec::new();
    let mut groups: BTreeMap<Window, Vec<&AlertInput>> = BTreeMap::new();
    for a in alerts {
        if let Some(until) = a.spec.snooze_until
            && today <= until
        {
            let w = window(&a.spec, now, team)?;
            findings.push(Finding {
                alert_id: a.id,
                segment: String::new(),
                verdict: Verdict::Unknown,
                period: w.period.to_string(),
                detail: json!({ "text": format!("snoozed until {until}") }),
            });
            continue;
        }
        groups
            .entry(window(&a.spec, now, team)?)
            .or_default()
            .push(a);
    }
    for (w, members) in groups {
        let dim = match &w.segment_by {
            Some(s) => Some(segments::resolve(engine.db(), team, &Dimension::parse(s)?).await?),
            None => None,
        };
        let mut keys: BTreeSet<String> = BTreeSet::new();
        for a in &members {
            keys.insert(a.kpi.clone());
            if let Some(m) = &a.spec.min_volume {
                keys.insert(m.kpi.clone());
            }
            if dim.is_none() {
                for t in trees.iter().filter(|t| t.kpi == a.kpi) {
                    keys.extend(t.drivers.iter().map(|d| d.kpi.clone()));
                }
            }
        }
        let compare = if w.year {
            Compare::Year
        } else {
            Compare::Previous
        };
        let mut result = run(engine, team, (w.period, w.to), compare, dim.as_ref(), &keys).await?;
        if members
            .iter()
            .any(|a| matches!(a.spec.condition, Condition::Goal { .. }))
        {
            crate::goals::attach(engine, team, &mut result).await?;
        }
        let anomaly_keys: BTreeSet<String> = members
            .iter()
            .filter(|a| matches!(a.spec.condition, Condition::Anomaly { .. }))
            .map(|a| a.kpi.clone())
            .collect();
        // KPI → segment → values of the comparable periods, all of them read in one batch.
        let mut history: HashMap<String, BTreeMap<String, Vec<f64>>> = HashMap::new();
        if !anomaly_keys.is_empty() {
            let keys: Vec<String> = anomaly_keys.into_iter().collect();
            let past = engine
                .evaluate_history(team, &keys, &history_windows(&w), dim.as_ref())
                .await?;
            for h in past {
                let entry = history.entry(h.key).or_default();
                for point in h.points.into_iter().flatten() {
                    for (seg, value) in point {
                        if let Some(x) = value.filter(|x| x.is_finite()) {
                            entry.entry(seg).or_default().push(x);
                        }
                    }
                }
            }
        }
        let by_key: HashMap<&str, &KpiValue> = result
            .kpis
            .iter()
            .map(|k| (k.meta.key.as_str(), k))
            .collect();
        let compared_with = result.previous_period.as_ref().map(|p| p.key);
        for a in members {
            let base = |segment: &str, verdict: Verdict, text: String| Finding {
                alert_id: a.id,
                segment: segment.to_owned(),
                verdict,
                period: w.period.to_string(),
                detail: json!({ "kpi": a.kpi, "text": text, "link": link(&w, segment) }),
            };
            let Some(v) = by_key.get(a.kpi.as_str()) else {
                findings.push(base(
                    "",
                    Verdict::Unknown,
                    format!("unknown KPI `{}`", a.kpi),
                ));
                continue;
            };
            let segs = match per_segment(v, dim.is_some()) {
                Ok(s) => s,
                Err(why) => {
                    findings.push(base("", Verdict::Unknown, why));
                    continue;
                }
            };
            let volume = match &a.spec.min_volume {
                Some(m) => match by_key
                    .get(m.kpi.as_str())
                    .map(|mv| per_segment(mv, dim.is_some()))
                {
                    Some(Ok(vs)) => Some((m, vs)),
                    _ => {
                        findings.push(base(
                            "",
                            Verdict::Unknown,
                            format!(
                                "the minimum volume's KPI `{}` cannot be read this way",
                                m.kpi
                            ),
                        ));
                        continue;
                    }
                },
                None => None,
            };
            let driver = if dim.is_none() {
                let own: Vec<_> = trees.iter().filter(|t| t.kpi == a.kpi).cloned().collect();
                explain_values(&own, &result.kpis, &w.period, compared_with)
                    .first()
                    .map(|e| e.sentence())
            } else {
                None
            };
            let unit: Unit = v.meta.unit;
            let empty = Vec::new();
            for (segment, (value, previous, goal)) in segs {
                let past = history
                    .get(&a.kpi)
                    .and_then(|h| h.get(&segment))
                    .unwrap_or(&empty);
                let mut test = a.spec.condition.test(unit, (value, previous), past, goal);
                let mut volume_json = Value::Null;
                if let Some((m, vs)) = &volume {
                    let got = vs.get(&segment).and_then(|(x, _, _)| *x).unwrap_or(0.0);
                    volume_json = json!({ "kpi": m.kpi, "value": got, "at_least": m.at_least });
                    if got < m.at_least {
                        test = Test::Unknown(format!(
                            "{} is {}, below the minimum volume {}",
                            m.kpi,
                            format::format_value(Unit::Count, Some(got)),
                            format::format_value(Unit::Count, Some(m.at_least))
                        ));
                    }
                }
                let (verdict, text) = match test {
                    Test::Holds(t) => (Verdict::Holds, t),
                    Test::Clear(t) => (Verdict::Clear, t),
                    Test::Unknown(t) => (Verdict::Unknown, t),
                };
                let band = match &a.spec.condition {
                    Condition::Anomaly { sensitivity } => anomaly_band(past, *sensitivity)
                        .map_or(Value::Null, |(lo, mid, hi)| json!({ "low": lo, "median": mid, "high": hi, "periods": past.len() })),
                    _ => Value::Null,
                };
                let threshold = match &a.spec.condition {
                    Condition::Above { value } | Condition::Below { value } => json!(value),
                    Condition::Change { by, .. } => json!(by),
                    Condition::Anomaly { .. } | Condition::Goal { .. } => Value::Null,
                };
                findings.push(Finding {
                    alert_id: a.id,
                    segment: segment.clone(),
                    verdict,
                    period: w.period.to_string(),
                    detail: json!({
                        "kpi": a.kpi,
                        "kpi_name": v.meta.name,
                        "segment_by": w.segment_by,
                        "segment": if w.segment_by.is_some() { Value::String(segment.clone()) } else { Value::Null },
                        "period": w.period.to_string(),
                        "to": w.to,
                        "value": value,
                        "value_display": format::format_value(unit, value),
                        "condition": a.spec.condition,
                        "threshold": threshold,
                        "band": band,
                        "comparison": {
                            "compare": if w.year { "year" } else { "previous" },
                            "period": result.previous_period.as_ref().map(|p| p.key.to_string()),
                            "previous": previous,
                            "change_display": format::change_display(unit, value, previous),
                        },
                        "min_volume": volume_json,
                        "goal": goal,
                        "driver": driver,
                        "text": text,
                        "link": link(&w, &segment),
                    }),
                });
            }
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_compared_with_the_same_weekday_and_a_month_to_date_with_the_same_days() {
        let day = Window {
            period: PeriodKey::parse("2026-11-18").expect("key"),
            to: None,
            segment_by: None,
            year: false,
        };
        let h = history_windows(&day);
        assert_eq!(h.len(), 8);
        assert_eq!(h[0].0.to_string(), "2026-11-11");
        assert_eq!(h[7].0.to_string(), "2026-09-23");
        let month = Window {
            period: PeriodKey::parse("2026-03").expect("key"),
            to: NaiveDate::from_ymd_opt(2026, 3, 30),
            segment_by: None,
            year: false,
        };
        let h = history_windows(&month);
        assert_eq!(h[0].0.to_string(), "2026-02");
        // February has 28 days: read whole.
        assert_eq!(h[0].1, NaiveDate::from_ymd_opt(2026, 2, 28));
        assert_eq!(h[1].1, NaiveDate::from_ymd_opt(2026, 1, 30));
    }
}
