//! The KPI API's contract beyond the fixture numbers: shapes, errors, metadata.

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::json;

use crate::backend_tests;
use crate::common::{Backend, TestApp};

backend_tests!(
    bad_kpi_requests_get_400_with_a_helpful_message,
    the_kpi_response_has_the_documented_shape,
);

async fn bad_kpi_requests_get_400_with_a_helpful_message(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, token) = app.team("acme", "UTC", Role::Viewer).await;
    let (status, body) = app.get(Some(&token), "/api/v1/kpis?period=2026-W61").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("2026-W45") && msg.contains("2026-Q4"), "{msg}");
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W45&segment_by=region",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("`region`"),
        "{body}"
    );
    let (status, body) = app
        .get(Some(&token), "/api/v1/kpis?period=2026-W45&keys=leads,cpa")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("`cpa`"),
        "{body}"
    );
    let (status, _) = app.get(None, "/api/v1/kpis?period=2026-W45").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn the_kpi_response_has_the_documented_shape(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, token) = app.team("nyc", "America/New_York", Role::Editor).await;
    app.load_fixture(&token).await;
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W44&keys=leads,cpl&segment_by=attrs.region&trend=4",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["period"],
        json!({"key": "2026-W44", "start": "2026-10-26T04:00:00Z", "end": "2026-11-02T05:00:00Z",
               "timezone": "America/New_York", "days": 7})
    );
    assert_eq!(body["previous_period"]["key"], "2026-W43");
    assert_eq!(body["segment_by"], "attrs.region");
    let leads = &body["kpis"][0];
    assert_eq!(leads["key"], "leads");
    assert_eq!(leads["unit"], "count");
    assert_eq!(leads["direction"], "higher_is_better");
    assert_eq!(leads["kind"], "leading");
    assert_eq!(leads["category"], "Lead volume & quality");
    assert_eq!(leads["source"], "builtin");
    assert_eq!(leads["value"], 17);
    assert_eq!(leads["previous"], 18);
    assert_eq!(leads["change_pct"], -5.56);
    assert_eq!(leads["trend"].as_array().unwrap().len(), 4);
    assert_eq!(
        leads["trend"][3],
        json!({"period": "2026-W44", "value": 17})
    );
    let cpl = &body["kpis"][1];
    assert!(cpl["segments"].is_null());
    assert_eq!(
        cpl["unsupported"],
        "cpl needs spend, which has no dimension attrs.region"
    );
    assert!((cpl["value"].as_f64().unwrap() - 400.9258823529412).abs() < 1e-9);

    let (status, catalog) = app.get(Some(&token), "/api/v1/catalog").await;
    assert_eq!(status, StatusCode::OK);
    let kpis = catalog["kpis"].as_array().unwrap();
    assert_eq!(kpis.len(), lodestar_core::catalog::Builtin::ALL.len());
    assert_eq!(kpis.len(), 52);
    let cac = kpis.iter().find(|k| k["key"] == "cac").unwrap();
    assert_eq!(cac["formula"], "total_spend / customers_won");
    assert_eq!(cac["direction"], "lower_is_better");
    assert_eq!(cac["category"], "Cost efficiency");
}
