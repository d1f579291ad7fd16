//! Every number of ../shared/fixtures/small/expected.json and expected-added.json (the funnel
//! steps, lead score and customer lifetime), through the real loading API and the real KPI API.

use std::collections::BTreeMap;

use awc::http::StatusCode;
use serde_json::Value;

use crate::backend_tests;
use crate::common::{Backend, FixtureTeam, TestApp, close, read_fixture};

backend_tests!(
    every_expected_kpi_value_and_segment_matches,
    every_added_kpi_value_and_segment_matches,
    the_stage_distribution_matches,
    segments_of_additive_measures_sum_to_the_total,
);

/// Compares one KPI's API value with the expected one; returns a message on mismatch.
fn compare(what: &str, actual: &Value, expected: &Value) -> Option<String> {
    match (expected.as_f64(), actual.as_f64()) {
        (Some(e), Some(a)) if close(a, e) => None,
        (None, None) if expected.is_null() && actual.is_null() => None,
        _ => Some(format!("{what}: expected {expected}, got {actual}")),
    }
}

async fn every_expected_kpi_value_and_segment_matches(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let checked = matches_expected(&app, &token, "expected.json").await;
    assert!(checked > 1000, "only {checked} values checked");
}

async fn every_added_kpi_value_and_segment_matches(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let checked = matches_expected(&app, &token, "expected-added.json").await;
    assert!(checked > 200, "only {checked} values checked");
}

/// Compares every value of an expected-values file with the API's; returns how many it compared.
async fn matches_expected(app: &TestApp, token: &str, file: &str) -> usize {
    let token = token.to_owned();
    let expected = read_fixture(file);
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for case in expected["cases"].as_array().unwrap() {
        let period = case["period"].as_str().unwrap();
        let segment_by = case["segment_by"].as_str();
        let path = match segment_by {
            Some(d) => format!("/api/v1/kpis?period={period}&segment_by={d}"),
            None => format!("/api/v1/kpis?period={period}"),
        };
        let (status, body) = app.get(Some(&token), &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let kpis: BTreeMap<&str, &Value> = body["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k["key"].as_str().unwrap(), k))
            .collect();
        match segment_by {
            None => {
                for (key, want) in case["kpis"].as_object().unwrap() {
                    let got = kpis.get(key.as_str()).map(|k| &k["value"]);
                    let got = got.unwrap_or(&Value::Null);
                    if let Some(m) = compare(&format!("{period} {key}"), got, want) {
                        mismatches.push(m);
                    }
                    checked += 1;
                }
            }
            Some(dim) => {
                let segments = case["segments"].as_object().unwrap();
                // Every KPI: unsupported exactly where expected, else each segment's value.
                let mut keys: Vec<&String> = segments
                    .values()
                    .flat_map(|s| s.as_object().unwrap().keys())
                    .collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    let kpi = kpis[key.as_str()];
                    let unsupported_expected = segments
                        .values()
                        .all(|s| s[key.as_str()] == Value::String("unsupported".into()));
                    if unsupported_expected {
                        if kpi["unsupported"].as_str().is_none() || !kpi["segments"].is_null() {
                            mismatches.push(format!(
                                "{period} {dim} {key}: expected unsupported, got {kpi}"
                            ));
                        }
                        checked += 1;
                        continue;
                    }
                    let got: BTreeMap<&str, &Value> = kpi["segments"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|s| (s["segment"].as_str().unwrap(), &s["value"]))
                                .collect()
                        })
                        .unwrap_or_default();
                    for (segment, values) in segments {
                        let want = &values[key.as_str()];
                        let what = format!("{period} {dim}={segment} {key}");
                        match got.get(segment.as_str()) {
                            Some(v) => {
                                if let Some(m) = compare(&what, v, want) {
                                    mismatches.push(m);
                                }
                            }
                            None => mismatches.push(format!("{what}: segment missing")),
                        }
                        checked += 1;
                    }
                    let extra: Vec<&&str> =
                        got.keys().filter(|s| !segments.contains_key(**s)).collect();
                    if !extra.is_empty() {
                        mismatches.push(format!(
                            "{period} {dim} {key}: unexpected segments {extra:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{file}: {} of {checked} values differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    checked
}

async fn the_stage_distribution_matches(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let expected = read_fixture("expected.json");
    for (period, stages) in expected["stage_distribution"].as_object().unwrap() {
        let (status, body) = app
            .get(Some(&token), &format!("/api/v1/stages?period={period}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(&body["stages"], stages, "{period}");
    }
}

async fn segments_of_additive_measures_sum_to_the_total(b: Backend) {
    use lodestar_core::measure::Measure;
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let additive: Vec<&str> = Measure::ALL
        .iter()
        .filter(|m| m.is_additive() && !m.is_internal())
        .map(|m| m.key())
        .collect();
    let keys = additive.join(",");
    let mut checked = 0;
    for period in ["2026-W44", "2026-W45", "2026-11", "2026-Q4", "2026-11-03"] {
        for dim in [
            "channel",
            "campaign",
            "source",
            "category",
            "attrs.region",
            "attrs.action",
        ] {
            let (status, body) = app
                .get(
                    Some(&token),
                    &format!("/api/v1/kpis?period={period}&segment_by={dim}&keys={keys}"),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            for kpi in body["kpis"].as_array().unwrap() {
                let Some(segments) = kpi["segments"].as_array() else {
                    continue;
                };
                for field in ["value", "previous"] {
                    let total = kpi[field].as_f64().unwrap();
                    let sum: f64 = segments.iter().map(|s| s[field].as_f64().unwrap()).sum();
                    assert!(
                        close(sum, total),
                        "{period} {dim} {} {field}: segments sum to {sum}, total {total}",
                        kpi["key"]
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 300, "only {checked} sums checked");
}
