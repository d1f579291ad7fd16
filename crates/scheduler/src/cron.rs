//! Cron patterns in a schedule's timezone, with croner (the parser tokio-cron-scheduler 0.15 uses).
//! Due times are computed here, never taken from a job's firing: tokio-cron-scheduler has fired
//! timezone jobs at the wrong hour around DST changes (#105, #107).

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A validated 5-field (`min hour dom month dow`) or 6-field (`sec min hour dom month dow`)
/// pattern. Where both day fields are restricted, a day matching either one matches (as in
/// Vixie cron).
#[derive(Debug, Clone)]
pub struct CronSpec {
    source: String,
    six_fields: String,
    cron: Cron,
}

impl PartialEq for CronSpec {
    fn eq(&self, other: &Self) -> bool {
        self.six_fields == other.six_fields
    }
}

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
        let six_fields = match fields.len() {
            5 => format!("0 {}", fields.join(" ")),
            6 => fields.join(" "),
            n => {
                return Err(format!(
                    "has {n} fields; use 5 (`min hour day month weekday`, e.g. `0 8 * * MON`) \
                     or 6 (with seconds first)"
                ));
            }
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

    /// The first occurrence strictly after `after`, in `tz`.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&tz), false)
            .ok()
            .map(|at| at.with_timezone(&Utc))
    }

    /// The latest occurrence at or before `at`, in `tz`.
    pub fn latest_at_or_before(&self, tz: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&at.with_timezone(&tz), true)
            .ok()
            .map(|at| at.with_timezone(&Utc))
    }
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
