//! Cron patterns in a schedule's timezone, with croner (the parser tokio-cron-scheduler 0.15 uses)
//! for matching wall-clock times and cron(8)'s own rule for the wall clock's DST jumps.
//! Due times are computed here, never taken from a job's firing: tokio-cron-scheduler has fired
//! timezone jobs at the wrong hour around DST changes (#105, #107).
//!
//! At a DST change a schedule behaves as cronie's cron(8) says: a *wildcard* job (its minute or
//! hour field starts with `*`, as in `0 * * * *` or `*/15 * * * *`) follows the wall clock as
//! it comes: no run for times the clock skips, and a run in both passes of a repeated hour. A
//! *fixed-time* job (any other, as in `30 2 * * *` or `0 1-3 * * *`) whose time the clock skips
//! runs once right after the change, and a fixed-time job in a repeated hour runs in the first
//! pass only.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

mod words;
pub use words::describe;

/// How cron(8) treats a job when the wall clock jumps (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DstRule {
    /// The minute or the hour field starts with `*`: runs on the wall clock as it comes.
    Wildcard,
    /// Runs once for a skipped time (right after the change), once for a repeated one.
    FixedTime,
}

/// A validated 5-field (`min hour dom month dow`) or 6-field (`sec min hour dom month dow`)
/// pattern. Where both day fields are restricted, a day matching either one matches (as in
/// Vixie cron).
#[derive(Debug, Clone)]
pub struct CronSpec {
    source: String,
    six_fields: String,
    cron: Cron,
    rule: DstRule,
}

impl PartialEq for CronSpec {
    fn eq(&self, other: &Self) -> bool {
        self.six_fields == other.six_fields
    }
}

/// Every DST shift on record is at most this long; how far a search looks past a change.
const LOOKAROUND: TimeDelta = TimeDelta::hours(3);
/// Candidates one search may examine: a seconds pattern around a one-hour change needs ~7,200.
const MAX_STEPS: usize = 100_000;

impl CronSpec {
    /// Parses a pattern; the error says what is wrong in words a user can act on.
    pub fn parse(source: &str) -> Result<CronSpec, String> {
        let source = source.trim();
        if source.chars().any(char::is_control) {
            return Err("contains a line break or control character".to_owned());
        }
        let fields: Vec<&str> = source.split_whitespace().collect();
        // croner reads `1,,2` and `1,` as `1,2` and `1`: cron(8) refuses an empty list element.
        if let Some(field) = fields.iter().find(|f| f.split(',').any(str::is_empty)) {
            return Err(format!(
                "has an empty list element in `{field}`: separate values with single commas, \
                 e.g. `1,2`"
            ));
        }
        let (six_fields, minute_and_hour) = match fields.len() {
            5 => (format!("0 {}", fields.join(" ")), (fields[0], fields[1])),
            6 => (fields.join(" "), (fields[1], fields[2])),
            n => {
                return Err(format!(
                    "has {n} fields; use 5 (`min hour day month weekday`, e.g. `0 8 * * MON`) \
                     or 6 (with seconds first)"
                ));
            }
        };
        let rule = if minute_and_hour.0.starts_with('*') || minute_and_hour.1.starts_with('*') {
            DstRule::Wildcard
        } else {
            DstRule::FixedTime
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Disallowed)
            .build()
            .parse(&six_fields)
            .map_err(|e| format!("is not a valid cron pattern: {e}"))?;
        let spec = CronSpec {
            source: fields.join(" "),
            six_fields,
            cron,
            rule,
        };
        // A pattern that never matches (`0 0 31 2 *`) parses; reject it here rather than let the
        // schedule sit silently.
        let probe = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(); // 2026-01-01
        if spec.next_after(Tz::UTC, probe).is_none() {
            return Err("never matches a date".to_owned());
        }
        Ok(spec)
    }

    /// The pattern as the user wrote it (whitespace normalised).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The 6-field form, for tokio-cron-scheduler (which requires seconds).
    pub fn six_fields(&self) -> &str {
        &self.six_fields
    }

    /// Whether the job is a wildcard or a fixed-time job at DST changes.
    pub fn dst_rule(&self) -> DstRule {
        self.rule
    }

    /// The first run strictly after `after`, in `tz`.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Wall-clock times are scanned in order; a time up to a coming fall-back's length before
        // `after`'s wall clock may still have its second pass ahead.
        let mut cursor = wall(tz, after) - fall_back_after(tz, after);
        let mut inclusive = true;
        let mut best: Option<DateTime<Utc>> = None;
        let mut stop: Option<NaiveDateTime> = None;
        for _ in 0..MAX_STEPS {
            let Ok(next) = self.cron.find_next_occurrence(&cursor.and_utc(), inclusive) else {
                break;
            };
            let local = next.naive_utc();
            // A later wall-clock time runs earlier than `best` only across a fall-back.
            if stop.is_some_and(|stop| local > stop) {
                break;
            }
            for run in self.runs(tz, local).into_iter().flatten() {
                if run > after && best.is_none_or(|b| run < b) {
                    best = Some(run);
                    stop = Some(wall(tz, run) + fall_back_before(tz, run));
                }
            }
            cursor = local;
            inclusive = false;
        }
        best
    }

    /// The latest run at or before `at`, in `tz`.
    pub fn latest_at_or_before(&self, tz: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut cursor = wall(tz, at) + fall_back_before(tz, at);
        let mut inclusive = true;
        let mut best: Option<DateTime<Utc>> = None;
        let mut stop: Option<NaiveDateTime> = None;
        for _ in 0..MAX_STEPS {
            let Ok(previous) = self
                .cron
                .find_previous_occurrence(&cursor.and_utc(), inclusive)
            else {
                break;
            };
            let local = previous.naive_utc();
            if stop.is_some_and(|stop| local < stop) {
                break;
            }
            for run in self.runs(tz, local).into_iter().flatten() {
                if run <= at && best.is_none_or(|b| run > b) {
                    best = Some(run);
                    stop = Some(wall(tz, run) - fall_back_after(tz, run));
                }
            }
            cursor = local;
            inclusive = false;
        }
        best
    }

    /// The instants at which the wall-clock time `local` runs, by cron(8)'s rule.
    fn runs(&self, tz: Tz, local: NaiveDateTime) -> [Option<DateTime<Utc>>; 2] {
        match (tz.from_local_datetime(&local), self.rule) {
            (chrono::LocalResult::Single(at), _) => [Some(at.with_timezone(&Utc)), None],
            (chrono::LocalResult::Ambiguous(first, second), DstRule::Wildcard) => [
                Some(first.with_timezone(&Utc)),
                Some(second.with_timezone(&Utc)),
            ],
            (chrono::LocalResult::Ambiguous(first, _), DstRule::FixedTime) => {
                [Some(first.with_timezone(&Utc)), None]
            }
            (chrono::LocalResult::None, DstRule::Wildcard) => [None, None],
            (chrono::LocalResult::None, DstRule::FixedTime) => [first_after_gap(tz, local), None],
        }
    }
}

/// The wall-clock time at `at` in `tz`.
fn wall(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&tz).naive_local()
}

fn offset(tz: Tz, at: DateTime<Utc>) -> TimeDelta {
    TimeDelta::seconds(i64::from(
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    ))
}

/// Half-hour probes over [`LOOKAROUND`]: every DST change on record is on a quarter hour and
/// lasts at least 30 minutes, so none is missed.
fn probes() -> impl Iterator<Item = TimeDelta> {
    (1..=6).map(|k| TimeDelta::minutes(30 * k))
}

/// How far the wall clock goes back in the hours after `at` (zero without a fall-back).
fn fall_back_after(tz: Tz, at: DateTime<Utc>) -> TimeDelta {
    let now = offset(tz, at);
    probes()
        .map(|d| now - offset(tz, at + d))
        .fold(TimeDelta::zero(), TimeDelta::max)
        .min(LOOKAROUND)
}

/// How far the wall clock went back in the hours before `at` (zero without a fall-back).
fn fall_back_before(tz: Tz, at: DateTime<Utc>) -> TimeDelta {
    let now = offset(tz, at);
    probes()
        .map(|d| offset(tz, at - d) - now)
        .fold(TimeDelta::zero(), TimeDelta::max)
        .min(LOOKAROUND)
}

/// The first instant after the spring-forward gap that `local` (a time the clock skips) is in:
/// the instant of the change.
fn first_after_gap(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let mut minute = local.with_second(0)?.with_nanosecond(0)?;
    // The longest gap on record is a day (Samoa, 2011).
    for _ in 0..(26 * 60) {
        minute += TimeDelta::minutes(1);
        if let Some(at) = tz.from_local_datetime(&minute).earliest() {
            return Some(at.with_timezone(&Utc));
        }
    }
    None
}

impl fmt::Display for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("an RFC 3339 instant")
            .with_timezone(&Utc)
    }

    fn berlin() -> Tz {
        "Europe/Berlin".parse().expect("a zone")
    }

    #[test]
    fn sunday_eight_in_berlin_moves_an_hour_in_utc_across_the_october_change() {
        let spec = CronSpec::parse("0 8 * * SUN").expect("valid");
        let created = at("2026-10-24T12:00:00Z");
        let first = spec.next_after(berlin(), created).expect("a next run");
        assert_eq!(first, at("2026-10-25T07:00:00Z"));
        let second = spec.next_after(berlin(), first).expect("a next run");
        assert_eq!(second, at("2026-11-01T07:00:00Z"));
        let before = spec
            .next_after(berlin(), at("2026-10-17T12:00:00Z"))
            .expect("a next run");
        assert_eq!(before, at("2026-10-18T06:00:00Z"), "summer time: UTC+2");
    }

    #[test]
    fn a_spring_forward_day_still_fires_once_at_a_time_that_exists() {
        // 2026-03-29: Berlin skips 02:00–03:00. 08:00 exists and is UTC+2.
        let spec = CronSpec::parse("0 8 * * *").expect("valid");
        let next = spec
            .next_after(berlin(), at("2026-03-28T12:00:00Z"))
            .expect("a next run");
        assert_eq!(next, at("2026-03-29T06:00:00Z"));
    }

    #[test]
    fn the_latest_occurrence_includes_the_instant_itself() {
        let spec = CronSpec::parse("0 8 * * MON").expect("valid");
        let ny: Tz = "America/New_York".parse().expect("a zone");
        let monday_eight = at("2026-11-09T13:00:00Z");
        assert_eq!(
            spec.latest_at_or_before(ny, monday_eight),
            Some(monday_eight)
        );
        assert_eq!(
            spec.latest_at_or_before(ny, monday_eight - chrono::TimeDelta::seconds(1)),
            Some(at("2026-11-02T13:00:00Z"))
        );
    }

    #[test]
    fn five_and_six_fields_parse_and_other_counts_are_refused() {
        assert_eq!(
            CronSpec::parse("0 8 * * MON").expect("valid").six_fields(),
            "0 0 8 * * MON"
        );
        assert_eq!(
            CronSpec::parse(" * * * * * * ").expect("valid").as_str(),
            "* * * * * *"
        );
        for bad in [
            "",
            "* * * *",
            "0 0 8 * * MON 2026",
            "61 * * * *",
            "0 8 * * FUNDAY",
        ] {
            assert!(CronSpec::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let err = CronSpec::parse("0 8 * *\r\nBcc: x").expect_err("injection");
        assert!(err.contains("line break"), "{err}");
    }

    #[test]
    fn empty_list_elements_are_refused() {
        for pattern in [
            "0 1,,2 * * *",
            "0 1, * * *",
            "0 ,1 * * *",
            "0 8 * * MON,",
            "0 0 8 ,, * *",
        ] {
            let err = CronSpec::parse(pattern).expect_err(pattern);
            assert!(err.contains("empty list element"), "{pattern}: {err}");
        }
        assert!(CronSpec::parse("0 1,2 * * MON,FRI").is_ok());
    }

    #[test]
    fn a_pattern_that_never_matches_is_refused() {
        let err = CronSpec::parse("0 0 31 2 *").expect_err("no 31 February");
        assert!(err.contains("never"), "{err}");
    }
}

#[cfg(test)]
mod dst_tests;
