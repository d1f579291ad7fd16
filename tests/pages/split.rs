//! The report page's "split by" picker: `?segment_by=` splits every KPI for one view, kept in
//! the page's links and downloads, without changing the stored report; the CSV's segment rows
//! carry the fixture's per-channel numbers; a bad dimension is 400 naming it.

use awc::http::StatusCode;

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp, close, read_fixture};

backend_tests!(the_split_picker_splits_the_page_and_its_downloads);

async fn the_split_picker_splits_the_page_and_its_downloads(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let mut browser = Browser::new(&app);
    let plain = browser
        .sign_in(&token, "/reports/weekly?period=2026-W45")
        .await;
    assert!(
        plain
            .body
            .contains(r#"<option value="none" selected>no split</option>"#)
    );
    let page = browser
        .get("/reports/weekly?period=2026-W45&segment_by=channel")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains(r#"<option value="channel" selected>by channel</option>"#),
        "{}",
        page.body
    );
    let csv_link = page
        .body
        .split("href=\"")
        .find(|h| h.starts_with("/reports/weekly.csv"))
        .and_then(|h| h.split('"').next())
        .unwrap_or_default()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(csv_link.contains("segment_by=channel"), "{csv_link}");
    let prev = page
        .body
        .split("rel=\"prev\"")
        .next()
        .and_then(|h| h.rsplit("href=\"").next())
        .unwrap_or_default()
        .to_owned();
    assert!(prev.contains("segment_by=channel"), "{prev}");

    // The download has one row per KPI and channel, with the fixture's values.
    let csv = browser.get(&csv_link).await.body;
    // Per channel and KPI, from expected.json and expected-added.json together.
    let mut want_of = std::collections::HashMap::new();
    for file in ["expected.json", "expected-added.json"] {
        let expected = read_fixture(file);
        let case = expected["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["period"] == "2026-W45" && c["segment_by"] == "channel")
            .unwrap()
            .clone();
        for (segment, kpis) in case["segments"].as_object().unwrap() {
            for (key, value) in kpis.as_object().unwrap() {
                want_of.insert((segment.clone(), key.clone()), value.clone());
            }
        }
    }
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut checked = 0;
    for row in reader.records() {
        let row = row.unwrap();
        let segment = &row[col("segment")];
        if segment.is_empty() {
            continue;
        }
        // KPIs of the shipped packs are not in the fixture.
        let Some(want) = want_of.get(&(segment.to_owned(), row[col("key")].to_owned())) else {
            continue;
        };
        match (row[col("value")].parse::<f64>().ok(), want.as_f64()) {
            (Some(a), Some(e)) => {
                assert!(close(a, e), "{segment} {}: {a} vs {e}", &row[col("key")])
            }
            (a, e) => assert_eq!(a, e, "{segment} {}", &row[col("key")]),
        }
        checked += 1;
    }
    assert!(checked > 20, "only {checked} segment rows: {csv}");

    // `none` takes a stored split away for one view; the stored report is unchanged.
    let none = browser
        .get("/reports/weekly?period=2026-W45&segment_by=none")
        .await;
    assert!(
        none.body
            .contains(r#"<option value="none" selected>no split</option>"#)
    );
    let again = browser.get("/reports/weekly?period=2026-W45").await;
    assert!(
        again
            .body
            .contains(r#"<option value="none" selected>no split</option>"#)
    );

    let bad = browser
        .get("/reports/weekly?period=2026-W45&segment_by=colour")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/reports/weekly?period=2026-W45&segment_by=colour",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "segment_by", "{body}");
}
