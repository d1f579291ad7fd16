//! Periods as the buckets queries read: a run of consecutive periods resolved in a team's
//! timezone to instant bounds (leads, events) and local-day bounds (spend days, daily summaries),
//! and the view of one period that replies show.
//!
//! Every request that reads numbers for periods builds its bounds here; a new way of choosing
//! periods (a period in progress, a year-over-year comparison, a rolling window) is a new
//! constructor of [`Buckets`], not a new copy of the arithmetic.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

use super::{Period, PeriodKey, Timezone, rfc3339};
use crate::CoreError;

/// Days since 1970-01-01 of a local calendar date: how spend days and daily summaries are keyed.
pub fn day_number(day: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((day - epoch).num_days()).unwrap_or(i32::MAX)
}

/// Consecutive periods of one kind, oldest first, resolved in one timezone. Bucket `i` is the
/// period `periods[i]`: the instants `[instants[i], instants[i + 1])` (milliseconds since the
/// epoch) and the local days `[days[i], days[i + 1])` (see [`day_number`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    pub periods: Vec<Period>,
    pub instants: Vec<i64>,
    pub days: Vec<i32>,
}

impl Buckets {
    /// `periods` as buckets; they must be consecutive and of one kind, oldest first.
    pub fn of(periods: &[PeriodKey], tz: Tz) -> Buckets {
        let periods: Vec<Period> = periods.iter().map(|p| p.resolve(tz)).collect();
        let mut instants: Vec<i64> = periods.iter().map(|p| p.start.timestamp_millis()).collect();
        let mut days: Vec<i32> = periods
            .iter()
            .map(|p| day_number(p.key.first_day()))
            .collect();
        if let Some(last) = periods.last() {
            instants.push(last.end.timestamp_millis());
            days.push(day_number(last.key.end_day()));
        }
        Buckets {
            periods,
            instants,
            days,
        }
    }

    /// The `count` periods ending with `current` (its comparison, the one before, is next to
    /// last): a trend with its comparison periods. Refused when they would reach before the
    /// first period of year 0000 (`0000-01` has no previous month to compare with).
    pub fn ending(current: PeriodKey, count: usize, tz: Tz) -> Result<Buckets, CoreError> {
        let keys = current.trend(count);
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(CoreError::PeriodTooEarly(current.to_string()));
        }
        Ok(Buckets::of(&keys, tz))
    }

    /// The last `n` buckets (all of them when there are fewer).
    pub fn last(&self, n: usize) -> Buckets {
        let skip = self.len().saturating_sub(n);
        Buckets {
            periods: self.periods[skip..].to_vec(),
            instants: self.instants[skip.min(self.instants.len())..].to_vec(),
            days: self.days[skip.min(self.days.len())..].to_vec(),
        }
    }

    /// How many buckets.
    pub fn len(&self) -> usize {
        self.instants.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The position of the period asked for: the last bucket.
    pub fn current(&self) -> usize {
        self.len().saturating_sub(1)
    }

    /// The position of the period it is compared with: the one before the last.
    pub fn previous(&self) -> usize {
        self.len().saturating_sub(2)
    }

    pub fn keys(&self) -> impl Iterator<Item = PeriodKey> + '_ {
        self.periods.iter().map(|p| p.key)
    }
}

/// One period as replies show it: its key, its bounds as RFC 3339 instants, the timezone they
/// were resolved in and its length in days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodView {
    pub key: PeriodKey,
    #[serde(serialize_with = "instant")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "instant")]
    pub end: DateTime<Utc>,
    pub timezone: Timezone,
    pub days: i64,
}

impl PeriodView {
    pub fn new(period: &Period, timezone: Timezone) -> PeriodView {
        PeriodView {
            key: period.key,
            start: period.start,
            end: period.end,
            timezone,
            days: period.key.days(),
        }
    }

    /// `key` resolved in `timezone`.
    pub fn of(key: PeriodKey, timezone: Timezone) -> PeriodView {
        PeriodView::new(&key.resolve(timezone.0), timezone)
    }
}

fn instant<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(*at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> PeriodKey {
        PeriodKey::parse(s).expect("a valid key")
    }

    #[test]
    fn consecutive_weeks_share_their_bounds() {
        let b = Buckets::ending(key("2026-W45"), 3, chrono_tz::America::New_York).expect("buckets");
        assert_eq!(b.len(), 3);
        assert_eq!(b.instants.len(), 4);
        assert_eq!(b.days.len(), 4);
        assert_eq!(b.periods[b.current()].key, key("2026-W45"));
        assert_eq!(b.periods[b.previous()].key, key("2026-W44"));
        // Week 45 starts Monday 2026-11-02 at local midnight, after the fall-back of Nov 1.
        assert_eq!(b.instants[2], 1_793_595_600_000);
        assert_eq!(
            b.days[3] - b.days[2],
            7,
            "a week is seven local days, whatever the DST change does to its hours"
        );
        assert_eq!(
            b.instants[3] - b.instants[2],
            7 * 86_400_000,
            "no DST change inside week 45"
        );
        assert_eq!(
            b.instants[2] - b.instants[1],
            7 * 86_400_000 + 3_600_000,
            "week 44 has the extra hour of Nov 1"
        );
    }

    #[test]
    fn the_last_buckets_keep_their_bounds() {
        let all = Buckets::ending(key("2026-11"), 5, Tz::UTC).expect("buckets");
        let tail = all.last(3);
        assert_eq!(tail.len(), 3);
        assert_eq!(tail.instants[..], all.instants[2..]);
        assert_eq!(tail.days[..], all.days[2..]);
        assert_eq!(tail.periods[tail.current()].key, key("2026-11"));
        assert_eq!(all.last(9), all);
    }

    #[test]
    fn a_period_whose_comparison_would_precede_year_0000_is_refused() {
        assert!(matches!(
            Buckets::ending(key("0000-01"), 3, Tz::UTC),
            Err(CoreError::PeriodTooEarly(_))
        ));
        assert!(Buckets::ending(key("0000-03"), 3, Tz::UTC).is_ok());
        assert!(Buckets::ending(key("0000-03"), 4, Tz::UTC).is_err());
    }

    #[test]
    fn day_numbers_count_from_the_epoch() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("a date");
        assert_eq!(day_number(d(1970, 1, 1)), 0);
        assert_eq!(day_number(d(1969, 12, 31)), -1);
        assert_eq!(day_number(d(2026, 11, 2)), 20_759);
    }

    #[test]
    fn a_view_serialises_as_the_api_names_it() {
        let tz = Timezone::parse("Europe/Berlin").expect("a zone");
        let v = PeriodView::of(key("2026-W45"), tz);
        let json = serde_json::to_value(&v).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({
                "key": "2026-W45",
                "start": "2026-11-01T23:00:00Z",
                "end": "2026-11-08T23:00:00Z",
                "timezone": "Europe/Berlin",
                "days": 7
            })
        );
    }
}
