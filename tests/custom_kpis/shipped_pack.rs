//! The shipped KPI pack against the small fixture: each value matches the number computed here
//! by hand from the fixture files.

use std::collections::BTreeMap;

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, FixtureTeam, TestApp, read_fixture};

use super::{num, ratio, same};

backend_tests!(the_shipped_pack_matches_numbers_computed_by_hand_from_the_fixture);

/// The expected built-in values of a case of expected.json, for each segment ("" = total).
fn expected_case(period: &str, segment_by: Option<&str>) -> BTreeMap<String, Value> {
    let expected = read_fixture("expected.json");
    let case = expected["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["period"] == period && c["segment_by"].as_str() == segment_by)
        .unwrap()
        .clone();
    match segment_by {
        None => BTreeMap::from([(String::new(), case["kpis"].clone())]),
        Some(_) => case["segments"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// The pack's KPIs, computed here from the fixture's independently computed built-ins.
fn by_hand(now: &Value, before: &Value) -> BTreeMap<&'static str, Option<f64>> {
    let mqls_change = num(now, "mqls")
        .zip(num(before, "mqls"))
        .map(|(n, b)| n - b);
    BTreeMap::from([
        (
            "gross_roi",
            ratio(num(now, "revenue"), num(now, "total_spend")).map(|r| r * 100.0),
        ),
        (
            "revenue_per_lead",
            ratio(num(now, "revenue"), num(now, "leads")),
        ),
        (
            "leads_per_sale",
            ratio(num(now, "leads"), num(now, "customers_won")),
        ),
        (
            "qualified_lead_ratio",
            ratio(num(now, "sqls"), num(now, "leads")).map(|r| r * 100.0),
        ),
        (
            "mql_velocity",
            ratio(mqls_change, num(before, "mqls")).map(|r| r * 100.0),
        ),
        (
            "cost_per_opportunity",
            ratio(num(now, "total_spend"), num(now, "opportunities")),
        ),
    ])
}

async fn the_shipped_pack_matches_numbers_computed_by_hand_from_the_fixture(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture_and(b, |s| {
        s.scripts.packs_dir = Some(crate::common::manifest_dir().join("scripts"));
    })
    .await;
    // The fixture has no demo bookings: add some, counted by hand below.
    let demos = json!([
        {"id": "D1", "kind": "demo_booked", "occurred_at": "2026-11-03T15:00:00Z", "channel": "email"},
        {"id": "D2", "kind": "demo_booked", "occurred_at": "2026-11-05T15:00:00Z", "channel": "email"},
        {"id": "D3", "kind": "demo_booked", "occurred_at": "2026-11-06T15:00:00Z", "channel": "social"},
        {"id": "D4", "kind": "demo_booked", "occurred_at": "2026-10-28T15:00:00Z", "channel": "social"},
        // Sunday 23:30 in New York is still week 45.
        {"id": "D5", "kind": "demo_booked", "occurred_at": "2026-11-09T04:30:00Z"}
    ]);
    let (s, _) = app.post_json(Some(&token), "/api/v1/events", &demos).await;
    assert_eq!(s, StatusCode::OK);
    let keys = "gross_roi,revenue_per_lead,leads_per_sale,qualified_lead_ratio,mql_velocity,cost_per_opportunity,demo_bookings";
    let demo_count = BTreeMap::from([
        (("2026-W45", ""), 4.0),
        (("2026-W44", ""), 1.0),
        (("2026-W44", "social"), 1.0),
        (("2026-W45", "email"), 2.0),
        (("2026-W45", "social"), 1.0),
        (("2026-W45", "(none)"), 1.0),
    ]);
    let mut checked = 0;
    for (period, before) in [("2026-W45", "2026-W44"), ("2026-W44", "2026-W43")] {
        for segment_by in [None, Some("channel")] {
            let path = match segment_by {
                None => format!("/api/v1/kpis?period={period}&keys={keys}"),
                Some(d) => format!("/api/v1/kpis?period={period}&keys={keys}&segment_by={d}"),
            };
            let (status, body) = app.get(Some(&token), &path).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let now = expected_case(period, segment_by);
            let prior = (before != "2026-W43").then(|| expected_case(before, segment_by));
            for kpi in body["kpis"].as_array().unwrap() {
                assert_eq!(kpi["source"], "script");
                let key = kpi["key"].as_str().unwrap();
                let values: Vec<(String, &Value)> = match segment_by {
                    None => vec![(String::new(), &kpi["value"])],
                    Some(_) => kpi["segments"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| (s["segment"].as_str().unwrap().to_owned(), &s["value"]))
                        .collect(),
                };
                for (segment, actual) in values {
                    let expected = if key == "demo_bookings" {
                        Some(*demo_count.get(&(period, segment.as_str())).unwrap_or(&0.0))
                    } else if key == "mql_velocity" && prior.is_none() {
                        continue; // W43 is not in expected.json
                    } else {
                        let Some(now_seg) = now.get(&segment) else {
                            // A segment with only demo bookings: every built-in there is empty.
                            assert!(
                                actual.is_null() || key == "demo_bookings",
                                "{key} {segment}: {actual}"
                            );
                            continue;
                        };
                        let empty = json!({});
                        let before_seg = prior
                            .as_ref()
                            .and_then(|p| p.get(&segment))
                            .unwrap_or(&empty);
                        by_hand(now_seg, before_seg)[key]
                    };
                    assert!(
                        same(actual, expected),
                        "{period} {segment_by:?} {segment:?} {key}: got {actual}, by hand {expected:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 60, "only {checked} checked");

    // The pack shows in the catalog, as scripts, with no problems.
    let (_, catalog) = app.get(Some(&token), "/api/v1/catalog").await;
    let gross = catalog["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "gross_roi")
        .unwrap();
    assert_eq!(gross["source"], "script");
    assert_eq!(gross["origin"]["pack"], "lead-gen-extras");
    assert_eq!(catalog["problems"], json!([]));
}
