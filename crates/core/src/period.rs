//! Reporting periods: keys such as `2026-W45`, and their resolution to instants in a team's timezone.
//!
//! A period is half-open, `[start, end)`, from local midnight of its first day to local midnight of
//! the day after its last, in the team's IANA timezone (spec/KPIS.md, "Periods").

use std::fmt;
use std::str::FromStr;

use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::CoreError;

mod buckets;
pub use buckets::{Buckets, PeriodView, day_number};

/// The length of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl PeriodKind {
    pub const ALL: [PeriodKind; 5] = [
        PeriodKind::Day,
        PeriodKind::Week,
        PeriodKind::Month,
        PeriodKind::Quarter,
        PeriodKind::Year,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Day => "day",
            PeriodKind::Week => "week",
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
            PeriodKind::Year => "year",
        }
    }
}

impl fmt::Display for PeriodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PeriodKind {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PeriodKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| CoreError::InvalidPeriodKind(s.to_owned()))
    }
}

/// A period of some kind, named by its canonical key (`2026-W45`, `2026-11`, `2026-Q4`, `2026`,
/// `2026-11-03`). Only keys whose (ISO) year has four digits, 0000 to 9999, exist: arithmetic that
/// would leave that range stops at its edge.
///
/// Keys order by their first day, so a sorted list of one kind is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeriodKey {
    /// Always the true first day of the period (a Monday for weeks, the 1st for months...), so
    /// equality of keys is equality of this pair.
    first: NaiveDate,
    kind: PeriodKind,
}

const MIN_YEAR: i32 = 0;
const MAX_YEAR: i32 = 9999;

impl PeriodKey {
    /// Parses a canonical key; anything else is [`CoreError::InvalidPeriod`].
    pub fn parse(s: &str) -> Result<PeriodKey, CoreError> {
        parse_key(s.as_bytes()).ok_or_else(|| CoreError::InvalidPeriod(s.to_owned()))
    }

    pub fn kind(&self) -> PeriodKind {
        self.kind
    }

    /// The local calendar date the period starts on.
    pub fn first_day(&self) -> NaiveDate {
        self.first
    }

    /// The local calendar date right after the period (exclusive end).
    pub fn end_day(&self) -> NaiveDate {
        // From the index rather than through `next()`, so the last key of the range has a real end.
        first_day_of(self.kind, self.index() + 1)
    }

    /// Calendar days in the period (a DST change does not change this; it changes hours).
    pub fn days(&self) -> i64 {
        (self.end_day() - self.first).num_days()
    }

    pub fn previous(&self) -> PeriodKey {
        self.offset(-1)
    }

    pub fn next(&self) -> PeriodKey {
        self.offset(1)
    }

    /// The period `n` periods later (earlier when `n` is negative), stopping at the supported range.
    pub fn offset(&self, n: i64) -> PeriodKey {
        let (min, max) = index_bounds(self.kind);
        let index = self.index().saturating_add(n).clamp(min, max);
        PeriodKey::from_index(self.kind, index)
    }

    /// The period of `kind` that contains the local date `day`.
    pub fn containing(kind: PeriodKind, day: NaiveDate) -> PeriodKey {
        let (min, max) = index_bounds(kind);
        PeriodKey::from_index(kind, index_of(kind, day).clamp(min, max))
    }

    /// The `n` periods ending with this one, oldest first (empty when `n` is 0).
    pub fn trend(&self, n: usize) -> Vec<PeriodKey> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        (0..n).rev().map(|back| self.offset(-back)).collect()
    }

    /// The instants this period covers in `tz`.
    pub fn resolve(&self, tz: Tz) -> Period {
        Period {
            key: *self,
            start: local_midnight(self.first, tz),
            end: local_midnight(self.end_day(), tz),
        }
    }

    /// The period of `kind` that contains the instant `now` in `tz`.
    pub fn current(kind: PeriodKind, now: DateTime<Utc>, tz: Tz) -> PeriodKey {
        let mut key = PeriodKey::containing(kind, now.with_timezone(&tz).date_naive());
        // When a zone falls back across midnight, a local date and the instants of its day disagree
        // for up to an hour; the resolved bounds are the contract, so settle on them.
        for _ in 0..2 {
            let period = key.resolve(tz);
            if now >= period.end {
                key = key.next();
            } else if now < period.start {
                key = key.previous();
            } else {
                break;
            }
        }
        key
    }

    /// The latest period of `kind` that has ended by `now` in `tz`: on Monday 08:00 that is the
    /// week from the previous Monday to Sunday.
    pub fn last_complete(kind: PeriodKind, now: DateTime<Utc>, tz: Tz) -> PeriodKey {
        PeriodKey::current(kind, now, tz).previous()
    }

    fn index(&self) -> i64 {
        index_of(self.kind, self.first)
    }

    /// Callers pass an index within [`index_bounds`].
    fn from_index(kind: PeriodKind, index: i64) -> PeriodKey {
        PeriodKey {
            first: first_day_of(kind, index),
            kind,
        }
    }
}

/// A running number of the periods of `kind`: consecutive periods have consecutive numbers. This is
/// the number of the period containing `day`.
fn index_of(kind: PeriodKind, day: NaiveDate) -> i64 {
    match kind {
        PeriodKind::Day => i64::from(day.num_days_from_ce()),
        PeriodKind::Week => {
            week_index(day - Days::new(u64::from(day.weekday().num_days_from_monday())))
        }
        PeriodKind::Month => i64::from(day.year()) * 12 + i64::from(day.month0()),
        PeriodKind::Quarter => i64::from(day.year()) * 4 + i64::from(day.month0() / 3),
        PeriodKind::Year => i64::from(day.year()),
    }
}

/// 0001-01-01 is day 1 of the common era, so Mondays are 1 modulo 7.
fn week_index(monday: NaiveDate) -> i64 {
    (i64::from(monday.num_days_from_ce()) - 1).div_euclid(7)
}

/// The first day of the period of `kind` with running number `index`. Indices a little outside the
/// supported range (its end day) are fine: chrono's dates reach far beyond year 9999.
fn first_day_of(kind: PeriodKind, index: i64) -> NaiveDate {
    let date = match kind {
        PeriodKind::Day => i32::try_from(index)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt),
        PeriodKind::Week => i32::try_from(index * 7 + 1)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt),
        PeriodKind::Month => ymd(index.div_euclid(12), index.rem_euclid(12) + 1),
        PeriodKind::Quarter => ymd(index.div_euclid(4), index.rem_euclid(4) * 3 + 1),
        PeriodKind::Year => ymd(index, 1),
    };
    // Unreachable for indices near the supported range; the range's first day keeps this total.
    date.unwrap_or(NaiveDate::MIN)
}

fn ymd(year: i64, month: i64) -> Option<NaiveDate> {
    let year = i32::try_from(year).ok()?;
    let month = u32::try_from(month).ok()?;
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn index_bounds(kind: PeriodKind) -> (i64, i64) {
    let min = NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1);
    let max = NaiveDate::from_ymd_opt(MAX_YEAR, 12, 31);
    let (Some(min), Some(max)) = (min, max) else {
        return (0, 0);
    };
    match kind {
        PeriodKind::Week => {
            // The week range follows ISO years, which do not start on 1 January.
            let first = NaiveDate::from_isoywd_opt(MIN_YEAR, 1, chrono::Weekday::Mon);
            let last = NaiveDate::from_isoywd_opt(MAX_YEAR, 53, chrono::Weekday::Mon)
                .or_else(|| NaiveDate::from_isoywd_opt(MAX_YEAR, 52, chrono::Weekday::Mon));
            match (first, last) {
                (Some(first), Some(last)) => (week_index(first), week_index(last)),
                _ => (0, 0),
            }
        }
        _ => (index_of(kind, min), index_of(kind, max)),
    }
}

fn number(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0')),
    )
}

fn parse_key(s: &[u8]) -> Option<PeriodKey> {
    let year = i32::try_from(number(s.get(..4)?)?).ok()?;
    let rest = &s[4..];
    let (first, kind) = match rest {
        [] => (NaiveDate::from_ymd_opt(year, 1, 1)?, PeriodKind::Year),
        [b'-', b'Q', q] => {
            let q = number(&[*q])?;
            if !(1..=4).contains(&q) {
                return None;
            }
            (
                NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1)?,
                PeriodKind::Quarter,
            )
        }
        [b'-', b'W', w @ ..] if w.len() == 2 => {
            // from_isoywd_opt rejects week 53 in years that have only 52.
            let week = number(w)?;
            (
                NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon)?,
                PeriodKind::Week,
            )
        }
        [b'-', m @ ..] if m.len() == 2 => (
            NaiveDate::from_ymd_opt(year, number(m)?, 1)?,
            PeriodKind::Month,
        ),
        [b'-', m1, m2, b'-', d @ ..] if d.len() == 2 => (
            NaiveDate::from_ymd_opt(year, number(&[*m1, *m2])?, number(d)?)?,
            PeriodKind::Day,
        ),
        _ => return None,
    };
    Some(PeriodKey { first, kind })
}

impl fmt::Display for PeriodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.first;
        match self.kind {
            PeriodKind::Day => write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
            PeriodKind::Week => {
                let week = d.iso_week();
                write!(f, "{:04}-W{:02}", week.year(), week.week())
            }
            PeriodKind::Month => write!(f, "{:04}-{:02}", d.year(), d.month()),
            PeriodKind::Quarter => write!(f, "{:04}-Q{}", d.year(), d.month0() / 3 + 1),
            PeriodKind::Year => write!(f, "{:04}", d.year()),
        }
    }
}

impl FromStr for PeriodKey {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PeriodKey::parse(s)
    }
}

impl Serialize for PeriodKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PeriodKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        PeriodKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A period resolved to instants: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    pub key: PeriodKey,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Period {
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        self.start <= instant && instant < self.end
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Period", 3)?;
        s.serialize_field("key", &self.key)?;
        s.serialize_field("start", &rfc3339(self.start))?;
        s.serialize_field("end", &rfc3339(self.end))?;
        s.end()
    }
}

/// The API's timestamp form: RFC 3339 in UTC with whole seconds, `2026-11-02T05:00:00Z`.
pub fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The instant local midnight of `day` happens in `tz`. Where a DST change skips midnight, the day
/// starts at the first instant that exists after it; where midnight happens twice, at the first.
pub fn local_midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => first.min(second).with_timezone(&Utc),
        LocalResult::None => first_instant_from(midnight, tz),
    }
}

/// The earliest instant whose local time in `tz` is at or after `local`, by bisection over a window
/// wide enough for any UTC offset (all are within ±16 hours).
fn first_instant_from(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    let window = chrono::TimeDelta::hours(16);
    let reached = |at: NaiveDateTime| tz.from_utc_datetime(&at).naive_local() >= local;
    let mut low = local - window; // local time there is before `local`
    let mut high = local + window; // local time there is after `local`
    while (high - low) > chrono::TimeDelta::seconds(1) {
        let mid = low + (high - low) / 2;
        if reached(mid) {
            high = mid;
        } else {
            low = mid;
        }
    }
    high.and_utc()
}

/// A team's IANA timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timezone(pub Tz);

impl Timezone {
    pub fn parse(s: &str) -> Result<Timezone, CoreError> {
        s.parse::<Tz>()
            .map(Timezone)
            .map_err(|_| CoreError::InvalidTimezone(s.to_owned()))
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl Default for Timezone {
    fn default() -> Self {
        Timezone(Tz::UTC)
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl FromStr for Timezone {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timezone::parse(s)
    }
}

impl Serialize for Timezone {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for Timezone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Timezone::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(s: &str) -> PeriodKey {
        PeriodKey::parse(s).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn instant(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn hours(period: &Period) -> i64 {
        (period.end - period.start).num_hours()
    }

    const NEW_YORK: Tz = chrono_tz::America::New_York;
    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    #[test]
    fn a_week_across_the_us_end_of_dst_has_169_hours() {
        // DST ends on Sunday 2026-11-01, the last day of ISO week 44.
        let week = key("2026-W44").resolve(NEW_YORK);
        assert_eq!(hours(&week), 169);
        assert_eq!(week.start, instant("2026-10-26T04:00:00Z"));
        assert_eq!(week.end, instant("2026-11-02T05:00:00Z"));
    }

    #[test]
    fn a_week_across_the_us_start_of_dst_has_167_hours() {
        // DST starts on Sunday 2026-03-08, the last day of ISO week 10.
        let week = key("2026-W10").resolve(NEW_YORK);
        assert_eq!(hours(&week), 167);
        assert_eq!(week.key.first_day(), day("2026-03-02"));
    }

    #[test]
    fn a_week_without_a_dst_change_has_168_hours() {
        assert_eq!(hours(&key("2026-W45").resolve(NEW_YORK)), 168);
    }

    #[test]
    fn week_45_of_2026_in_new_york_is_resolved_at_local_midnight() {
        let week = key("2026-W45").resolve(NEW_YORK);
        assert_eq!(week.start, instant("2026-11-02T05:00:00Z"));
        assert_eq!(week.end, instant("2026-11-09T05:00:00Z"));
        assert_eq!(
            key("2026-W44").resolve(NEW_YORK).start,
            instant("2026-10-26T04:00:00Z")
        );
    }

    #[test]
    fn a_period_serializes_with_its_key_and_utc_second_timestamps() {
        let json = serde_json::to_value(key("2026-W45").resolve(NEW_YORK)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "key": "2026-W45",
                "start": "2026-11-02T05:00:00Z",
                "end": "2026-11-09T05:00:00Z"
            })
        );
    }

    #[test]
    fn years_with_53_iso_weeks_accept_week_53() {
        for year in ["2020", "2026"] {
            let week = key(&format!("{year}-W53"));
            assert_eq!(week.to_string(), format!("{year}-W53"));
            assert_eq!(
                week.next().to_string(),
                format!("{}-W01", year.parse::<i32>().unwrap() + 1)
            );
        }
        assert_eq!(key("2026-W53").first_day(), day("2026-12-28"));
    }

    #[test]
    fn week_53_is_rejected_in_a_year_with_52_weeks() {
        assert!(PeriodKey::parse("2025-W53").is_err());
        assert!(PeriodKey::parse("2021-W53").is_err());
    }

    #[test]
    fn week_1_of_2026_starts_on_monday_29_december_2025() {
        let week = key("2026-W01");
        assert_eq!(week.first_day(), day("2025-12-29"));
        assert_eq!(week.end_day(), day("2026-01-05"));
        assert_eq!(week.days(), 7);
    }

    #[test]
    fn previous_crosses_year_edges_for_every_kind() {
        assert_eq!(key("2026-Q1").previous(), key("2025-Q4"));
        assert_eq!(key("2026-01").previous(), key("2025-12"));
        assert_eq!(key("2026-W01").previous(), key("2025-W52"));
        assert_eq!(key("2026-01-01").previous(), key("2025-12-31"));
        assert_eq!(key("2026").previous(), key("2025"));
        assert_eq!(key("2025-Q4").next(), key("2026-Q1"));
        assert_eq!(key("2025-12-31").next(), key("2026-01-01"));
    }

    #[test]
    fn quarter_and_year_bounds_are_their_calendar_edges() {
        let q4 = key("2026-Q4");
        assert_eq!(q4.first_day(), day("2026-10-01"));
        assert_eq!(q4.end_day(), day("2027-01-01"));
        assert_eq!(q4.days(), 92);
        assert_eq!(key("2024").days(), 366);
        assert_eq!(key("2026-02").days(), 28);
        assert_eq!(key("2028-02").days(), 29);
    }

    #[test]
    fn offset_moves_by_whole_periods_both_ways() {
        assert_eq!(key("2026-11").offset(-11), key("2025-12"));
        assert_eq!(key("2026-11").offset(14), key("2028-01"));
        assert_eq!(key("2026-W45").offset(-45), key("2025-W52"));
        assert_eq!(key("2026-11-03").offset(0), key("2026-11-03"));
        assert_eq!(key("2026-Q4").offset(-8), key("2024-Q4"));
    }

    #[test]
    fn offset_stops_at_the_edge_of_four_digit_years() {
        assert_eq!(key("9999-12").next(), key("9999-12"));
        assert_eq!(key("0000").previous(), key("0000"));
        assert_eq!(key("2026-11-03").offset(i64::MAX).to_string(), "9999-12-31");
        assert_eq!(
            key("9999-12-31").end_day(),
            day("9999-12-31").succ_opt().unwrap()
        );
    }

    #[test]
    fn containing_finds_the_period_of_a_day_for_every_kind() {
        let d = day("2026-11-04");
        assert_eq!(PeriodKey::containing(PeriodKind::Day, d), key("2026-11-04"));
        assert_eq!(PeriodKey::containing(PeriodKind::Week, d), key("2026-W45"));
        assert_eq!(PeriodKey::containing(PeriodKind::Month, d), key("2026-11"));
        assert_eq!(
            PeriodKey::containing(PeriodKind::Quarter, d),
            key("2026-Q4")
        );
        assert_eq!(PeriodKey::containing(PeriodKind::Year, d), key("2026"));
        // 1 January 2027 is a Friday, still in ISO week 53 of 2026.
        assert_eq!(
            PeriodKey::containing(PeriodKind::Week, day("2027-01-01")),
            key("2026-W53")
        );
    }

    #[test]
    fn trend_lists_the_periods_ending_with_this_one_oldest_first() {
        let keys: Vec<String> = key("2026-02")
            .trend(4)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(keys, ["2025-11", "2025-12", "2026-01", "2026-02"]);
        assert_eq!(key("2026-W45").trend(1), vec![key("2026-W45")]);
        assert!(key("2026-W45").trend(0).is_empty());
    }

    #[test]
    fn a_day_in_kolkata_starts_at_half_past_six_utc_the_day_before() {
        let d = key("2026-11-03").resolve(chrono_tz::Asia::Kolkata);
        assert_eq!(d.start, instant("2026-11-02T18:30:00Z"));
        assert_eq!(d.end, instant("2026-11-03T18:30:00Z"));
    }

    #[test]
    fn dst_days_are_23_and_25_hours_long() {
        assert_eq!(hours(&key("2026-03-08").resolve(NEW_YORK)), 23);
        assert_eq!(hours(&key("2026-11-01").resolve(NEW_YORK)), 25);
        assert_eq!(hours(&key("2026-11-02").resolve(NEW_YORK)), 24);
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_when_the_clock_jumps() {
        // Chile springs forward from 00:00 (-04) to 01:00 (-03) on 2026-09-06.
        let skipped = |d: &str, tz: Tz| {
            matches!(
                tz.from_local_datetime(&day(d).and_time(chrono::NaiveTime::MIN)),
                LocalResult::None
            )
        };
        assert!(skipped("2026-09-06", chrono_tz::America::Santiago));
        assert!(skipped("2018-11-04", chrono_tz::America::Sao_Paulo));
        let santiago = key("2026-09-06").resolve(chrono_tz::America::Santiago);
        assert_eq!(santiago.start, instant("2026-09-06T04:00:00Z"));
        assert_eq!(hours(&santiago), 23);
        // Brazil did the same on 2018-11-04.
        let sao_paulo = key("2018-11-04").resolve(chrono_tz::America::Sao_Paulo);
        assert_eq!(sao_paulo.start, instant("2018-11-04T03:00:00Z"));
        assert_eq!(
            key("2018-11-03").resolve(chrono_tz::America::Sao_Paulo).end,
            sao_paulo.start
        );
    }

    #[test]
    fn a_midnight_that_happens_twice_starts_the_day_at_the_first() {
        // Cuba falls back from 01:00 (-04) to 00:00 (-05) on 2026-11-01.
        let havana = chrono_tz::America::Havana;
        assert_eq!(
            local_midnight(day("2026-11-01"), havana),
            instant("2026-11-01T04:00:00Z")
        );
        assert_eq!(hours(&key("2026-11-01").resolve(havana)), 25);
    }

    #[test]
    fn last_complete_week_on_monday_morning_in_berlin_is_the_previous_week() {
        // Monday 2026-11-09 08:00 in Berlin (CET, +01:00).
        let now = instant("2026-11-09T07:00:00Z");
        assert_eq!(
            PeriodKey::last_complete(PeriodKind::Week, now, BERLIN),
            key("2026-W45")
        );
        assert_eq!(
            PeriodKey::current(PeriodKind::Week, now, BERLIN),
            key("2026-W46")
        );
        // Sunday 23:30 in Berlin is still inside week 45.
        let sunday = instant("2026-11-08T22:30:00Z");
        assert_eq!(
            PeriodKey::last_complete(PeriodKind::Week, sunday, BERLIN),
            key("2026-W44")
        );
    }

    #[test]
    fn last_complete_month_follows_the_local_calendar_not_utc() {
        // 00:30 on 1 December in Berlin is still 30 November in UTC.
        let now = instant("2026-11-30T23:30:00Z");
        assert_eq!(
            PeriodKey::last_complete(PeriodKind::Month, now, BERLIN),
            key("2026-11")
        );
        assert_eq!(
            PeriodKey::last_complete(PeriodKind::Month, now, Tz::UTC),
            key("2026-10")
        );
    }

    #[test]
    fn a_period_ending_exactly_now_is_complete() {
        let now = key("2026-W45").resolve(NEW_YORK).end;
        assert_eq!(
            PeriodKey::last_complete(PeriodKind::Week, now, NEW_YORK),
            key("2026-W45")
        );
        let before = now - chrono::TimeDelta::seconds(1);
        assert_eq!(
            PeriodKey::last_complete(PeriodKind::Week, before, NEW_YORK),
            key("2026-W44")
        );
    }

    #[test]
    fn current_agrees_with_resolved_bounds_when_clocks_fall_back_over_midnight() {
        // Havana: 00:30 (-05) on 2026-11-01 is after the day's start, although its local date
        // sequence passed through midnight twice.
        let havana = chrono_tz::America::Havana;
        for minutes in [0, 30, 59, 60, 61, 24 * 60 + 59] {
            let now = instant("2026-11-01T04:00:00Z") + chrono::TimeDelta::minutes(minutes);
            let current = PeriodKey::current(PeriodKind::Day, now, havana);
            assert!(current.resolve(havana).contains(now), "{now} in {current}");
        }
    }

    #[test]
    fn invalid_keys_are_rejected_with_the_accepted_forms() {
        for bad in [
            "2026-W60",
            "2026-W00",
            "2026-13",
            "2026-00",
            "2026-Q5",
            "2026-Q0",
            "26",
            "2026-11-31",
            "",
            "2026-w45",
            "2026-1",
            "2026-11-3",
            " 2026",
            "+2026",
            "20261",
            "2026-W4",
            "2026/11",
            "2026-11-03T00:00",
            "２０２６",
        ] {
            let error = PeriodKey::parse(bad).expect_err(bad);
            assert_eq!(error, CoreError::InvalidPeriod(bad.to_owned()));
            let message = error.to_string();
            for form in ["2026-11-03", "2026-W45", "2026-11", "2026-Q4", "2026"] {
                assert!(message.contains(form), "{message}");
            }
        }
    }

    #[test]
    fn keys_of_every_kind_round_trip_through_display_and_serde() {
        for (text, kind) in [
            ("2026-11-03", PeriodKind::Day),
            ("2026-W45", PeriodKind::Week),
            ("2026-W01", PeriodKind::Week),
            ("2026-11", PeriodKind::Month),
            ("2026-Q4", PeriodKind::Quarter),
            ("2026", PeriodKind::Year),
            ("0000-01-01", PeriodKind::Day),
            ("9999-W52", PeriodKind::Week),
        ] {
            let parsed = key(text);
            assert_eq!(parsed.kind(), kind);
            assert_eq!(parsed.to_string(), text);
            let json = serde_json::to_string(&parsed).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<PeriodKey>(&json).unwrap(), parsed);
        }
        assert!(serde_json::from_str::<PeriodKey>("\"2026-W60\"").is_err());
    }

    #[test]
    fn period_kinds_parse_and_print_in_lowercase() {
        for kind in PeriodKind::ALL {
            assert_eq!(kind.to_string().parse::<PeriodKind>().unwrap(), kind);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        assert_eq!(
            "quarter".parse::<PeriodKind>().unwrap(),
            PeriodKind::Quarter
        );
        assert!("Week".parse::<PeriodKind>().is_err());
    }

    #[test]
    fn keys_sort_chronologically() {
        let mut keys = vec![key("2026-W45"), key("2025-W52"), key("2026-W01")];
        keys.sort();
        assert_eq!(
            keys,
            vec![key("2025-W52"), key("2026-W01"), key("2026-W45")]
        );
    }

    #[test]
    fn timezones_parse_iana_names_and_default_to_utc() {
        let tz = Timezone::parse("America/New_York").unwrap();
        assert_eq!(tz.0, NEW_YORK);
        assert_eq!(tz.to_string(), "America/New_York");
        assert_eq!(serde_json::to_string(&tz).unwrap(), "\"America/New_York\"");
        assert_eq!(
            serde_json::from_str::<Timezone>("\"Europe/Berlin\"")
                .unwrap()
                .0,
            BERLIN
        );
        assert_eq!(Timezone::default().to_string(), "UTC");
        let error = Timezone::parse("Mars/Olympus").unwrap_err();
        assert_eq!(error, CoreError::InvalidTimezone("Mars/Olympus".to_owned()));
        assert!(serde_json::from_str::<Timezone>("\"Europe/Nowhere\"").is_err());
    }
}
