//! What a period is compared with, and how far it is read: the previous period, the same period
//! a year earlier, or nothing; all of it, or its first days up to a date (to date).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{PeriodKey, PeriodKind};
use crate::CoreError;

/// What a period is compared with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compare {
    /// The period just before (the same first days of it, for a period read to date).
    #[default]
    Previous,
    /// The same period one year earlier.
    Year,
    /// No comparison: previous values and changes are null.
    None,
}

impl Compare {
    pub const ALL: [Compare; 3] = [Compare::Previous, Compare::Year, Compare::None];

    pub fn parse(s: &str) -> Result<Compare, CoreError> {
        Compare::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| CoreError::InvalidCompare(s.to_owned()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compare::Previous => "previous",
            Compare::Year => "year",
            Compare::None => "none",
        }
    }

    /// The period `key` is compared with (`None` for [`Compare::None`]).
    pub fn of(self, key: PeriodKey) -> Option<PeriodKey> {
        match self {
            Compare::Previous => Some(key.previous()),
            Compare::Year => key.year_earlier(),
            Compare::None => None,
        }
    }

    /// `count` periods ending with `key`, each the comparison of the next, oldest first (fewer
    /// when they would leave the supported years).
    pub fn chain(self, key: PeriodKey, count: usize) -> Vec<PeriodKey> {
        let step = match self {
            Compare::Year => Compare::Year,
            Compare::Previous | Compare::None => Compare::Previous,
        };
        let mut keys = vec![key];
        while keys.len() < count {
            match keys.last().and_then(|k| step.of(*k)) {
                Some(earlier) if earlier < keys[keys.len() - 1] => keys.push(earlier),
                _ => break,
            }
        }
        keys.reverse();
        keys
    }
}

impl fmt::Display for Compare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a request reads its period: what it is compared with, and the last day read when it is
/// read to date (`to`, included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Comparison {
    pub compare: Compare,
    pub to: Option<NaiveDate>,
}

/// A period as a request asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    pub period: PeriodKey,
    pub comparison: Comparison,
}

/// `s` trimmed, `None` when absent or empty.
fn given(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl Asked {
    /// `period` (a key or a range `A..B`; `wtd`/`mtd`/`qtd`/`ytd`: the current week, month,
    /// quarter or year through today; `last-Nd`/`last-Nw`/`last-Nm`: the N days, weeks or months
    /// ending with yesterday, or with `to`; absent or empty: `default`), `compare` (`previous`,
    /// `year`, `none`) and `to` (`YYYY-MM-DD`, a day of the period, read through it), at `now`
    /// in `tz`.
    pub fn parse(
        period: Option<&str>,
        compare: Option<&str>,
        to: Option<&str>,
        default: PeriodKey,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> Result<Asked, CoreError> {
        let today = now.with_timezone(&tz).date_naive();
        let to = given(to)
            .map(|t| {
                NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .map_err(|_| CoreError::InvalidTo(t.to_owned()))
            })
            .transpose()?;
        let compare = given(compare)
            .map(Compare::parse)
            .transpose()?
            .unwrap_or_default();
        if let Some(window) = given(period).and_then(|p| {
            // A rolling window ends with `to` (included), else with yesterday.
            let end = to.and_then(|t| t.succ_opt()).unwrap_or(today);
            rolling(p, end)
        }) {
            let key = window?;
            check_year_compare(key, compare)?;
            return Ok(Asked {
                period: key,
                comparison: Comparison { compare, to: None },
            });
        }
        let (key, mut to_day) = match given(period) {
            None => (default, None),
            Some(alias @ ("wtd" | "mtd" | "qtd" | "ytd")) => {
                let kind = match alias {
                    "wtd" => PeriodKind::Week,
                    "mtd" => PeriodKind::Month,
                    "qtd" => PeriodKind::Quarter,
                    _ => PeriodKind::Year,
                };
                (PeriodKey::containing(kind, today), Some(today))
            }
            Some(p) => (PeriodKey::parse(p)?, None),
        };
        if to.is_some() {
            to_day = to;
        }
        let comparison = Comparison {
            compare,
            to: to_day,
        };
        comparison.elapsed_to(key)?;
        check_year_compare(key, compare)?;
        Ok(Asked {
            period: key,
            comparison,
        })
    }
}

/// A range longer than a year overlaps the same dates a year earlier: refused rather than
/// counting days twice.
fn check_year_compare(key: PeriodKey, compare: Compare) -> Result<(), CoreError> {
    let overlaps = key
        .year_earlier()
        .is_some_and(|earlier| earlier.end_day() > key.first_day());
    if compare == Compare::Year && overlaps {
        return Err(CoreError::YearCompareOverlaps(key.to_string()));
    }
    Ok(())
}

impl Comparison {
    /// The whole days of `key` read: up to `to` when given (it must fall inside the period).
    pub fn elapsed_to(&self, key: PeriodKey) -> Result<Option<i64>, CoreError> {
        let Some(to) = self.to else {
            return Ok(None);
        };
        if to < key.first_day() || to >= key.end_day() {
            return Err(CoreError::ToOutsidePeriod {
                to: to.to_string(),
                period: key.to_string(),
            });
        }
        Ok(Some((to - key.first_day()).num_days() + 1))
    }
}

impl PeriodKey {
    /// The same period one year earlier: `2026-11` → `2025-11`, `2026-Q4` → `2025-Q4`,
    /// `2028-02-29` → `2027-02-28`, `2026-W45` → `2025-W45` (week 53 → week 52 when the earlier
    /// ISO year has none). `None` before the first supported year.
    pub fn year_earlier(&self) -> Option<PeriodKey> {
        let first = self.first_day();
        if self.kind() == PeriodKind::Range {
            // The same dates a year earlier, Feb 29 read as Feb 28.
            let (first, last) = (a_year_before(first)?, a_year_before(self.last_day())?);
            return PeriodKey::range(first, last).ok().filter(|k| k < self);
        }
        let first = match self.kind() {
            PeriodKind::Week => {
                let week = first.iso_week();
                let year = week.year() - 1;
                NaiveDate::from_isoywd_opt(year, week.week(), chrono::Weekday::Mon)
                    .or_else(|| NaiveDate::from_isoywd_opt(year, 52, chrono::Weekday::Mon))?
            }
            _ => a_year_before(first)?,
        };
        let key = PeriodKey::containing(self.kind(), first);
        (key < *self && first.year() >= super::MIN_YEAR).then_some(key)
    }
}

/// The same date a year earlier (Feb 29 → Feb 28).
fn a_year_before(day: NaiveDate) -> Option<NaiveDate> {
    day.with_year(day.year() - 1)
        .or_else(|| NaiveDate::from_ymd_opt(day.year() - 1, day.month(), 28))
}

/// The days before `end` that a rolling window `last-N{d,w,m}` covers: N days, N×7 days, or from
/// the same day of the month N months earlier (clamped to a shorter month). `None` when `spec`
/// is not a rolling window.
fn rolling(spec: &str, end: NaiveDate) -> Option<Result<PeriodKey, CoreError>> {
    let rest = spec.strip_prefix("last-")?;
    let invalid = || Err(CoreError::InvalidPeriod(spec.to_owned()));
    let unit = rest.chars().last()?;
    let n: u32 = match rest[..rest.len() - unit.len_utf8()].parse() {
        Ok(n) if n > 0 => n,
        _ => return Some(invalid()),
    };
    let days = |d: u64| end.checked_sub_days(chrono::Days::new(d));
    let first = match unit {
        'd' => days(u64::from(n)),
        'w' => days(u64::from(n) * 7),
        'm' => end.checked_sub_months(chrono::Months::new(n)),
        _ => return Some(invalid()),
    };
    let (Some(first), Some(last)) = (first, end.pred_opt()) else {
        return Some(invalid());
    };
    Some(PeriodKey::range(first, last).map_err(|e| match e {
        CoreError::RangeTooLong(_) => CoreError::RangeTooLong(spec.to_owned()),
        other => other,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> PeriodKey {
        PeriodKey::parse(s).expect("a key")
    }

    #[test]
    fn a_year_earlier_is_the_same_period_of_the_year_before() {
        let cases = [
            ("2026-11", "2025-11"),
            ("2026-Q4", "2025-Q4"),
            ("2026", "2025"),
            ("2026-11-03", "2025-11-03"),
            ("2028-02-29", "2027-02-28"),
            ("2026-W45", "2025-W45"),
            ("2026-W53", "2025-W52"),
            ("2021-W01", "2020-W01"),
        ];
        for (now, then) in cases {
            assert_eq!(key(now).year_earlier(), Some(key(then)), "{now}");
        }
        assert_eq!(key("0000-05").year_earlier(), None);
    }

    #[test]
    fn a_chain_steps_by_the_comparison() {
        let keys = |c: Compare, k: &str| -> Vec<String> {
            c.chain(key(k), 3).iter().map(|k| k.to_string()).collect()
        };
        assert_eq!(
            keys(Compare::Previous, "2026-11"),
            ["2026-09", "2026-10", "2026-11"]
        );
        assert_eq!(
            keys(Compare::Year, "2026-W45"),
            ["2024-W45", "2025-W45", "2026-W45"]
        );
        assert_eq!(
            keys(Compare::Year, "0001-03").len(),
            2,
            "no year before 0000"
        );
    }

    #[test]
    fn periods_to_date_end_today_in_the_teams_zone() {
        let now: DateTime<Utc> = "2026-11-18T03:00:00Z".parse().expect("an instant");
        let ny = chrono_tz::America::New_York; // still Nov 17 there
        let default = key("2026-W46");
        let asked = |p: &str, to: Option<&str>| {
            Asked::parse(Some(p), None, to, default, now, ny)
                .map(|a| (a.period.to_string(), a.comparison.to.map(|d| d.to_string())))
        };
        assert_eq!(
            asked("mtd", None),
            Ok(("2026-11".into(), Some("2026-11-17".into())))
        );
        assert_eq!(
            asked("wtd", None),
            Ok(("2026-W47".into(), Some("2026-11-17".into())))
        );
        assert_eq!(
            asked("qtd", None),
            Ok(("2026-Q4".into(), Some("2026-11-17".into())))
        );
        assert_eq!(
            asked("ytd", None),
            Ok(("2026".into(), Some("2026-11-17".into())))
        );
        assert_eq!(
            asked("2026-10", Some("2026-10-18")),
            Ok(("2026-10".into(), Some("2026-10-18".into())))
        );
        let e = asked("2026-10", Some("2026-11-18")).expect_err("outside");
        assert_eq!(e.field(), Some("to"));
        let e = asked("2026-10", Some("18 Oct")).expect_err("not a date");
        assert_eq!(e.field(), Some("to"));
        let e = Asked::parse(Some("2026-10"), Some("yoy"), None, default, now, ny)
            .expect_err("no such comparison");
        assert_eq!(e.field(), Some("compare"));
        let plain = Asked::parse(None, Some(" "), None, default, now, ny).expect("defaults");
        assert_eq!(plain.period, default);
        assert_eq!(plain.comparison, Comparison::default());
    }

    #[test]
    fn to_must_fall_inside_the_period() {
        let c = |to: &str| Comparison {
            compare: Compare::Previous,
            to: Some(to.parse().expect("a date")),
        };
        assert_eq!(c("2026-11-18").elapsed_to(key("2026-11")), Ok(Some(18)));
        assert_eq!(c("2026-11-01").elapsed_to(key("2026-11")), Ok(Some(1)));
        assert!(c("2026-12-01").elapsed_to(key("2026-11")).is_err());
        assert!(c("2026-10-31").elapsed_to(key("2026-11")).is_err());
        assert_eq!(Comparison::default().elapsed_to(key("2026-11")), Ok(None));
        assert_eq!(Compare::parse("year"), Ok(Compare::Year));
        assert!(Compare::parse("yoy").is_err());
    }

    #[test]
    fn ranges_name_local_days_both_included() {
        let r = key("2026-11-03..2026-11-16");
        assert_eq!(r.kind(), PeriodKind::Range);
        assert_eq!(r.days(), 14);
        assert_eq!(r.to_string(), "2026-11-03..2026-11-16");
        assert_eq!(r.previous().to_string(), "2026-10-20..2026-11-02");
        assert_eq!(r.next().to_string(), "2026-11-17..2026-11-30");
        assert_eq!(r.year_earlier(), Some(key("2025-11-03..2025-11-16")));
        assert_eq!(
            key("2028-02-01..2028-02-29").year_earlier(),
            Some(key("2027-02-01..2027-02-28"))
        );
        assert_eq!(key("2026-11-03..2026-11-03").days(), 1);
        let trend: Vec<String> = r.trend(3).iter().map(|k| k.to_string()).collect();
        assert_eq!(
            trend,
            [
                "2026-10-06..2026-10-19",
                "2026-10-20..2026-11-02",
                "2026-11-03..2026-11-16"
            ]
        );
        for bad in ["2026-11-16..2026-11-03", "2020-01-01..2026-01-01"] {
            let e = PeriodKey::parse(bad).expect_err(bad);
            assert_eq!(e.field(), Some("period"), "{bad}: {e}");
        }
        for bad in [
            "2026-11..2026-12",
            "2026-11-03..",
            "..2026-11-03",
            "2026-11-03...2026-11-04",
        ] {
            assert!(PeriodKey::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            PeriodKey::parse("2026-11-03..2029-11-02").map(|k| k.days()),
            Ok(1096)
        );
    }

    #[test]
    fn rolling_windows_end_with_yesterday_or_to() {
        let now: DateTime<Utc> = "2026-11-18T03:00:00Z".parse().expect("an instant");
        let ny = chrono_tz::America::New_York; // Nov 17 there: yesterday is Nov 16
        let default = key("2026-W46");
        let asked = |p: &str, to: Option<&str>, compare: Option<&str>| {
            Asked::parse(Some(p), compare, to, default, now, ny)
                .map(|a| (a.period.to_string(), a.comparison.to))
        };
        assert_eq!(
            asked("last-7d", None, None),
            Ok(("2026-11-10..2026-11-16".into(), None))
        );
        assert_eq!(
            asked("last-2w", None, None),
            Ok(("2026-11-03..2026-11-16".into(), None))
        );
        assert_eq!(
            asked("last-1m", None, None),
            Ok(("2026-10-17..2026-11-16".into(), None))
        );
        assert_eq!(
            asked("last-28d", Some("2026-03-01"), None),
            Ok(("2026-02-02..2026-03-01".into(), None))
        );
        // From the same day of the month, clamped to the shorter month.
        assert_eq!(
            asked("last-1m", Some("2026-03-30"), None),
            Ok(("2026-02-28..2026-03-30".into(), None))
        );
        assert_eq!(
            asked("last-12m", None, Some("year")).map(|(p, _)| p),
            Ok("2025-11-17..2026-11-16".into())
        );
        for bad in ["last-0d", "last-d", "last-3y", "last--3d", "last-x7d"] {
            let e = asked(bad, None, None).expect_err(bad);
            assert_eq!(e.field(), Some("period"), "{bad}");
        }
        assert_eq!(
            asked("last-40m", None, None).map_err(|e| e.field()),
            Err(Some("period"))
        );
        let e = asked("last-13m", None, Some("year")).expect_err("overlaps its year");
        assert_eq!(e.field(), Some("compare"));
        let e = asked("2025-01-01..2026-01-01", None, Some("year")).expect_err("one day too long");
        assert_eq!(e.field(), Some("compare"));
        assert!(asked("2025-01-02..2026-01-01", None, Some("year")).is_ok());
    }
}
