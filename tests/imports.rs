//! Imports: `POST /api/v1/imports` and `lodestar import` through the shipped `connectors`
//! mappings and straight; dry runs, line numbers, header problems, rejects, encodings.

mod bulk;
mod connectors;
mod files;

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::Value;

use crate::common::{Backend, TestApp, manifest_dir};

/// The app with the shipped packs (the `connectors` mappings among them).
pub(crate) async fn app_with_packs(b: Backend) -> TestApp {
    TestApp::spawn_with(b, |s| {
        s.scripts.packs_dir = Some(manifest_dir().join("scripts"));
    })
    .await
}

pub(crate) async fn editor(app: &TestApp) -> (i32, String) {
    app.team("acme", "UTC", Role::Editor).await
}

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(manifest_dir().join("tests/fixtures/connectors").join(name)).unwrap()
}

pub(crate) async fn import(
    app: &TestApp,
    token: &str,
    query: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    app.post_raw(
        Some(token),
        &format!("/api/v1/imports?{query}"),
        "text/csv",
        body,
    )
    .await
}

/// The value of one KPI for a period.
pub(crate) async fn kpi(app: &TestApp, token: &str, period: &str, key: &str) -> Option<f64> {
    let (status, body) = app
        .get(
            Some(token),
            &format!("/api/v1/kpis?period={period}&keys={key}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {body}"))["value"]
        .as_f64()
}
