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
    /// `period` (a key, or `wtd`/`mtd`/`qtd`/`ytd`: the current week, month, quarter or year
    /// through today; absent or empty: `default`), `compare` (`previous`, `year`, `none`) and
    /// `to` (`YYYY-MM-DD`, a day of the period, read through it), at `now` in `tz`.
    pub fn parse(
        period: Option<&str>,
        compare: Option<&str>,
        to: Option<&str>,
        default: PeriodKey,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> Result<Asked, CoreError> {
        let today = now.with_timezone(&tz).date_naive();
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
        if let Some(t) = given(to) {
            to_day = Some(
                NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .map_err(|_| CoreError::InvalidTo(t.to_owned()))?,
            );
        }
        let comparison = Comparison {
            compare: given(compare)
                .map(Compare::parse)
                .transpose()?
                .unwrap_or_default(),
            to: to_day,
        };
        comparison.elapsed_to(key)?;
        Ok(Asked {
            period: key,
            comparison,
        })
    }
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
        let first = match self.kind() {
            PeriodKind::Week => {
                let week = first.iso_week();
                let year = week.year() - 1;
                NaiveDate::from_isoywd_opt(year, week.week(), chrono::Weekday::Mon)
                    .or_else(|| NaiveDate::from_isoywd_opt(year, 52, chrono::Weekday::Mon))?
            }
            _ => first
                .with_year(first.year() - 1)
                .or_else(|| NaiveDate::from_ymd_opt(first.year() - 1, first.month(), 28))?,
        };
        let key = PeriodKey::containing(self.kind(), first);
        (key < *self && first.year() >= super::MIN_YEAR).then_some(key)
    }
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
}
