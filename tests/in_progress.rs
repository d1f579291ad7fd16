//! A period in progress, by an injected clock: it says so ("complete": false, day 3 of 7) and is
//! compared with the same first whole local days of the period before. The expected numbers are
//! counted here from the fixture's own rows, not by the server.

use awc::http::StatusCode;
use chrono::{DateTime, Utc};
use lodestar_core::clock::fixed_clock;
use serde_json::Value;

use crate::backend_tests;
use crate::common::{Backend, Browser, TestApp, read_fixture};

backend_tests!(
    the_current_week_compares_its_days_so_far_with_the_same_days_before,
    a_week_in_progress_reads_as_such_on_the_report_page,
);

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Wednesday 2026-11-04, noon in New York (the fixture team's zone): day 3 of 2026-W45.
const WEDNESDAY_NOON: &str = "2026-11-04T17:00:00Z";

/// Fixture leads whose `field` falls in `[from, to)`.
fn leads_between(field: &str, from: &str, to: &str) -> usize {
    let (from, to) = (at(from), at(to));
    read_fixture("leads.json")
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l[field].as_str())
        .map(at)
        .filter(|t| *t >= from && *t < to)
        .count()
}

/// Fixture advertising spend of local days `[from, to)` (YYYY-MM-DD; they compare as text).
fn ad_spend_between(from: &str, to: &str) -> f64 {
    read_fixture("spend.json")
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            let day = s["day"].as_str().unwrap();
            day >= from && day < to && s["category"] == "advertising"
        })
        .map(|s| s["amount"].as_f64().unwrap())
        .sum()
}

fn kpi<'a>(body: &'a Value, key: &str) -> &'a Value {
    body["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

async fn the_current_week_compares_its_days_so_far_with_the_same_days_before(b: Backend) {
    let (app, team) = TestApp::with_fixture_and(b, |s| {
        s.clock = fixed_clock(at(WEDNESDAY_NOON));
    })
    .await;
    let path =
        "/api/v1/kpis?period=2026-W45&keys=leads,mqls,ad_spend,cpl,lead_velocity_rate&trend=3";
    let (status, body) = app.get(Some(&team.token), path).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Monday Nov 2 to Wednesday Nov 4, New York (EST since Nov 1): the span ends at the next
    // local midnight.
    let period = &body["period"];
    assert_eq!(period["key"], "2026-W45");
    assert_eq!(period["complete"], false);
    assert_eq!(period["elapsed_days"], 3);
    assert_eq!(period["elapsed"], 0.4286);
    assert_eq!(period["days"], 7);
    assert_eq!(period["start"], "2026-11-02T05:00:00Z");
    assert_eq!(period["end"], "2026-11-05T05:00:00Z");
    // The same three days of week 44 (EDT until Nov 1).
    let previous = &body["previous_period"];
    assert_eq!(previous["key"], "2026-W44");
    assert_eq!(previous["complete"], true);
    assert_eq!(previous["elapsed_days"], 3);
    assert_eq!(previous["start"], "2026-10-26T04:00:00Z");
    assert_eq!(previous["end"], "2026-10-29T04:00:00Z");

    let leads_now = leads_between("created_at", "2026-11-02T05:00:00Z", "2026-11-05T05:00:00Z");
    let leads_before = leads_between("created_at", "2026-10-26T04:00:00Z", "2026-10-29T04:00:00Z");
    let leads_before_that =
        leads_between("created_at", "2026-10-19T04:00:00Z", "2026-10-22T04:00:00Z");
    assert!(
        leads_now > 0 && leads_before > 0,
        "the fixture has leads in both spans"
    );
    let leads = kpi(&body, "leads");
    assert_eq!(leads["value"], leads_now as f64);
    assert_eq!(leads["previous"], leads_before as f64);
    let mqls = kpi(&body, "mqls");
    assert_eq!(
        mqls["value"],
        leads_between("mql_at", "2026-11-02T05:00:00Z", "2026-11-05T05:00:00Z") as f64
    );
    // Spend by local day: Nov 2–4 against Oct 26–28.
    let spend_now = ad_spend_between("2026-11-02", "2026-11-05");
    let spend_before = ad_spend_between("2026-10-26", "2026-10-29");
    let ad_spend = kpi(&body, "ad_spend");
    assert!(
        (ad_spend["value"].as_f64().unwrap() - spend_now).abs() < 0.005,
        "{ad_spend}"
    );
    assert!((ad_spend["previous"].as_f64().unwrap() - spend_before).abs() < 0.005);
    // Lead velocity compares the days so far with the same days of the week before, and its
    // previous value those with the same days of the week before that.
    let lvr = kpi(&body, "lead_velocity_rate");
    let pct = |a: usize, b: usize| (a as f64 - b as f64) / b as f64 * 100.0;
    assert!((lvr["value"].as_f64().unwrap() - pct(leads_now, leads_before)).abs() < 0.01);
    assert!(
        (lvr["previous"].as_f64().unwrap() - pct(leads_before, leads_before_that)).abs() < 0.01
    );
    // The trend's last point is the card's value; the weeks before it are whole.
    let trend = leads["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 3);
    assert_eq!(trend[2]["period"], "2026-W45");
    assert_eq!(trend[2]["value"], leads["value"]);
    assert_eq!(
        trend[1]["value"],
        leads_between("created_at", "2026-10-26T04:00:00Z", "2026-11-02T05:00:00Z") as f64
    );

    // Split by channel, the segments add up to the same days so far.
    let (status, split) = app
        .get(
            Some(&team.token),
            "/api/v1/kpis?period=2026-W45&keys=leads&segment_by=channel",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{split}");
    let segments = kpi(&split, "leads")["segments"].as_array().unwrap().clone();
    let sum = |field: &str| -> f64 {
        segments
            .iter()
            .map(|s| s[field].as_f64().unwrap_or(0.0))
            .sum()
    };
    assert_eq!(sum("value"), leads_now as f64);
    assert_eq!(sum("previous"), leads_before as f64);

    // Scripts see the days read and whether the period is over.
    let eval = serde_json::json!({
        "script": "if period.complete { -1.0 } else if period.end == \"2026-11-05T05:00:00Z\" { period.days } else { -2.0 }",
        "period": "2026-W45"
    });
    let (status, ran) = app
        .post_json(Some(&team.token), "/api/v1/scripts/eval", &eval)
        .await;
    assert_eq!(status, StatusCode::OK, "{ran}");
    assert_eq!(ran["value"], 3.0, "{ran}");

    // A week that is over is read whole, and says so.
    let (_, w44) = app
        .get(Some(&team.token), "/api/v1/kpis?period=2026-W44&keys=leads")
        .await;
    assert_eq!(w44["period"]["complete"], true);
    assert!(w44["period"].get("elapsed").is_none(), "{w44}");
    assert_eq!(
        kpi(&w44, "leads")["value"],
        leads_between("created_at", "2026-10-26T04:00:00Z", "2026-11-02T05:00:00Z") as f64
    );
}

async fn a_week_in_progress_reads_as_such_on_the_report_page(b: Backend) {
    let (app, team) = TestApp::with_fixture_and(b, |s| {
        s.clock = fixed_clock(at(WEDNESDAY_NOON));
    })
    .await;
    // A target on leads: not judged before the week is over.
    let (status, body) = app
        .put_json(
            Some(&team.token),
            "/api/v1/reports/weekly",
            &serde_json::json!({
                "title": "Weekly",
                "period_kind": "week",
                "targets": {"leads": {"min": 1000}}
            }),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let mut browser = Browser::new(&app);
    browser.sign_in(&team.token, "/").await;
    let page = browser.get("/reports/weekly?period=2026-W45").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body;
    assert!(html.contains("in progress · day 3 of 7"), "{html}");
    assert!(html.contains("compared with the first 3 days of 2026-W44"));
    assert!(html.contains("Targets are judged when it ends"));
    assert!(
        html.contains("Target ≥ 1,000 · in progress"),
        "the target waits for the end of the week"
    );
    // The week before is over: no such words.
    let page = browser.get("/reports/weekly?period=2026-W44").await;
    assert!(!page.body.contains("in progress"));
    assert!(page.body.contains("compared with 2026-W43"));
}
