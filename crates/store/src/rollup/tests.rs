use super::*;
use chrono::{TimeZone, Utc};

fn ms(tz: &Timezone, y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    tz.0.with_ymd_and_hms(y, m, d, h, min, 0)
        .earliest()
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
        .unwrap_or_default()
}

fn day(y: i32, m: u32, d: u32) -> i32 {
    let date = NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    (date - NaiveDate::default()).num_days() as i32
}

#[test]
fn an_instant_belongs_to_its_local_day_on_both_sides_of_midnight() {
    let tz = Timezone::parse("America/New_York").expect("zone");
    let mut clock = DayClock::new(tz);
    assert_eq!(clock.day_of(ms(&tz, 2026, 11, 3, 23, 59)), day(2026, 11, 3));
    assert_eq!(clock.day_of(ms(&tz, 2026, 11, 4, 0, 0)), day(2026, 11, 4));
    // 2026-11-01 is 25 hours long in New York.
    assert_eq!(clock.day_of(ms(&tz, 2026, 11, 1, 23, 30)), day(2026, 11, 1));
    let kolkata = Timezone::parse("Asia/Kolkata").expect("zone");
    let mut clock = DayClock::new(kolkata);
    // 18:29 UTC is 23:59 in Kolkata; 18:30 UTC is the next local day.
    assert_eq!(
        clock.day_of(ms(&kolkata, 2026, 1, 1, 23, 59)),
        day(2026, 1, 1)
    );
    assert_eq!(
        clock.day_of(ms(&kolkata, 2026, 1, 2, 0, 0)),
        day(2026, 1, 2)
    );
}

#[test]
fn a_skipped_midnight_starts_the_day_at_the_first_instant_that_exists() {
    // Santiago moves clocks from 00:00 to 01:00 on 2026-09-06: the day starts at 01:00.
    let tz = Timezone::parse("America/Santiago").expect("zone");
    let mut clock = DayClock::new(tz);
    let start = local_midnight(
        NaiveDate::from_ymd_opt(2026, 9, 6).unwrap_or_default(),
        tz.0,
    )
    .timestamp_millis();
    assert_eq!(clock.day_of(start), day(2026, 9, 6));
    assert_eq!(clock.day_of(start - 1), day(2026, 9, 5));
}

#[test]
fn replacing_a_lead_with_itself_leaves_nothing_to_write() {
    let mut clock = DayClock::new(Timezone::default());
    let lead = Facts::Lead(LeadFacts {
        created: 1_000,
        mql: Some(2 * DAY_MS),
        won: Some(5 * DAY_MS),
        churned: Some(9 * DAY_MS),
        lost: Some(3 * DAY_MS),
        sql: Some(4 * DAY_MS),
        deal_value: 7,
        score: Some(61),
        channel: "ads".into(),
        ..Default::default()
    });
    let mut pending = Pending::default();
    pending.add(&mut clock, &lead, 1);
    assert!(!pending.is_empty());
    let totals = |p: &Pending| {
        let mut t = [0i64; LEAD_COUNTERS];
        for v in p.leads.values() {
            for (a, b) in t.iter_mut().zip(v) {
                *a += b;
            }
        }
        t
    };
    let once = totals(&pending);
    assert_eq!(once[LEADS], 1);
    assert_eq!(once[ENDED], 1);
    assert_eq!(once[SETTLED], 1);
    assert_eq!(once[CYCLE_MS], DAY_MS);
    assert_eq!((once[SCORE_SUM], once[SCORE_N]), (61, 1));
    assert_eq!(once[LIFETIME_MS], 4 * DAY_MS);
    pending.add(&mut clock, &lead, -1);
    assert!(pending.leads.values().all(|v| v.iter().all(|&x| x == 0)));
}
