//! The report as CSV and JSON: the same numbers as the page.

use std::collections::HashMap;

use awc::http::StatusCode;
use lodestar_core::catalog::Builtin;
use serde_json::Value;

use crate::backend_tests;
use crate::common::shown as shown_value;
use crate::common::{Backend, Browser, FixtureTeam, TestApp, close, read_fixture};

use super::{W45, card, expected_case};

backend_tests!(csv_and_json_carry_the_numbers_of_the_page);

async fn csv_and_json_carry_the_numbers_of_the_page(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let mut browser = Browser::new(&app);
    let page = browser.sign_in(&token, W45).await;
    let csv_page = browser.get("/reports/weekly.csv?period=2026-W45").await;
    assert_eq!(csv_page.status, StatusCode::OK);
    let (status, json) = app
        .get(Some(&token), "/api/v1/reports/weekly?period=2026-W45")
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["period"]["key"], "2026-W45");
    assert_eq!(json["label"], "Week 45, 2026 (Nov 2 – Nov 8)");

    let json_cards: HashMap<String, Value> = json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["kpis"].as_array().unwrap().iter())
        .map(|c| (c["key"].as_str().unwrap().to_owned(), c.clone()))
        .collect();
    let (_, kpis) = app.get(Some(&token), "/api/v1/kpis?period=2026-W45").await;
    let api_changes: HashMap<String, Value> = kpis["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key"].as_str().unwrap().to_owned(),
                k["change_display"].clone(),
            )
        })
        .collect();
    let expected = expected_case("2026-W45");
    let mut reader = csv::Reader::from_reader(csv_page.body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut seen = 0;
    for row in reader.records() {
        let row = row.unwrap();
        if !row[col("segment")].is_empty() {
            continue;
        }
        seen += 1;
        let key = &row[col("key")];
        let csv_value: Option<f64> = row[col("value")].parse().ok();
        let card_json = &json_cards[key];
        // serde_json may parse the last digit one ULP off: compare within the spec's tolerance.
        match (csv_value, card_json["value"].as_f64()) {
            (Some(a), Some(b)) => assert!(close(a, b), "{key}: CSV {a}, JSON {b}"),
            (a, b) => assert_eq!(a, b, "{key}: CSV and JSON"),
        }
        match (expected[key].as_f64(), csv_value) {
            (Some(e), Some(a)) => assert!(close(a, e), "{key}: {a} vs expected {e}"),
            (None, None) => {}
            other => panic!("{key}: {other:?}"),
        }
        let shown = shown_value(key, csv_value);
        assert_eq!(card_json["display"]["value"], shown.as_str());
        assert!(
            card(&page.body, key).contains(&format!(">{shown}</div>")),
            "{key}"
        );
        // One change text everywhere: the CSV's last column, the JSON's change_display and
        // display.change, the page's card and GET /api/v1/kpis.
        let change = &row[col("change_display")];
        assert_eq!(col("change_display"), headers.len() - 1, "the last column");
        assert!(!change.is_empty(), "{key}");
        assert_eq!(card_json["change_display"], change, "{key}");
        assert_eq!(card_json["display"]["change"], change, "{key}");
        assert!(
            card(&page.body, key).contains(&format!("{change}</span>")),
            "{key}: {change}"
        );
        assert_eq!(api_changes[key], change, "{key}");
    }
    assert_eq!(seen, Builtin::ALL.len());
    let stages = &read_fixture("expected.json")["stage_distribution"]["2026-W45"];
    for s in json["stages"].as_array().unwrap() {
        assert_eq!(s["count"], stages[s["stage"].as_str().unwrap()], "{s}");
    }
}
