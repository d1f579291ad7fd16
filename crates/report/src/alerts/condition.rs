//! What an alert tests, as pure functions over evaluated values.

use lodestar_core::catalog::Unit;
use lodestar_core::goal::GoalStatus;
use serde::{Deserialize, Serialize};

use crate::format;

/// Up, down or either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Way {
    Up,
    Down,
    Any,
}

/// What a change is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Against {
    Previous,
    Year,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Condition {
    Above {
        value: f64,
    },
    Below {
        value: f64,
    },
    /// `by` in % for counts, currency, ratios and days; in points for percentages and scores.
    Change {
        compare: Against,
        by: f64,
        direction: Way,
    },
    /// Outside median ± sensitivity × 1.4826 × MAD of the last comparable periods.
    Anomaly {
        sensitivity: f64,
    },
    /// The goal of the period (and segment) is behind, or was missed.
    Goal {
        status: GoalWanted,
    },
}

/// The goal statuses an alert can wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GoalWanted {
    Behind,
    Missed,
}

/// The outcome of testing one value.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// The condition holds; the text says how.
    Holds(String),
    /// It does not; the text says why.
    Clear(String),
    /// It cannot be judged (no value, too little history): the state stays as it is.
    Unknown(String),
}

/// Periods of history an anomaly needs at least.
pub const MIN_HISTORY: usize = 6;
/// Periods of history an anomaly reads.
pub const HISTORY: usize = 8;
/// MAD × this estimates the standard deviation of normally distributed values.
pub const MAD_SCALE: f64 = 1.4826;

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The band `(low, median, high)` of `history` (the values that exist), or `None` with fewer
/// than [`MIN_HISTORY`] of them.
pub fn anomaly_band(history: &[f64], sensitivity: f64) -> Option<(f64, f64, f64)> {
    let mut values: Vec<f64> = history.iter().copied().filter(|v| v.is_finite()).collect();
    if values.len() < MIN_HISTORY {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = median(&values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - mid).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    let spread = sensitivity * MAD_SCALE * median(&deviations);
    Some((mid - spread, mid, mid + spread))
}

impl Condition {
    /// Which comparison the evaluation of this condition needs.
    pub fn compare(&self) -> Against {
        match self {
            Condition::Change { compare, .. } => *compare,
            _ => Against::Previous,
        }
    }

    /// Tests `value` (against `previous`, against `history` for an anomaly, or by the status
    /// of its goal).
    pub fn test(
        &self,
        unit: Unit,
        (value, previous): (Option<f64>, Option<f64>),
        history: &[f64],
        goal: Option<GoalStatus>,
    ) -> Test {
        let Some(v) = value.filter(|v| v.is_finite()) else {
            return Test::Unknown("no value for the period".to_owned());
        };
        let shown = |x: f64| format::format_value(unit, Some(x));
        match self {
            Condition::Above { value: t } => {
                let text = format!("{} is above {}", shown(v), shown(*t));
                if v > *t {
                    Test::Holds(text)
                } else {
                    Test::Clear(format!("{} is not above {}", shown(v), shown(*t)))
                }
            }
            Condition::Below { value: t } => {
                if v < *t {
                    Test::Holds(format!("{} is below {}", shown(v), shown(*t)))
                } else {
                    Test::Clear(format!("{} is not below {}", shown(v), shown(*t)))
                }
            }
            Condition::Change {
                compare,
                by,
                direction,
            } => {
                let Some(change) = format::shown_change(unit, Some(v), previous) else {
                    return Test::Unknown(format!(
                        "no change against the {} period can be computed",
                        match compare {
                            Against::Previous => "previous",
                            Against::Year => "year-earlier",
                        }
                    ));
                };
                let display = format::change_display(unit, Some(v), previous);
                let holds = match direction {
                    Way::Up => change >= *by,
                    Way::Down => change <= -by,
                    Way::Any => change.abs() >= *by,
                };
                let suffix = match unit {
                    Unit::Percent => " pp",
                    Unit::Score => " pts",
                    _ => "%",
                };
                let limit = match direction {
                    Way::Up => format!("up by {by}{suffix} or more"),
                    Way::Down => format!("down by {by}{suffix} or more"),
                    Way::Any => format!("{by}{suffix} or more either way"),
                };
                if holds {
                    Test::Holds(format!("changed {display}, {limit}"))
                } else {
                    Test::Clear(format!("changed {display}, not {limit}"))
                }
            }
            Condition::Goal { status } => {
                let Some(got) = goal else {
                    return Test::Unknown("no goal for this period".to_owned());
                };
                let name = |s: GoalStatus| match s {
                    GoalStatus::Ahead => "ahead",
                    GoalStatus::OnTrack => "on track",
                    GoalStatus::Behind => "behind",
                    GoalStatus::Met => "met",
                    GoalStatus::Missed => "missed",
                };
                let holds = matches!(
                    (status, got),
                    (GoalWanted::Behind, GoalStatus::Behind)
                        | (GoalWanted::Missed, GoalStatus::Missed)
                );
                let text = format!("{} against its goal: {}", shown(v), name(got));
                if holds {
                    Test::Holds(text)
                } else {
                    Test::Clear(text)
                }
            }
            Condition::Anomaly { sensitivity } => match anomaly_band(history, *sensitivity) {
                None => Test::Unknown(format!(
                    "only {} comparable period(s) of history; an anomaly needs {MIN_HISTORY}",
                    history.iter().filter(|v| v.is_finite()).count()
                )),
                Some((lo, _, hi)) => {
                    let band = format!("{} to {}", shown(lo), shown(hi));
                    if v < lo || v > hi {
                        Test::Holds(format!("{} is outside the usual band {band}", shown(v)))
                    } else {
                        Test::Clear(format!("{} is within the usual band {band}", shown(v)))
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_is_the_median_plus_or_minus_scaled_mad() {
        // Median 12; deviations 2,1,0,1,2,8 → MAD 1.5.
        let (lo, mid, hi) =
            anomaly_band(&[10.0, 11.0, 12.0, 13.0, 14.0, 20.0, 12.0], 2.0).expect("enough history");
        assert_eq!(mid, 12.0);
        let spread = 2.0 * 1.4826 * 1.0;
        assert!((hi - (12.0 + spread)).abs() < 1e-9, "{hi}");
        assert!((lo - (12.0 - spread)).abs() < 1e-9, "{lo}");
    }

    #[test]
    fn fewer_than_six_periods_do_not_judge_an_anomaly() {
        let c = Condition::Anomaly { sensitivity: 3.0 };
        let t = c.test(
            Unit::Count,
            (Some(1000.0), None),
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            None,
        );
        assert!(
            matches!(t, Test::Unknown(ref why) if why.contains("needs 6")),
            "{t:?}"
        );
    }

    #[test]
    fn a_change_in_points_for_percentages_and_in_percent_for_counts() {
        let c = Condition::Change {
            compare: Against::Previous,
            by: 5.0,
            direction: Way::Down,
        };
        assert!(matches!(
            c.test(Unit::Percent, (Some(20.0), Some(26.0)), &[], None),
            Test::Holds(_)
        ));
        assert!(matches!(
            c.test(Unit::Percent, (Some(22.0), Some(26.0)), &[], None),
            Test::Clear(_)
        ));
        // 100 → 96 is −4%: not enough; 100 → 95 is −5%.
        assert!(matches!(
            c.test(Unit::Count, (Some(96.0), Some(100.0)), &[], None),
            Test::Clear(_)
        ));
        assert!(matches!(
            c.test(Unit::Count, (Some(95.0), Some(100.0)), &[], None),
            Test::Holds(_)
        ));
    }
}
