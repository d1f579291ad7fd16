//! cron(8)'s rule at the 2027 DST changes of four zones, case by case. Every expected instant
//! was worked out by hand from the rule (see the module documentation) and the zone's change,
//! written down here in UTC:
//!
//! - Europe/Berlin: 2027-03-28 01:00Z, 02:00 CET → 03:00 CEST (02:00–03:00 skipped);
//!   2027-10-31 01:00Z, 03:00 CEST → 02:00 CET (02:00–03:00 twice: 00:00Z–01:00Z, then
//!   01:00Z–02:00Z).
//! - America/New_York: 2027-03-14 07:00Z, 02:00 EST → 03:00 EDT; 2027-11-07 06:00Z, 02:00 EDT
//!   → 01:00 EST (01:00–02:00 twice: 05:00Z–06:00Z, then 06:00Z–07:00Z).
//! - Australia/Lord_Howe (a 30-minute shift): 2027-04-03 15:00Z, 02:00 +11 → 01:30 +10:30
//!   (01:30–02:00 twice: 14:30Z–15:00Z, then 15:00Z–15:30Z); 2027-10-02 15:30Z, 02:00 +10:30
//!   → 02:30 +11 (02:00–02:30 skipped).
//! - Pacific/Chatham (45-minute offsets): 2027-04-03 14:00Z, 03:45 +13:45 → 02:45 +12:45
//!   (02:45–03:45 twice: 13:00Z–14:00Z, then 14:00Z–15:00Z); 2027-09-25 14:00Z, 02:45 +12:45
//!   → 03:45 +13:45 (02:45–03:45 skipped).

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::{CronSpec, DstRule};

struct Case {
    zone: &'static str,
    cron: &'static str,
    /// The search starts strictly after this instant.
    after: &'static str,
    /// The next runs, in order.
    runs: &'static [&'static str],
}

const fn case(
    zone: &'static str,
    cron: &'static str,
    after: &'static str,
    runs: &'static [&'static str],
) -> Case {
    Case {
        zone,
        cron,
        after,
        runs,
    }
}

const BERLIN: &str = "Europe/Berlin";
const NEW_YORK: &str = "America/New_York";
const LORD_HOWE: &str = "Australia/Lord_Howe";
const CHATHAM: &str = "Pacific/Chatham";

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Berlin, spring forward (Sunday 2027-03-28).
    // 01:30 CET exists: one run, nothing extra at the end of the gap.
    case(BERLIN, "30 1 * * *", "2027-03-27T12:00:00Z", &["2027-03-28T00:30:00Z", "2027-03-28T23:30:00Z"]),
    // 02:30 is skipped: a fixed-time job runs right after the change (03:00 CEST).
    case(BERLIN, "30 2 * * *", "2027-03-27T12:00:00Z", &["2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"]),
    case(BERLIN, "0 30 2 * * *", "2027-03-27T12:00:00Z", &["2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"]),
    case(BERLIN, "30 3 * * *", "2027-03-27T12:00:00Z", &["2027-03-28T01:30:00Z", "2027-03-29T01:30:00Z"]),
    // 02:00 and 02:30 both skipped: they run once, at the change.
    case(BERLIN, "0,30 2 * * *", "2027-03-27T12:00:00Z", &["2027-03-28T01:00:00Z", "2027-03-29T00:00:00Z", "2027-03-29T00:30:00Z"]),
    // 02:00 is skipped and runs at the change, which is also 03:00: one run then.
    case(BERLIN, "0 1-3 * * *", "2027-03-27T12:00:00Z", &["2027-03-28T00:00:00Z", "2027-03-28T01:00:00Z", "2027-03-28T23:00:00Z", "2027-03-29T00:00:00Z"]),
    // Wildcard jobs carry on with the new time.
    case(BERLIN, "0 * * * *", "2027-03-27T23:30:00Z", &["2027-03-28T00:00:00Z", "2027-03-28T01:00:00Z", "2027-03-28T02:00:00Z"]),
    case(BERLIN, "*/15 * * * *", "2027-03-28T00:40:00Z", &["2027-03-28T00:45:00Z", "2027-03-28T01:00:00Z", "2027-03-28T01:15:00Z"]),
    case(BERLIN, "30 2 * * 0", "2027-03-27T12:00:00Z", &["2027-03-28T01:00:00Z", "2027-04-04T00:30:00Z"]),
    // Berlin, fall back (Sunday 2027-10-31).
    case(BERLIN, "30 1 * * *", "2027-10-30T12:00:00Z", &["2027-10-30T23:30:00Z", "2027-11-01T00:30:00Z"]),
    // 02:30 comes twice: a fixed-time job runs in the first pass only.
    case(BERLIN, "30 2 * * *", "2027-10-30T12:00:00Z", &["2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"]),
    case(BERLIN, "30 3 * * *", "2027-10-30T12:00:00Z", &["2027-10-31T02:30:00Z", "2027-11-01T02:30:00Z"]),
    case(BERLIN, "0,30 2 * * *", "2027-10-30T12:00:00Z", &["2027-10-31T00:00:00Z", "2027-10-31T00:30:00Z", "2027-11-01T01:00:00Z"]),
    case(BERLIN, "0 1-3 * * *", "2027-10-30T12:00:00Z", &["2027-10-30T23:00:00Z", "2027-10-31T00:00:00Z", "2027-10-31T02:00:00Z", "2027-11-01T00:00:00Z"]),
    // Wildcard jobs run in both passes.
    case(BERLIN, "0 * * * *", "2027-10-30T22:30:00Z", &["2027-10-30T23:00:00Z", "2027-10-31T00:00:00Z", "2027-10-31T01:00:00Z", "2027-10-31T02:00:00Z"]),
    case(BERLIN, "*/15 * * * *", "2027-10-31T00:40:00Z", &["2027-10-31T00:45:00Z", "2027-10-31T01:00:00Z", "2027-10-31T01:15:00Z"]),
    case(BERLIN, "*/30 2 * * *", "2027-10-30T12:00:00Z", &["2027-10-31T00:00:00Z", "2027-10-31T00:30:00Z", "2027-10-31T01:00:00Z", "2027-10-31T01:30:00Z", "2027-11-01T01:00:00Z"]),
    case(BERLIN, "30 2 * * 0", "2027-10-30T12:00:00Z", &["2027-10-31T00:30:00Z", "2027-11-07T01:30:00Z"]),
    // New York, spring forward (Sunday 2027-03-14).
    case(NEW_YORK, "30 1 * * *", "2027-03-13T12:00:00Z", &["2027-03-14T06:30:00Z", "2027-03-15T05:30:00Z"]),
    case(NEW_YORK, "30 2 * * *", "2027-03-13T12:00:00Z", &["2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z"]),
    case(NEW_YORK, "30 3 * * *", "2027-03-13T12:00:00Z", &["2027-03-14T07:30:00Z", "2027-03-15T07:30:00Z"]),
    case(NEW_YORK, "0,30 2 * * *", "2027-03-13T12:00:00Z", &["2027-03-14T07:00:00Z", "2027-03-15T06:00:00Z", "2027-03-15T06:30:00Z"]),
    case(NEW_YORK, "0 1-3 * * *", "2027-03-13T12:00:00Z", &["2027-03-14T06:00:00Z", "2027-03-14T07:00:00Z", "2027-03-15T05:00:00Z"]),
    case(NEW_YORK, "0 * * * *", "2027-03-14T05:30:00Z", &["2027-03-14T06:00:00Z", "2027-03-14T07:00:00Z", "2027-03-14T08:00:00Z"]),
    case(NEW_YORK, "*/15 * * * *", "2027-03-14T06:40:00Z", &["2027-03-14T06:45:00Z", "2027-03-14T07:00:00Z", "2027-03-14T07:15:00Z"]),
    case(NEW_YORK, "30 2 * * SUN", "2027-03-13T12:00:00Z", &["2027-03-14T07:00:00Z", "2027-03-21T06:30:00Z"]),
    // New York, fall back (Sunday 2027-11-07).
    case(NEW_YORK, "30 1 * * *", "2027-11-06T12:00:00Z", &["2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z"]),
    case(NEW_YORK, "30 2 * * *", "2027-11-06T12:00:00Z", &["2027-11-07T07:30:00Z", "2027-11-08T07:30:00Z"]),
    case(NEW_YORK, "0,30 1 * * *", "2027-11-06T12:00:00Z", &["2027-11-07T05:00:00Z", "2027-11-07T05:30:00Z", "2027-11-08T06:00:00Z"]),
    case(NEW_YORK, "0 1-3 * * *", "2027-11-06T12:00:00Z", &["2027-11-07T05:00:00Z", "2027-11-07T07:00:00Z", "2027-11-07T08:00:00Z", "2027-11-08T06:00:00Z"]),
    case(NEW_YORK, "0 * * * *", "2027-11-07T04:30:00Z", &["2027-11-07T05:00:00Z", "2027-11-07T06:00:00Z", "2027-11-07T07:00:00Z"]),
    case(NEW_YORK, "*/15 * * * *", "2027-11-07T05:50:00Z", &["2027-11-07T06:00:00Z", "2027-11-07T06:15:00Z", "2027-11-07T06:30:00Z"]),
    case(NEW_YORK, "30 1 * * 0", "2027-11-06T12:00:00Z", &["2027-11-07T05:30:00Z", "2027-11-14T06:30:00Z"]),
    // Lord Howe, back half an hour (Sunday 2027-04-04).
    case(LORD_HOWE, "30 1 * * *", "2027-04-03T00:00:00Z", &["2027-04-03T14:30:00Z", "2027-04-04T15:00:00Z"]),
    case(LORD_HOWE, "45 1 * * *", "2027-04-03T00:00:00Z", &["2027-04-03T14:45:00Z", "2027-04-04T15:15:00Z"]),
    case(LORD_HOWE, "30 2 * * *", "2027-04-03T00:00:00Z", &["2027-04-03T16:00:00Z", "2027-04-04T16:00:00Z"]),
    case(LORD_HOWE, "0,30 1 * * *", "2027-04-03T00:00:00Z", &["2027-04-03T14:00:00Z", "2027-04-03T14:30:00Z", "2027-04-04T14:30:00Z"]),
    case(LORD_HOWE, "0 * * * *", "2027-04-03T13:30:00Z", &["2027-04-03T14:00:00Z", "2027-04-03T15:30:00Z", "2027-04-03T16:30:00Z"]),
    case(LORD_HOWE, "*/15 * * * *", "2027-04-03T14:40:00Z", &["2027-04-03T14:45:00Z", "2027-04-03T15:00:00Z", "2027-04-03T15:15:00Z", "2027-04-03T15:30:00Z"]),
    // Lord Howe, forward half an hour (Sunday 2027-10-03).
    case(LORD_HOWE, "30 1 * * *", "2027-10-02T00:00:00Z", &["2027-10-02T15:00:00Z", "2027-10-03T14:30:00Z"]),
    case(LORD_HOWE, "15 2 * * *", "2027-10-02T00:00:00Z", &["2027-10-02T15:30:00Z", "2027-10-03T15:15:00Z"]),
    case(LORD_HOWE, "30 2 * * *", "2027-10-02T00:00:00Z", &["2027-10-02T15:30:00Z", "2027-10-03T15:30:00Z"]),
    case(LORD_HOWE, "0,30 2 * * *", "2027-10-02T00:00:00Z", &["2027-10-02T15:30:00Z", "2027-10-03T15:00:00Z", "2027-10-03T15:30:00Z"]),
    case(LORD_HOWE, "0 * * * *", "2027-10-02T14:00:00Z", &["2027-10-02T14:30:00Z", "2027-10-02T16:00:00Z"]),
    case(LORD_HOWE, "*/15 * * * *", "2027-10-02T15:20:00Z", &["2027-10-02T15:30:00Z", "2027-10-02T15:45:00Z"]),
    case(LORD_HOWE, "0 2 * * 0", "2027-10-01T00:00:00Z", &["2027-10-02T15:30:00Z", "2027-10-09T15:00:00Z"]),
    // Chatham, back an hour at 03:45 (Sunday 2027-04-04).
    case(CHATHAM, "30 2 * * *", "2027-04-03T00:00:00Z", &["2027-04-03T12:45:00Z", "2027-04-04T13:45:00Z"]),
    case(CHATHAM, "30 3 * * *", "2027-04-03T00:00:00Z", &["2027-04-03T13:45:00Z", "2027-04-04T14:45:00Z"]),
    case(CHATHAM, "0 3 * * *", "2027-04-03T00:00:00Z", &["2027-04-03T13:15:00Z", "2027-04-04T14:15:00Z"]),
    case(CHATHAM, "0 * * * *", "2027-04-03T12:00:00Z", &["2027-04-03T12:15:00Z", "2027-04-03T13:15:00Z", "2027-04-03T14:15:00Z", "2027-04-03T15:15:00Z"]),
    case(CHATHAM, "*/15 * * * *", "2027-04-03T13:50:00Z", &["2027-04-03T14:00:00Z", "2027-04-03T14:15:00Z", "2027-04-03T14:30:00Z"]),
    // Chatham, forward an hour at 02:45 (Sunday 2027-09-26).
    case(CHATHAM, "30 2 * * *", "2027-09-25T00:00:00Z", &["2027-09-25T13:45:00Z", "2027-09-26T12:45:00Z"]),
    case(CHATHAM, "0 3 * * *", "2027-09-25T00:00:00Z", &["2027-09-25T14:00:00Z", "2027-09-26T13:15:00Z"]),
    case(CHATHAM, "30 3 * * *", "2027-09-25T00:00:00Z", &["2027-09-25T14:00:00Z", "2027-09-26T13:45:00Z"]),
    case(CHATHAM, "0,30 3 * * *", "2027-09-25T00:00:00Z", &["2027-09-25T14:00:00Z", "2027-09-26T13:15:00Z", "2027-09-26T13:45:00Z"]),
    case(CHATHAM, "0 2-4 * * *", "2027-09-25T00:00:00Z", &["2027-09-25T13:15:00Z", "2027-09-25T14:00:00Z", "2027-09-25T14:15:00Z", "2027-09-26T12:15:00Z"]),
    case(CHATHAM, "0 * * * *", "2027-09-25T13:00:00Z", &["2027-09-25T13:15:00Z", "2027-09-25T14:15:00Z"]),
    case(CHATHAM, "*/15 * * * *", "2027-09-25T13:50:00Z", &["2027-09-25T14:00:00Z", "2027-09-25T14:15:00Z"]),
];

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("an RFC 3339 instant")
        .with_timezone(&Utc)
}

#[test]
fn next_runs_around_the_2027_dst_changes_follow_cron_8s_rule() {
    let mut wrong = Vec::new();
    for case in CASES {
        let spec = CronSpec::parse(case.cron).expect("a valid pattern");
        let tz: Tz = case.zone.parse().expect("a zone");
        let mut got = Vec::new();
        let mut t = at(case.after);
        for _ in case.runs {
            match spec.next_after(tz, t) {
                Some(next) => {
                    got.push(next);
                    t = next;
                }
                None => break,
            }
        }
        let want: Vec<_> = case.runs.iter().map(|s| at(s)).collect();
        if got != want {
            wrong.push(format!(
                "{} `{}` after {}:\n   want {want:?}\n    got {got:?}",
                case.zone, case.cron, case.after
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_latest_run_at_or_before_an_instant_agrees_with_the_next_runs() {
    let mut wrong = Vec::new();
    for case in CASES {
        let spec = CronSpec::parse(case.cron).expect("a valid pattern");
        let tz: Tz = case.zone.parse().expect("a zone");
        let runs: Vec<_> = case.runs.iter().map(|s| at(s)).collect();
        for (i, &run) in runs.iter().enumerate() {
            let latest = spec.latest_at_or_before(tz, run);
            if latest != Some(run) {
                wrong.push(format!(
                    "{} `{}` at {run}: {latest:?}",
                    case.zone, case.cron
                ));
            }
            if let Some(&previous) = i.checked_sub(1).and_then(|p| runs.get(p)) {
                let just_before = run - TimeDelta::seconds(1);
                let latest = spec.latest_at_or_before(tz, just_before);
                if latest != Some(previous) {
                    wrong.push(format!(
                        "{} `{}` at {just_before}: {latest:?}, want {previous}",
                        case.zone, case.cron
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn a_job_is_a_wildcard_job_when_its_minute_or_hour_starts_with_a_star() {
    let rule = |p: &str| CronSpec::parse(p).expect("valid").dst_rule();
    for p in [
        "0 * * * *",
        "*/15 * * * *",
        "* 2 * * *",
        "30 */2 * * *",
        "0 * 2 * * *",
    ] {
        assert_eq!(rule(p), DstRule::Wildcard, "{p}");
    }
    for p in [
        "30 2 * * *",
        "0,30 2 * * *",
        "0 1-3 * * *",
        "30 2 * * 0",
        "* 30 2 * * *",
    ] {
        assert_eq!(rule(p), DstRule::FixedTime, "{p}");
    }
}
