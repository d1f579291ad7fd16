//! Goals and pacing: expected-to-date and projection for each phasing equal values computed
//! here by hand from the fixture's rows (counted per local day in the team's zone), per segment
//! too; an ended period is met or missed; goals are set, listed and deleted by identity.

use std::collections::BTreeMap;

use awc::http::StatusCode;
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use lodestar_core::period::Timezone;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, TestApp, close, read_fixture};

backend_tests!(
    goal_pacing_equals_hand_computed_values_for_each_phasing,
    report_cards_show_their_goals,
);

/// Thursday 26 November 2026, noon in New York: 26 of November's 30 days read.
const NOW: &str = "2026-11-26T17:00:00Z";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Leads per local day, counted from rows.
fn per_day(rows: &[Value], tz: &Timezone) -> BTreeMap<NaiveDate, f64> {
    let mut out = BTreeMap::new();
    for r in rows {
        let at = DateTime::parse_from_rfc3339(r["created_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&tz.0)
            .date_naive();
        *out.entry(at).or_insert(0.0) += 1.0;
    }
    out
}

fn sum(days: &BTreeMap<NaiveDate, f64>, from: NaiveDate, through: NaiveDate) -> f64 {
    days.range(from..=through).map(|(_, v)| v).sum()
}

/// The fixture's November leads again, one year earlier, under new ids: a shape for last year.
fn last_year_rows(leads: &[Value]) -> Vec<Value> {
    leads
        .iter()
        .filter(|r| r["created_at"].as_str().unwrap().starts_with("2026-11"))
        .map(|r| {
            let created = r["created_at"]
                .as_str()
                .unwrap()
                .replacen("2026", "2025", 1);
            let mut row =
                json!({"id": format!("LY-{}", r["id"].as_str().unwrap()), "created_at": created});
            for k in ["channel", "campaign", "source"] {
                if !r[k].is_null() {
                    row[k] = r[k].clone();
                }
            }
            row
        })
        .collect()
}

/// The share of the weekday profile (from the 8 weeks of `days` before `first`) in the days of
/// the month from `first` through `through`, of all its days through `last`.
fn weekday_share(
    days: &BTreeMap<NaiveDate, f64>,
    first: NaiveDate,
    (through, last): (NaiveDate, NaiveDate),
) -> f64 {
    let mut by_weekday = [0.0; 7];
    let mut d = first - TimeDelta::days(56);
    while d < first {
        by_weekday[d.weekday().num_days_from_monday() as usize] +=
            days.get(&d).copied().unwrap_or(0.0);
        d += TimeDelta::days(1);
    }
    let weight = |d: NaiveDate| by_weekday[d.weekday().num_days_from_monday() as usize];
    let (mut done, mut total) = (0.0, 0.0);
    let mut d = first;
    while d <= last {
        total += weight(d);
        if d <= through {
            done += weight(d);
        }
        d += TimeDelta::days(1);
    }
    done / total
}

fn status(value: f64, expected: f64) -> &'static str {
    if (value - expected).abs() <= 0.05 * expected {
        "on_track"
    } else if value > expected {
        "ahead"
    } else {
        "behind"
    }
}

async fn goal_of(app: &TestApp, token: &str, query: &str) -> (f64, Value) {
    let (status, reply) = app.get(Some(token), &format!("/api/v1/kpis?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let k = &reply["kpis"][0];
    (k["value"].as_f64().unwrap(), k["goal"].clone())
}

fn assert_pace(goal: &Value, target: f64, value: f64, share: f64) {
    let expected = target * share;
    assert!(close(goal["target"].as_f64().unwrap(), target), "{goal}");
    assert!(
        close(goal["expected_to_date"].as_f64().unwrap(), expected),
        "{goal}: want expected {expected}"
    );
    assert!(
        close(goal["projected"].as_f64().unwrap(), value / share),
        "{goal}: want projected {}",
        value / share
    );
    assert_eq!(goal["status"], status(value, expected), "{goal}");
}

async fn goal_pacing_equals_hand_computed_values_for_each_phasing(backend: Backend) {
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc);
    let app = TestApp::spawn_with(backend, |s| {
        s.clock = lodestar_core::clock::fixed_clock(now)
    })
    .await;
    let team = app.fixture_team().await;
    let token = team.token.as_str();
    let leads: Vec<Value> = read_fixture("leads.json").as_array().unwrap().clone();
    let extra = last_year_rows(&leads);
    let (status, reply) = app
        .post_json(Some(token), "/api/v1/leads", &json!(extra))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let tz = Timezone::parse(read_fixture("team.json")["timezone"].as_str().unwrap()).unwrap();
    let mut all = leads.clone();
    all.extend(extra);
    let days = per_day(&all, &tz);
    let (nov1, nov26, nov30) = (day(2026, 11, 1), day(2026, 11, 26), day(2026, 11, 30));
    let value = sum(&days, nov1, nov26);
    let target = 150.0;

    // even: 26 of 30 days.
    let put = |body: Value| {
        let app = &app;
        async move {
            let (status, reply) = app
                .put_json(Some(token), "/api/v1/goals/leads", &body)
                .await;
            assert_eq!(status, StatusCode::OK, "{reply}");
        }
    };
    put(json!({"period_kind": "month", "target": target})).await;
    let (got, goal) = goal_of(&app, token, "period=mtd&keys=leads").await;
    assert_eq!(got, value, "the fixture counted by hand");
    assert_pace(&goal, target, value, 26.0 / 30.0);

    // weekday: each day weighs what its weekday totalled over the 8 weeks before November.
    put(json!({"period_kind": "month", "target": target, "phasing": "weekday"})).await;
    let mut by_weekday = [0.0; 7];
    let mut d = nov1 - TimeDelta::days(56);
    while d < nov1 {
        by_weekday[d.weekday().num_days_from_monday() as usize] +=
            days.get(&d).copied().unwrap_or(0.0);
        d += TimeDelta::days(1);
    }
    let weight = |d: NaiveDate| by_weekday[d.weekday().num_days_from_monday() as usize];
    let (mut done, mut total) = (0.0, 0.0);
    let mut d = nov1;
    while d <= nov30 {
        total += weight(d);
        if d <= nov26 {
            done += weight(d);
        }
        d += TimeDelta::days(1);
    }
    assert!(
        done / total != 26.0 / 30.0,
        "the weekday profile is not flat"
    );
    let (_, goal) = goal_of(&app, token, "period=mtd&keys=leads").await;
    assert_pace(&goal, target, value, done / total);

    // last year: November 2025's daily shape.
    put(json!({"period_kind": "month", "target": target, "phasing": "last_year"})).await;
    let share = sum(&days, day(2025, 11, 1), day(2025, 11, 26))
        / sum(&days, day(2025, 11, 1), day(2025, 11, 30));
    assert!(
        share > 0.0 && share < 1.0 && share != 26.0 / 30.0,
        "{share}"
    );
    let (_, goal) = goal_of(&app, token, "period=mtd&keys=leads").await;
    assert_pace(&goal, target, value, share);

    // A segment's goal, evenly phased, on the segmented answer.
    let (status, reply) = app
        .put_json(Some(token), "/api/v1/goals/leads",
            &json!({"period_kind": "month", "target": 40, "segment_by": "channel", "segment": "email"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (_, reply) = app
        .get(
            Some(token),
            "/api/v1/kpis?period=mtd&keys=leads&segment_by=channel",
        )
        .await;
    let email = reply["kpis"][0]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["segment"] == "email")
        .unwrap()
        .clone();
    let email_value = leads
        .iter()
        .filter(|r| r["channel"] == "email")
        .filter(|r| {
            let at = DateTime::parse_from_rfc3339(r["created_at"].as_str().unwrap())
                .unwrap()
                .with_timezone(&tz.0)
                .date_naive();
            at >= nov1 && at <= nov26
        })
        .count() as f64;
    assert_eq!(email["value"].as_f64().unwrap(), email_value);
    assert_pace(&email["goal"], 40.0, email_value, 26.0 / 30.0);

    // The same goal phased by weekday follows the e-mail channel's own 8 weeks, not the team's.
    let (status, reply) = app
        .put_json(Some(token), "/api/v1/goals/leads",
            &json!({"period_kind": "month", "target": 40, "segment_by": "channel", "segment": "email",
                    "phasing": "weekday"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let email_rows: Vec<Value> = all
        .iter()
        .filter(|r| r["channel"] == "email")
        .cloned()
        .collect();
    let email_days = per_day(&email_rows, &tz);
    let share = weekday_share(&email_days, nov1, (nov26, nov30));
    assert!(
        (share - weekday_share(&days, nov1, (nov26, nov30))).abs() > 1e-9,
        "the channel's weekday shape differs from the team's"
    );
    let (_, reply) = app
        .get(
            Some(token),
            "/api/v1/kpis?period=mtd&keys=leads&segment_by=channel",
        )
        .await;
    let email = reply["kpis"][0]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["segment"] == "email")
        .unwrap()
        .clone();
    assert_pace(&email["goal"], 40.0, email_value, share);

    // October has ended: met or missed against the whole target.
    let october = sum(&days, day(2026, 10, 1), day(2026, 10, 31));
    for (t, want) in [(october, "met"), (october + 1.0, "missed")] {
        put(json!({"period_kind": "month", "target": t})).await;
        let (got, goal) = goal_of(&app, token, "period=2026-10&keys=leads").await;
        assert_eq!(got, october);
        assert_eq!(goal["status"], want, "{goal}");
        assert_eq!(goal["expected_to_date"].as_f64().unwrap(), t);
    }

    // Listed by identity; deleted by identity; a bad field is named.
    let (_, list) = app.get(Some(token), "/api/v1/goals").await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let (status, _) = app
        .delete(Some(token), "/api/v1/goals/leads?period_kind=month")
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, goal) = goal_of(&app, token, "period=mtd&keys=leads").await;
    assert!(goal.is_null(), "{goal}");
    let (status, _) = app
        .delete(Some(token), "/api/v1/goals/leads?period_kind=month")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, reply) = app
        .put_json(
            Some(token),
            "/api/v1/goals/leads",
            &json!({"period_kind": "fortnight", "target": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply["field"], "period_kind", "{reply}");
    let (other, other_token) = app
        .team("other-team", "UTC", lodestar_store::tokens::Role::Editor)
        .await;
    let _ = other;
    let (_, list) = app.get(Some(&other_token), "/api/v1/goals").await;
    assert_eq!(list, json!([]), "another team sees none of these goals");
}

/// The weekly report shows each KPI's weekly goal on its card, met or missed once the week ended,
/// as soon as the goal is set (a report cached before it is not shown again).
async fn report_cards_show_their_goals(backend: Backend) {
    let (app, team) = TestApp::with_fixture(backend).await;
    let mut browser = crate::common::Browser::new(&app);
    let before = browser
        .sign_in(&team.token, "/reports/weekly?period=2026-W45")
        .await;
    assert!(!before.body.contains("Goal "), "no goal yet");
    let expected = crate::common::expected_kpis("2026-W45");
    let leads = expected["leads"].as_f64().unwrap();
    for (kpi, target) in [("leads", leads - 1.0), ("mqls", 1000.0)] {
        let (status, body) = app
            .put_json(
                Some(&team.token),
                &format!("/api/v1/goals/{kpi}"),
                &json!({"period_kind": "week", "target": target}),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    let page = browser.get("/reports/weekly?period=2026-W45").await.body;
    let card = |key: &str| -> String {
        let start = page
            .find(&format!("id=\"kpi-{key}\""))
            .unwrap_or_else(|| panic!("no card {key}"));
        let end = page[start..].find("</article>").unwrap() + start;
        page[start..end].to_owned()
    };
    let leads_card = card("leads");
    assert!(
        leads_card.contains(&format!("Goal {}", leads - 1.0)),
        "{leads_card}"
    );
    assert!(leads_card.contains("<strong>met</strong>"), "{leads_card}");
    assert!(leads_card.contains("% of the goal"), "{leads_card}");
    let mqls_card = card("mqls");
    assert!(
        mqls_card.contains("Goal 1,000 · <strong>missed</strong>"),
        "{mqls_card}"
    );
    // The report's JSON carries the same goal.
    let (_, json) = app
        .get(Some(&team.token), "/api/v1/reports/weekly?period=2026-W45")
        .await;
    let mqls = json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["kpis"].as_array().unwrap().iter())
        .find(|c| c["key"] == "mqls")
        .unwrap();
    assert_eq!(mqls["goal"]["status"], "missed", "{mqls}");
    assert_eq!(mqls["goal"]["target"], 1000.0);
}
