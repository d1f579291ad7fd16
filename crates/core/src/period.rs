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
mod compare;
pub use buckets::{Buckets, PeriodView, Progress, day_number};
pub use compare::{Asked, Compare, Comparison};

/// The length of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    Day,
    Week,
    Month,
    Quarter,
    Year,
    /// Any run of whole local days: a custom range (`2026-11-03..2026-11-16`) or a rolling window
    /// (`last-28d`). Not a kind reports or schedules repeat on, so not in [`PeriodKind::ALL`].
    Range,
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
            PeriodKind::Range => "range",
        }
    }

    /// What one of these periods is called in prose: `2.6 weeks`, `vs the previous period`.
    pub fn noun(self) -> &'static str {
        match self {
            PeriodKind::Range => "period",
            kind => kind.as_str(),
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
/// `2026-11-03`, or a range of local days `2026-11-03..2026-11-16`, both included). Only keys whose
/// (ISO) year has four digits, 0000 to 9999, exist: arithmetic that would leave that range stops at
/// its edge.
///
/// Keys order by their first day, so a sorted list of one kind is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeriodKey {
    /// Always the true first day of the period (a Monday for weeks, the 1st for months...).
    first: NaiveDate,
    /// The day after its last: fixed by `first` for calendar kinds, chosen for a range.
    end: NaiveDate,
    kind: PeriodKind,
}

const MIN_YEAR: i32 = 0;
const MAX_YEAR: i32 = 9999;

/// The longest range a request may read: three years of days.
pub const MAX_RANGE_DAYS: i64 = 3 * 366;

impl PeriodKey {
    /// Parses a canonical key; anything else is [`CoreError::InvalidPeriod`].
    pub fn parse(s: &str) -> Result<PeriodKey, CoreError> {
        if let Some((first, last)) = s.split_once("..") {
            let day = |d: &str| match parse_key(d.as_bytes()) {
                Some(k) if k.kind == PeriodKind::Day => Ok(k.first),
                _ => Err(CoreError::InvalidPeriod(s.to_owned())),
            };
            return PeriodKey::range(day(first)?, day(last)?);
        }
        parse_key(s.as_bytes()).ok_or_else(|| CoreError::InvalidPeriod(s.to_owned()))
    }

    /// The local days from `first` to `last`, both included: at least one day, at most
    /// [`MAX_RANGE_DAYS`], within the supported years.
    pub fn range(first: NaiveDate, last: NaiveDate) -> Result<PeriodKey, CoreError> {
        let text = || format!("{first}..{last}");
        if last < first {
            return Err(CoreError::RangeBackwards(text()));
        }
        let end = last
            .succ_opt()
            .filter(|_| last.year() <= MAX_YEAR && first.year() >= MIN_YEAR);
        let Some(end) = end else {
            return Err(CoreError::InvalidPeriod(text()));
        };
        if (end - first).num_days() > MAX_RANGE_DAYS {
            return Err(CoreError::RangeTooLong(text()));
        }
        Ok(PeriodKey {
            first,
            end,
            kind: PeriodKind::Range,
        })
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
        self.end
    }

    /// The local calendar date of its last day.
    pub fn last_day(&self) -> NaiveDate {
        self.end.pred_opt().unwrap_or(self.first)
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
    /// A range moves by its own length.
    pub fn offset(&self, n: i64) -> PeriodKey {
        if self.kind == PeriodKind::Range {
            return self.shifted(n);
        }
        let (min, max) = index_bounds(self.kind);
        let index = self.index().saturating_add(n).clamp(min, max);
        PeriodKey::from_index(self.kind, index)
    }

    /// The period of `kind` that contains the local date `day` (for [`PeriodKind::Range`], the
    /// range of that one day).
    pub fn containing(kind: PeriodKind, day: NaiveDate) -> PeriodKey {
        if kind == PeriodKind::Range {
            let day = PeriodKey::containing(PeriodKind::Day, day);
            return PeriodKey::range(day.first, day.first).unwrap_or(day);
        }
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

    /// Callers pass a calendar kind and an index within [`index_bounds`].
    fn from_index(kind: PeriodKind, index: i64) -> PeriodKey {
        PeriodKey {
            first: first_day_of(kind, index),
            // From the index rather than through `next()`, so the last key of the range has a
            // real end.
            end: first_day_of(kind, index + 1),
            kind,
        }
    }

    /// A range moved by `n` times its length, stopping at the supported years.
    fn shifted(&self, n: i64) -> PeriodKey {
        let len = self.days();
        let min = NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1).unwrap_or(NaiveDate::MIN);
        let max = NaiveDate::from_ymd_opt(MAX_YEAR, 12, 31).unwrap_or(NaiveDate::MAX);
        let lowest = i64::from(min.num_days_from_ce());
        let highest = i64::from(max.num_days_from_ce()) - len + 1;
        let first = i64::from(self.first.num_days_from_ce())
            .saturating_add(n.saturating_mul(len))
            .clamp(lowest, highest.max(lowest));
        let first = i32::try_from(first)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .unwrap_or(self.first);
        let end = first + Days::new(u64::try_from(len).unwrap_or(1));
        PeriodKey {
            first,
            end,
            kind: PeriodKind::Range,
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
        // Ranges have no running numbers; they move by their length (`PeriodKey::shifted`).
        PeriodKind::Range => i64::from(day.num_days_from_ce()),
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
        PeriodKind::Range => i32::try_from(index)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt),
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
    Some(PeriodKey::from_index(kind, index_of(kind, first)))
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
            PeriodKind::Range => {
                let l = self.last_day();
                write!(
                    f,
                    "{:04}-{:02}-{:02}..{:04}-{:02}-{:02}",
                    d.year(),
                    d.month(),
                    d.day(),
                    l.year(),
                    l.month(),
                    l.day()
                )
            }
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
mod tests;
