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

use super::{Period, PeriodKey, Timezone, local_midnight, rfc3339};
use crate::CoreError;

/// Days since 1970-01-01 of a local calendar date: how spend days and daily summaries are keyed.
pub fn day_number(day: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((day - epoch).num_days()).unwrap_or(i32::MAX)
}

/// Periods of one kind, oldest first, resolved in one timezone, as the contiguous spans queries
/// read. Period `i` is span `spans[i]`: the instants `[instants[s], instants[s + 1])`
/// (milliseconds since the epoch) and the local days `[days[s], days[s + 1])` (see
/// [`day_number`]), `s = spans[i]`. Consecutive whole periods are consecutive spans; the first
/// days of periods (a period in progress and its comparisons) leave gaps between them, which are
/// spans of their own that queries read and drop.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    /// The periods, each with the instants it covers here (the whole period, or its first days).
    pub periods: Vec<Period>,
    pub instants: Vec<i64>,
    pub days: Vec<i32>,
    /// The span of each period.
    pub spans: Vec<usize>,
}

/// How far a period has got at some instant, counted in whole local days: today counts, so a
/// period in progress covers its first days up to the next local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Progress {
    /// Its last day is over.
    Complete,
    /// Today is its day `elapsed` (1 on its first day).
    InProgress { elapsed: i64 },
    /// Its first day has not come.
    NotStarted,
}

impl Progress {
    /// How far `key` has got at `now` in `tz`.
    pub fn of(key: PeriodKey, now: DateTime<Utc>, tz: Tz) -> Progress {
        let today = now.with_timezone(&tz).date_naive();
        if today < key.first_day() {
            Progress::NotStarted
        } else if today >= key.end_day() {
            Progress::Complete
        } else {
            Progress::InProgress {
                elapsed: (today - key.first_day()).num_days() + 1,
            }
        }
    }

    pub fn is_complete(self) -> bool {
        self == Progress::Complete
    }
}

impl Buckets {
    /// `periods` as buckets; they must be consecutive and of one kind, oldest first.
    pub fn of(periods: &[PeriodKey], tz: Tz) -> Buckets {
        let spans: Vec<_> = periods
            .iter()
            .map(|k| (*k, k.first_day(), k.end_day()))
            .collect();
        Buckets::from_spans(&spans, tz)
    }

    /// Each period `(key, first day, end day)` covering the local days `[first, end)`; they must
    /// be in order and not overlap.
    fn from_spans(periods: &[(PeriodKey, NaiveDate, NaiveDate)], tz: Tz) -> Buckets {
        let mut bounds: Vec<NaiveDate> = Vec::with_capacity(periods.len() * 2);
        let mut spans = Vec::with_capacity(periods.len());
        for &(_, first, end) in periods {
            match bounds.last() {
                Some(&last) if last >= first => {}
                // The first bound, or a gap before this period: a span read and dropped.
                _ => bounds.push(first),
            }
            spans.push(bounds.len() - 1);
            bounds.push(end);
        }
        let midnights: Vec<DateTime<Utc>> = bounds.iter().map(|d| local_midnight(*d, tz)).collect();
        Buckets {
            periods: periods
                .iter()
                .zip(&spans)
                .map(|(&(key, _, _), &s)| Period {
                    key,
                    start: midnights[s],
                    end: midnights[s + 1],
                })
                .collect(),
            instants: midnights.iter().map(DateTime::timestamp_millis).collect(),
            days: bounds.into_iter().map(day_number).collect(),
            spans,
        }
    }

    /// The `count` periods ending with `current` (its comparison, the one before, is next to
    /// last): a trend with its comparison periods. Refused when they would reach before the
    /// first period of year 0000 (`0000-01` has no previous month to compare with).
    pub fn ending(current: PeriodKey, count: usize, tz: Tz) -> Result<Buckets, CoreError> {
        Buckets::ending_early(current, count, None, tz)
    }

    /// The same, the last period cut after its first `elapsed` days when it is in progress.
    pub fn ending_early(
        current: PeriodKey,
        count: usize,
        elapsed: Option<i64>,
        tz: Tz,
    ) -> Result<Buckets, CoreError> {
        let keys = current.trend(count);
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(CoreError::PeriodTooEarly(current.to_string()));
        }
        let last = keys.len().saturating_sub(1);
        let spans: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| match elapsed {
                Some(days) if i == last => (*k, k.first_day(), first_days_end(*k, days)),
                _ => (*k, k.first_day(), k.end_day()),
            })
            .collect();
        Ok(Buckets::from_spans(&spans, tz))
    }

    /// `keys` (each the comparison of the next, oldest first: consecutive periods, or the same
    /// period of consecutive years), each whole or cut after its first `elapsed` days (all of a
    /// period shorter than that). The gaps between them are read and dropped.
    pub fn compared(keys: &[PeriodKey], elapsed: Option<i64>, tz: Tz) -> Buckets {
        let spans: Vec<_> = keys
            .iter()
            .map(|k| {
                let end = elapsed.map_or(k.end_day(), |days| first_days_end(*k, days));
                (*k, k.first_day(), end)
            })
            .collect();
        Buckets::from_spans(&spans, tz)
    }

    /// Periods of one kind that each stand alone (the history an anomaly compares with: the same
    /// weekday of earlier weeks, earlier months read over the same days), each whole or cut
    /// after its first `elapsed` days. They must be in order and distinct; the gaps between them
    /// are read and dropped.
    pub fn cut(periods: &[(PeriodKey, Option<i64>)], tz: Tz) -> Buckets {
        let spans: Vec<_> = periods
            .iter()
            .map(|&(k, elapsed)| {
                let end = elapsed.map_or(k.end_day(), |days| first_days_end(k, days));
                (k, k.first_day(), end)
            })
            .collect();
        Buckets::from_spans(&spans, tz)
    }

    /// The last `n` periods (all of them when there are fewer), with the spans they read.
    pub fn last(&self, n: usize) -> Buckets {
        let skip = self.len().saturating_sub(n);
        let Some(&first) = self.spans.get(skip) else {
            return Buckets {
                periods: Vec::new(),
                instants: Vec::new(),
                days: Vec::new(),
                spans: Vec::new(),
            };
        };
        Buckets {
            periods: self.periods[skip..].to_vec(),
            instants: self.instants[first..].to_vec(),
            days: self.days[first..].to_vec(),
            spans: self.spans[skip..].iter().map(|s| s - first).collect(),
        }
    }

    /// How many periods.
    pub fn len(&self) -> usize {
        self.periods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.periods.is_empty()
    }

    /// How many spans queries read (the periods' and the gaps between them).
    pub fn span_count(&self) -> usize {
        self.instants.len().saturating_sub(1)
    }

    /// The local days period `i` covers here.
    pub fn covered_days(&self, i: usize) -> i64 {
        let s = self.spans[i];
        i64::from(self.days[s + 1] - self.days[s])
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

    /// Period `i` as replies show it, `progress` being how far the period asked for has got.
    pub fn view(&self, i: usize, timezone: Timezone, progress: Progress) -> PeriodView {
        let period = &self.periods[i];
        let mut view = PeriodView::new(period, timezone);
        let covered = self.covered_days(i);
        if i == self.current() && !progress.is_complete() {
            let elapsed = match progress {
                Progress::InProgress { elapsed } => elapsed,
                _ => 0,
            };
            view.complete = false;
            view.set_elapsed(elapsed);
        } else if covered < view.days {
            view.set_elapsed(covered);
        }
        view
    }
}

/// The end day of the first `days` days of `key` (its end when it is shorter).
fn first_days_end(key: PeriodKey, days: i64) -> NaiveDate {
    let end = key.end_day();
    u64::try_from(days.max(0))
        .ok()
        .and_then(|d| key.first_day().checked_add_days(chrono::Days::new(d)))
        .map_or(end, |d| d.min(end))
}

/// One period as replies show it: its key, its bounds as RFC 3339 instants, the timezone they
/// were resolved in and its length in days; whether it is over, and when only its first days are
/// read (a period in progress, or the same days of the one it is compared with), how many.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodView {
    pub key: PeriodKey,
    #[serde(serialize_with = "instant")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "instant")]
    pub end: DateTime<Utc>,
    pub timezone: Timezone,
    pub days: i64,
    pub complete: bool,
    /// Whole days read / days in the period, when that is not all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed: Option<f64>,
    /// Whole days read, when that is not all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_days: Option<i64>,
}

impl PeriodView {
    /// A whole period that is over.
    pub fn new(period: &Period, timezone: Timezone) -> PeriodView {
        PeriodView {
            key: period.key,
            start: period.start,
            end: period.end,
            timezone,
            days: period.key.days(),
            complete: true,
            elapsed: None,
            elapsed_days: None,
        }
    }

    /// `key` resolved in `timezone`.
    pub fn of(key: PeriodKey, timezone: Timezone) -> PeriodView {
        PeriodView::new(&key.resolve(timezone.0), timezone)
    }

    fn set_elapsed(&mut self, days: i64) {
        self.elapsed_days = Some(days);
        self.elapsed = Some(if self.days > 0 {
            (days as f64 / self.days as f64 * 10_000.0).round() / 10_000.0
        } else {
            0.0
        });
    }

    /// Not over yet.
    pub fn in_progress(&self) -> bool {
        !self.complete
    }

    /// "day 3 of 7" while in progress; `None` once it is over.
    pub fn progress_text(&self) -> Option<String> {
        (!self.complete).then(|| format!("day {} of {}", self.elapsed_days.unwrap_or(0), self.days))
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
                "days": 7,
                "complete": true
            })
        );
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("an instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn progress_counts_whole_local_days_today_included() {
        let tz = chrono_tz::America::New_York;
        let w49 = key("2026-W49"); // Monday 2026-11-30 to Sunday 2026-12-06
        // Wednesday 2026-12-02 23:30 in New York is already Thursday in UTC.
        assert_eq!(
            Progress::of(w49, at("2026-12-03T04:30:00Z"), tz),
            Progress::InProgress { elapsed: 3 }
        );
        assert_eq!(
            Progress::of(w49, at("2026-11-30T05:00:00Z"), tz),
            Progress::InProgress { elapsed: 1 }
        );
        assert_eq!(
            Progress::of(w49, at("2026-12-07T04:59:59Z"), tz),
            Progress::InProgress { elapsed: 7 }
        );
        assert_eq!(
            Progress::of(w49, at("2026-12-07T05:00:00Z"), tz),
            Progress::Complete
        );
        assert_eq!(
            Progress::of(w49, at("2026-11-30T04:59:59Z"), tz),
            Progress::NotStarted
        );
    }

    #[test]
    fn a_period_in_progress_is_compared_with_the_same_first_days() {
        let tz = chrono_tz::Europe::Berlin;
        let b = Buckets::compared(&key("2026-W49").trend(3), Some(3), tz);
        assert_eq!(b.len(), 3);
        let keys: Vec<String> = b.keys().map(|k| k.to_string()).collect();
        assert_eq!(keys, ["2026-W47", "2026-W48", "2026-W49"]);
        // Three periods of three days and the two four-day gaps between them.
        assert_eq!(b.span_count(), 5);
        assert_eq!(b.spans, [0, 2, 4]);
        for i in 0..3 {
            assert_eq!(b.covered_days(i), 3);
        }
        assert_eq!(b.days[1] - b.days[0], 3);
        assert_eq!(b.days[2] - b.days[1], 4, "the rest of W47 is a gap");
        assert_eq!(b.periods[2].start, at("2026-11-29T23:00:00Z"));
        assert_eq!(
            b.periods[2].end,
            at("2026-12-02T23:00:00Z"),
            "the next local midnight"
        );
        let v = b.view(
            b.current(),
            Timezone::parse("Europe/Berlin").expect("a zone"),
            Progress::InProgress { elapsed: 3 },
        );
        assert!(!v.complete);
        assert_eq!(v.elapsed_days, Some(3));
        assert_eq!(v.elapsed, Some(0.4286));
        assert_eq!(v.progress_text().as_deref(), Some("day 3 of 7"));
        let p = b.view(
            b.previous(),
            Timezone::parse("Europe/Berlin").expect("a zone"),
            Progress::InProgress { elapsed: 3 },
        );
        assert!(p.complete, "the week compared with is over");
        assert_eq!(
            p.elapsed_days,
            Some(3),
            "only its first three days are compared"
        );
    }

    #[test]
    fn first_days_are_clamped_to_a_shorter_period() {
        // Day 31 of March compares with all of February.
        let b = Buckets::compared(&key("2027-03").trend(3), Some(31), Tz::UTC);
        assert_eq!(b.covered_days(0), 31, "January has 31 days");
        assert_eq!(b.covered_days(1), 28, "February has 28");
        assert_eq!(b.covered_days(2), 31);
        assert_eq!(b.span_count(), 3, "no gaps when every period is whole");
    }

    #[test]
    fn a_trend_ends_with_the_days_so_far() {
        let b = Buckets::ending_early(key("2026-W49"), 4, Some(2), Tz::UTC).expect("buckets");
        assert_eq!(
            b.span_count(),
            4,
            "whole weeks, then the two days so far: no gap"
        );
        assert_eq!(b.covered_days(2), 7);
        assert_eq!(b.covered_days(3), 2);
        let tail = b.last(2);
        assert_eq!(tail.covered_days(1), 2);
        assert_eq!(tail.periods[0].key, key("2026-W48"));
        // The last two of a gapped window keep their gap.
        let w = Buckets::compared(&key("2026-W49").trend(3), Some(2), Tz::UTC);
        let t = w.last(2);
        assert_eq!(t.spans, [0, 2]);
        assert_eq!(t.span_count(), 3);
        assert_eq!(t.periods, w.periods[1..]);
    }
}
