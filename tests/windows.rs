//! Every window kind a period can take (custom ranges, rolling windows, periods read to a date,
//! a year earlier, none), in three timezones (a half-hour offset, a southern-hemisphere DST, a
//! northern one), over data spanning four years: every built-in KPI equals what the test's own
//! oracle (`windows/oracle.rs`) computes from the rows, for the window and for the one it is
//! compared with, and segments match too.

mod oracle;

use awc::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use lodestar_core::clock::fixed_clock;
use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, TestApp, close, read_fixture};
use oracle::{Days, Rows};

backend_tests!(every_kpi_in_every_window_kind_matches_the_rows);

/// Today, for `wtd`/`mtd`/`qtd`/`ytd` and rolling windows: Wednesday 2026-11-18 in all three zones.
const NOW: &str = "2026-11-18T12:00:00Z";
const ZONES: [&str; 3] = ["Asia/Kolkata", "Australia/Sydney", "America/New_York"];

/// A query, the local days it covers, and the days of the window it is compared with.
struct Case {
    query: &'static str,
    period: (&'static str, &'static str),
    previous: Option<(&'static str, &'static str)>,
    by_channel: bool,
}

const fn case(
    query: &'static str,
    period: (&'static str, &'static str),
    previous: Option<(&'static str, &'static str)>,
) -> Case {
    Case {
        query,
        period,
        previous,
        by_channel: false,
    }
}

const fn segmented(
    query: &'static str,
    period: (&'static str, &'static str),
    previous: (&'static str, &'static str),
) -> Case {
    Case {
        query,
        period,
        previous: Some(previous),
        by_channel: true,
    }
}

const CASES: &[Case] = &[
    // Custom ranges: the same length just before, or the same dates a year earlier. Sydney's DST
    // ends on Apr 5, New York's starts on Mar 8 and ends on Nov 1.
    segmented(
        "period=2026-03-25..2026-04-10",
        ("2026-03-25", "2026-04-10"),
        ("2026-03-08", "2026-03-24"),
    ),
    case(
        "period=2026-03-25..2026-04-10&compare=year",
        ("2026-03-25", "2026-04-10"),
        Some(("2025-03-25", "2025-04-10")),
    ),
    case(
        "period=2026-10-28..2026-11-03",
        ("2026-10-28", "2026-11-03"),
        Some(("2026-10-21", "2026-10-27")),
    ),
    // Feb 29: in a range, and as a day compared with the year before.
    case(
        "period=2024-02-20..2024-03-05&compare=year",
        ("2024-02-20", "2024-03-05"),
        Some(("2023-02-20", "2023-03-05")),
    ),
    case(
        "period=2024-02-29&compare=year",
        ("2024-02-29", "2024-02-29"),
        Some(("2023-02-28", "2023-02-28")),
    ),
    // Rolling windows end with yesterday, or with `to`; Sydney's DST starts on Oct 4.
    segmented(
        "period=last-28d&to=2026-10-05",
        ("2026-09-08", "2026-10-05"),
        ("2026-08-11", "2026-09-07"),
    ),
    case(
        "period=last-4w",
        ("2026-10-21", "2026-11-17"),
        Some(("2026-09-23", "2026-10-20")),
    ),
    case(
        "period=last-3m&to=2026-03-08&compare=year",
        ("2025-12-09", "2026-03-08"),
        Some(("2024-12-09", "2025-03-08")),
    ),
    case(
        "period=last-1m&to=2024-03-30",
        ("2024-02-29", "2024-03-30"),
        Some(("2024-01-29", "2024-02-28")),
    ),
    case(
        "period=last-7d&compare=none",
        ("2026-11-11", "2026-11-17"),
        None,
    ),
    // To date: spans ending on a DST day (New York Mar 8, Sydney Apr 5), clamped months.
    case(
        "period=2026-03&to=2026-03-08",
        ("2026-03-01", "2026-03-08"),
        Some(("2026-02-01", "2026-02-08")),
    ),
    case(
        "period=2026-Q2&to=2026-04-05&compare=year",
        ("2026-04-01", "2026-04-05"),
        Some(("2025-04-01", "2025-04-05")),
    ),
    case(
        "period=2025-03&to=2025-03-30",
        ("2025-03-01", "2025-03-30"),
        Some(("2025-02-01", "2025-02-28")),
    ),
    case(
        "period=2024-03&to=2024-03-30",
        ("2024-03-01", "2024-03-30"),
        Some(("2024-02-01", "2024-02-29")),
    ),
    // Periods in progress through today.
    case(
        "period=wtd",
        ("2026-11-16", "2026-11-18"),
        Some(("2026-11-09", "2026-11-11")),
    ),
    case(
        "period=mtd&compare=year",
        ("2026-11-01", "2026-11-18"),
        Some(("2025-11-01", "2025-11-18")),
    ),
    segmented(
        "period=qtd&compare=year",
        ("2026-10-01", "2026-11-18"),
        ("2025-10-01", "2025-11-18"),
    ),
    case(
        "period=ytd",
        ("2026-01-01", "2026-11-18"),
        Some(("2025-01-01", "2025-11-18")),
    ),
    // ISO week 53 against week 52 of a year without one; a DST week.
    case(
        "period=2020-W53&compare=year",
        ("2020-12-28", "2021-01-03"),
        Some(("2019-12-23", "2019-12-29")),
    ),
    case(
        "period=2026-W14",
        ("2026-03-30", "2026-04-05"),
        Some(("2026-03-23", "2026-03-29")),
    ),
];

/// Additive measures, whose segments sum to their totals.
const ADDITIVE: &[&str] = &[
    "leads",
    "total_lead_value",
    "mqls",
    "sals",
    "sqls",
    "opportunities",
    "customers_won",
    "deals_lost",
    "won_revenue",
    "churned_customers",
    "active_customers",
    "sessions",
    "visits",
    "engagements",
    "recurring_revenue",
    "ad_spend",
    "marketing_spend",
    "total_spend",
    "impressions",
    "clicks",
];

/// A small deterministic generator, so the data is the same on every run and backend.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn money(&mut self, max_cents: u64) -> f64 {
        (self.below(max_cents) + 1) as f64 / 100.0
    }
}

const CHANNELS: [&str; 4] = ["email", "paid_search", "social", ""];

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

/// Leads, events and spend from 2019-12 to 2027-01 (sparse before 2023, to reach the week-53
/// case cheaply), with every lifecycle stage, churn, scores, engagement by lead, NPS and revenue.
fn generate() -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut r = Lcg(20_261_206);
    let start: DateTime<Utc> = "2019-12-01T00:00:00Z".parse().unwrap();
    let end: DateTime<Utc> = "2027-01-10T00:00:00Z".parse().unwrap();
    let dense: DateTime<Utc> = "2023-01-01T00:00:00Z".parse().unwrap();
    let mut leads = Vec::new();
    let mut t = start;
    while t < end {
        let i = leads.len();
        let mut lead = json!({"id": format!("L{i}"), "created_at": rfc3339(t),
                              "channel": CHANNELS[r.below(4) as usize]});
        if r.chance(80) {
            lead["value"] = json!(r.money(90_000));
        }
        if r.chance(70) {
            lead["score"] = json!(r.below(101));
        }
        let mut at = t;
        let step = |r: &mut Lcg, at: &mut DateTime<Utc>| {
            *at += Duration::minutes(30 + r.below(60 * 24 * 12) as i64);
            rfc3339(*at)
        };
        for stage in ["mql_at", "sal_at", "sql_at", "opportunity_at"] {
            if r.chance(60) {
                lead[stage] = json!(step(&mut r, &mut at));
            }
        }
        match r.below(10) {
            0..=2 => {
                lead["won_at"] = json!(step(&mut r, &mut at));
                lead["deal_value"] = json!(r.money(1_500_000));
                if r.chance(35) {
                    at += Duration::days(r.below(300) as i64);
                    lead["churned_at"] = json!(step(&mut r, &mut at));
                }
            }
            3 | 4 => lead["lost_at"] = json!(step(&mut r, &mut at)),
            _ => {}
        }
        leads.push(lead);
        t += if t < dense {
            Duration::hours(40)
        } else {
            Duration::minutes(8 * 60 + 13)
        };
    }
    let mut events = Vec::new();
    let mut t = start;
    while t < end {
        let i = events.len();
        let kind = match r.below(20) {
            0..=7 => "visit",
            8..=12 => "engagement",
            13 | 14 => "session",
            15..=17 => "nps",
            _ => "revenue",
        };
        let mut event = json!({"id": format!("E{i}"), "kind": kind, "occurred_at": rfc3339(t),
                               "channel": CHANNELS[r.below(4) as usize]});
        // Engagements by a lead created before them (most leads are reachable a while).
        let created =
            leads.partition_point(|l| l["created_at"].as_str().unwrap() <= rfc3339(t).as_str());
        if kind == "engagement" && created > 0 {
            let back = r.below(40).min(created as u64 - 1) as usize;
            event["lead_id"] = json!(format!("L{}", created - 1 - back));
        }
        match kind {
            "nps" => event["value"] = json!(r.below(11)),
            "revenue" => event["value"] = json!(r.money(60_000)),
            _ => {}
        }
        events.push(event);
        t += if t < dense {
            Duration::hours(30)
        } else {
            Duration::minutes(5 * 60 + 7)
        };
    }
    let categories = [
        "advertising",
        "content",
        "events",
        "tools",
        "sales",
        "other",
    ];
    let mut spend = Vec::new();
    let mut day = NaiveDate::from_ymd_opt(2019, 12, 1).unwrap();
    while day < NaiveDate::from_ymd_opt(2027, 1, 10).unwrap() {
        for (c, channel) in CHANNELS[..3].iter().enumerate() {
            let category = categories[(day.ordinal0() as usize + c) % categories.len()];
            let mut row = json!({"day": day.to_string(), "channel": channel,
                                 "category": category, "amount": r.money(25_000)});
            if category == "advertising" {
                row["impressions"] = json!(r.below(20_000));
                row["clicks"] = json!(r.below(900));
            }
            spend.push(row);
        }
        day = day.succ_opt().unwrap();
    }
    (leads, events, spend)
}

use chrono::Datelike;

fn days((first, last): (&str, &str)) -> Days {
    Days::new(first, last)
}

fn same(actual: &Value, expected: Option<f64>) -> bool {
    match (actual.as_f64(), expected) {
        (None, None) => actual.is_null(),
        (Some(a), Some(e)) => close(a, e),
        _ => false,
    }
}

/// Every built-in KPI of `body` against the oracle, for `channel`'s rows (`None`: all of them).
fn check_kpis(
    what: &str,
    kpis: &[Value],
    rows: &Rows,
    case: &Case,
    tz: Tz,
    segment: Option<&str>,
    read: impl for<'a> Fn(&'a Value) -> Option<&'a Value>,
) {
    let period = days(case.period);
    let previous = case.previous.map(days);
    let now = rows.kpis(period, previous, tz, segment);
    let before = previous.map(|p| {
        // The comparison's own comparison (for lead velocity) is not checked here.
        rows.kpis(p, None, tz, segment)
    });
    let mut checked = 0;
    for kpi in kpis {
        let key = kpi["key"].as_str().unwrap();
        let Some(expected) = now.get(key) else {
            continue;
        };
        let Some(got) = read(kpi) else {
            panic!("{what}: {key} has no reading for {segment:?}: {kpi}");
        };
        assert!(
            same(&got["value"], *expected),
            "{what}: {key} {segment:?} value {} but the rows give {expected:?}",
            got["value"]
        );
        match &before {
            Some(before) if key != "lead_velocity_rate" => assert!(
                same(&got["previous"], before[key]),
                "{what}: {key} {segment:?} previous {} but the rows give {:?}",
                got["previous"],
                before[key]
            ),
            Some(_) => {}
            None => assert!(
                got["previous"].is_null() && got["change"].is_null(),
                "{what}: {key}: {got}"
            ),
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        now.len(),
        "{what}: every built-in KPI is in the reply"
    );
}

async fn every_kpi_in_every_window_kind_matches_the_rows(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.clock = fixed_clock(NOW.parse().unwrap());
    })
    .await;
    let (leads, events, spend) = generate();
    let rows = Rows::new(&leads, &events, &spend);
    for (z, zone) in ZONES.iter().enumerate() {
        let tz: Tz = zone.parse().unwrap();
        let (_, token) = app.team(&format!("zone-{z}"), zone, Role::Editor).await;
        for (table, all) in [("leads", &leads), ("events", &events), ("spend", &spend)] {
            for chunk in all.chunks(5_000) {
                let (status, body) = app
                    .post_json(Some(&token), &format!("/api/v1/{table}"), &json!(chunk))
                    .await;
                assert_eq!(status, StatusCode::OK, "loading {table}: {body}");
            }
        }
        for case in CASES {
            let what = format!("{zone} {}", case.query);
            let query = if case.by_channel {
                format!("{}&segment_by=channel", case.query)
            } else {
                case.query.to_owned()
            };
            let (status, body) = app
                .get(Some(&token), &format!("/api/v1/kpis?{query}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{what}: {body}");
            // The reply names the windows it read.
            let period = days(case.period);
            assert_eq!(
                body["period"]["start"],
                rfc3339_secs(oracle::midnight(period.first, tz)),
                "{what}: {}",
                body["period"]
            );
            assert_eq!(
                body["period"]["end"],
                rfc3339_secs(oracle::midnight(period.last.succ_opt().unwrap(), tz)),
                "{what}"
            );
            match case.previous.map(days) {
                Some(p) => {
                    assert_eq!(
                        body["previous_period"]["start"],
                        rfc3339_secs(oracle::midnight(p.first, tz)),
                        "{what}: {}",
                        body["previous_period"]
                    );
                    assert_eq!(
                        body["previous_period"]["end"],
                        rfc3339_secs(oracle::midnight(p.last.succ_opt().unwrap(), tz)),
                        "{what}"
                    );
                }
                None => assert!(body["previous_period"].is_null(), "{what}"),
            }
            let kpis = body["kpis"].as_array().unwrap();
            check_kpis(&what, kpis, &rows, case, tz, None, |k| Some(k));
            if !case.by_channel {
                continue;
            }
            for channel in ["email", "paid_search", "social", "(none)"] {
                check_kpis(&what, kpis, &rows, case, tz, Some(channel), |kpi| {
                    kpi["segments"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{what}: no segments in {kpi}"))
                        .iter()
                        .find(|s| s["segment"] == channel)
                });
            }
            // Additive measures: the segments sum to the totals, on both sides.
            for key in ADDITIVE {
                let kpi = kpis.iter().find(|k| k["key"] == *key).unwrap();
                for side in ["value", "previous"] {
                    let sum: f64 = kpi["segments"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s[side].as_f64().unwrap_or(0.0))
                        .sum();
                    assert!(
                        close(sum, kpi[side].as_f64().unwrap()),
                        "{what}: {key} {side}: segments sum to {sum}, total {}",
                        kpi[side]
                    );
                }
            }
        }
    }
    // Trends step by the window's own length.
    let (_, token) = app.team("trend", ZONES[1], Role::Editor).await;
    let tz: Tz = ZONES[1].parse().unwrap();
    for (table, all) in [("leads", &leads)] {
        let (status, body) = app
            .post_json(Some(&token), &format!("/api/v1/{table}"), &json!(all))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-03-25..2026-04-10&trend=3&keys=leads",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let trend: Vec<(String, f64)> = body["kpis"][0]["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap().to_owned(),
                p["value"].as_f64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, f64)> = [
        ("2026-02-19", "2026-03-07"),
        ("2026-03-08", "2026-03-24"),
        ("2026-03-25", "2026-04-10"),
    ]
    .into_iter()
    .map(|(first, last)| {
        let leads = rows.kpis(Days::new(first, last), None, tz, None)["leads"];
        (format!("{first}..{last}"), leads.unwrap())
    })
    .collect();
    assert_eq!(trend, expected);
}

fn rfc3339_secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The oracle reads the shared fixture as the spec does: it gives every expected value of
/// `expected.json` and `expected-added.json`, totals and channel segments, before it is trusted
/// with windows the fixture does not have.
#[test]
fn the_oracle_gives_the_fixtures_expected_values() {
    let rows = Rows::new(
        read_fixture("leads.json").as_array().unwrap(),
        read_fixture("events.json").as_array().unwrap(),
        read_fixture("spend.json").as_array().unwrap(),
    );
    let periods = [
        (
            "2026-W44",
            ("2026-10-26", "2026-11-01"),
            ("2026-10-19", "2026-10-25"),
        ),
        (
            "2026-W45",
            ("2026-11-02", "2026-11-08"),
            ("2026-10-26", "2026-11-01"),
        ),
        (
            "2026-11",
            ("2026-11-01", "2026-11-30"),
            ("2026-10-01", "2026-10-31"),
        ),
    ];
    let mut checked = 0;
    for file in ["expected.json", "expected-added.json"] {
        let expected = read_fixture(file);
        let tz: Tz = expected["timezone"].as_str().unwrap().parse().unwrap();
        for c in expected["cases"].as_array().unwrap() {
            let (_, now, before) = periods.iter().find(|p| c["period"] == p.0).unwrap();
            let (now, before) = (days(*now), days(*before));
            let mut compare = |segment: Option<&str>, want: &Value| {
                let got = rows.kpis(now, Some(before), tz, segment);
                for (key, value) in want.as_object().unwrap() {
                    let mine = got
                        .get(key.as_str())
                        .unwrap_or_else(|| panic!("oracle lacks {key}"));
                    assert!(
                        same(value, *mine),
                        "{file} {} {segment:?} {key}: expected {value}, the oracle gives {mine:?}",
                        c["period"]
                    );
                    checked += 1;
                }
            };
            match c["segment_by"].as_str() {
                None => compare(None, &c["kpis"]),
                Some("channel") => {
                    for (segment, want) in c["segments"].as_object().unwrap() {
                        compare(Some(segment), want);
                    }
                }
                Some(_) => {}
            }
        }
    }
    assert!(checked > 500, "only {checked} values checked");
}
