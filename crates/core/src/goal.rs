//! Goals and pacing: a target for a KPI over a period, the share of it expected by a day (by
//! the phasing's daily weights), the projected end value and the status. Pure functions.

use serde::{Deserialize, Serialize};

use crate::catalog::Direction;

/// How a target spreads over the days of its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phasing {
    /// Every day the same.
    Even,
    /// By weekday, from the KPI's daily values over the 8 weeks before the period.
    Weekday,
    /// By the daily shape of the same period a year earlier.
    LastYear,
}

impl Phasing {
    pub fn as_str(self) -> &'static str {
        match self {
            Phasing::Even => "even",
            Phasing::Weekday => "weekday",
            Phasing::LastYear => "last_year",
        }
    }

    pub fn parse(s: &str) -> Option<Phasing> {
        [Phasing::Even, Phasing::Weekday, Phasing::LastYear]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalStatus {
    Ahead,
    OnTrack,
    Behind,
    Met,
    Missed,
}

impl GoalStatus {
    /// As the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            GoalStatus::Ahead => "ahead",
            GoalStatus::OnTrack => "on_track",
            GoalStatus::Behind => "behind",
            GoalStatus::Met => "met",
            GoalStatus::Missed => "missed",
        }
    }

    /// In words for pages and e-mails.
    pub fn words(self) -> &'static str {
        match self {
            GoalStatus::Ahead => "ahead",
            GoalStatus::OnTrack => "on track",
            GoalStatus::Behind => "behind",
            GoalStatus::Met => "met",
            GoalStatus::Missed => "missed",
        }
    }

    /// Good news (ahead, on track, met) or not.
    pub fn is_good(self) -> bool {
        matches!(
            self,
            GoalStatus::Ahead | GoalStatus::OnTrack | GoalStatus::Met
        )
    }
}

/// What a response says of a KPI's goal for a period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pace {
    pub target: f64,
    /// Target × the phasing's share of the days elapsed; the target once the period ended.
    pub expected_to_date: f64,
    /// Value so far ÷ that share; `None` when nothing of the period is expected yet.
    pub projected: Option<f64>,
    pub status: GoalStatus,
}

/// Within this fraction of the expected value, a goal is on track.
pub const ON_TRACK: f64 = 0.05;

/// The share of the period's weight in its first `elapsed` days; even weights when they are all
/// zero (no history to phase by).
pub fn share(weights: &[f64], elapsed: usize) -> f64 {
    let total: f64 = weights.iter().filter(|w| w.is_finite() && **w > 0.0).sum();
    if weights.is_empty() {
        return 1.0;
    }
    let elapsed = elapsed.min(weights.len());
    if total <= 0.0 {
        return elapsed as f64 / weights.len() as f64;
    }
    let done: f64 = weights[..elapsed]
        .iter()
        .filter(|w| w.is_finite() && **w > 0.0)
        .sum();
    done / total
}

/// The pace of `value` against `target`: in progress (`ended` false) after `share` of the
/// period's weight, or ended. `direction` says whether the target is a floor (higher is
/// better, and neutral) or a ceiling (lower is better).
pub fn pace(target: f64, value: f64, share: f64, ended: bool, direction: Direction) -> Pace {
    let ceiling = direction == Direction::LowerIsBetter;
    if ended {
        let met = if ceiling {
            value <= target
        } else {
            value >= target
        };
        return Pace {
            target,
            expected_to_date: target,
            projected: Some(value),
            status: if met {
                GoalStatus::Met
            } else {
                GoalStatus::Missed
            },
        };
    }
    let expected = target * share;
    let projected = (share > 0.0).then(|| value / share);
    let status = if (value - expected).abs() <= ON_TRACK * expected.abs() {
        GoalStatus::OnTrack
    } else if (value > expected) != ceiling {
        GoalStatus::Ahead
    } else {
        GoalStatus::Behind
    };
    Pace {
        target,
        expected_to_date: expected,
        projected,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_even_month_of_30_days_expects_a_third_after_10_days() {
        let w = vec![1.0; 30];
        let s = share(&w, 10);
        assert!((s - 1.0 / 3.0).abs() < 1e-12);
        let p = pace(1500.0, 480.0, s, false, Direction::HigherIsBetter);
        assert!((p.expected_to_date - 500.0).abs() < 1e-9);
        assert!((p.projected.unwrap_or_default() - 1440.0).abs() < 1e-9);
        // 480 is within 5% of 500.
        assert_eq!(p.status, GoalStatus::OnTrack);
        assert_eq!(
            pace(1500.0, 400.0, s, false, Direction::HigherIsBetter).status,
            GoalStatus::Behind
        );
        assert_eq!(
            pace(1500.0, 600.0, s, false, Direction::HigherIsBetter).status,
            GoalStatus::Ahead
        );
    }

    #[test]
    fn a_ceiling_is_behind_above_the_expected_value_and_met_at_or_below_it() {
        let s = share(&[1.0; 10], 5);
        assert_eq!(
            pace(100.0, 70.0, s, false, Direction::LowerIsBetter).status,
            GoalStatus::Behind
        );
        assert_eq!(
            pace(100.0, 30.0, s, false, Direction::LowerIsBetter).status,
            GoalStatus::Ahead
        );
        assert_eq!(
            pace(100.0, 100.0, 1.0, true, Direction::LowerIsBetter).status,
            GoalStatus::Met
        );
        assert_eq!(
            pace(100.0, 99.0, 1.0, true, Direction::HigherIsBetter).status,
            GoalStatus::Missed
        );
    }

    #[test]
    fn weights_phase_the_expected_share_and_all_zero_weights_are_even() {
        // Weekdays weigh 2, weekend days 1: after Mon–Wed, 6 of 12.
        let week = [2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0];
        assert!((share(&week, 3) - 0.5).abs() < 1e-12);
        assert!((share(&[0.0; 4], 1) - 0.25).abs() < 1e-12);
    }
}
