//! A segment set as large as the validator accepts runs: its lists are bound as one parameter
//! each, so thousands of values never reach SQLite's or PostgreSQL's limit on variables (they
//! were a 500 "too many SQL variables" from about 3,250 values). The counts are checked against
//! the fixture's rows, counted here.

use awc::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, FixtureTeam, TestApp, read_fixture};

use super::{W44_END, W44_START};

backend_tests!(a_segment_set_with_thousands_of_values_splits_like_the_rows_say);

fn fakes(segment: usize, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("c{segment}-{i}'\"\\")).collect()
}

/// Fixture leads created in week 44 (New York) whose campaign passes `keep`.
fn leads_in_w44(keep: impl Fn(Option<&str>) -> bool) -> f64 {
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let (from, to) = (at(W44_START), at(W44_END));
    read_fixture("leads.json")
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            let t = at(l["created_at"].as_str().unwrap());
            t >= from && t < to && keep(l["campaign"].as_str())
        })
        .count() as f64
}

async fn a_segment_set_with_thousands_of_values_splits_like_the_rows_say(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    // 49 segments of 200 values (9,800 values), and one more for everything else.
    let mut segments: Vec<Value> = (0..49)
        .map(|i| {
            let mut values = fakes(i, 200);
            if i == 0 {
                values[199] = "newsletter".to_owned();
            }
            if i == 1 {
                values[0] = "brand".to_owned();
                values[1] = "webinar".to_owned();
            }
            json!({"name": format!("s{i}"), "filter": {"campaign": {"in": values}}})
        })
        .collect();
    let mut known = fakes(99, 197);
    known.extend(["newsletter", "brand", "webinar"].map(str::to_owned));
    segments.push(json!({"name": "other", "filter": {"campaign": {"not_in": known}}}));
    let set = json!({ "segments": segments });
    let (status, body) = app
        .send("PUT", Some(&token), "/api/v1/segments/huge", Some(&set))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W44&keys=leads&segment_by=set:huge",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let segment = |name: &str| -> f64 {
        body["kpis"][0]["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["segment"] == name)
            .map_or(0.0, |s| s["value"].as_f64().unwrap_or(0.0))
    };
    assert_eq!(segment("s0"), leads_in_w44(|c| c == Some("newsletter")));
    assert_eq!(
        segment("s1"),
        leads_in_w44(|c| matches!(c, Some("brand" | "webinar")))
    );
    assert_eq!(segment("s2"), 0.0);
    // `not_in` keeps the rows without a campaign.
    assert_eq!(
        segment("other"),
        leads_in_w44(|c| !matches!(c, Some("newsletter" | "brand" | "webinar")))
    );
    assert!(segment("other") > 0.0);

    // The partition check reads the same lists.
    let (status, check) = app
        .get(Some(&token), "/api/v1/segments/huge/check?period=2026-W44")
        .await;
    assert_eq!(status, StatusCode::OK, "{check}");
}
