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
