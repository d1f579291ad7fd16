//! Custom KPIs: the shipped pack against the fixture, scripts over HTTP, cycles, errors with
//! positions, tenancy, and hostile scripts that must not hurt the server. The helpers the topics
//! share are here; each topic has its file below `custom_kpis/`.

mod budget;
mod safety;
mod scripts;
mod shipped_pack;

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, close};

fn num(v: &Value, key: &str) -> Option<f64> {
    v[key].as_f64()
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

fn same(actual: &Value, expected: Option<f64>) -> bool {
    match (actual.as_f64(), expected) {
        (Some(a), Some(e)) => close(a, e),
        (None, None) => actual.is_null(),
        _ => false,
    }
}

async fn put_kpi(app: &TestApp, token: &str, key: &str, script: &str) -> (StatusCode, Value) {
    let body = json!({"name": key, "unit": "percent", "direction": "higher_is_better",
                      "category": "Conversion", "kind": "leading", "script": script});
    app.put_json(Some(token), &format!("/api/v1/kpis/custom/{key}"), &body)
        .await
}

async fn delete_kpi(app: &TestApp, token: &str, key: &str) -> StatusCode {
    app.delete(Some(token), &format!("/api/v1/kpis/custom/{key}"))
        .await
        .0
}
