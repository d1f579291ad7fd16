//! The KPI API's contract beyond the fixture numbers: shapes, errors, metadata.

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::json;

use crate::backend_tests;
use crate::common::{Backend, TestApp};

backend_tests!(
    bad_kpi_requests_get_400_with_a_helpful_message,
    the_kpi_response_has_the_documented_shape,
    changes_read_in_points_for_rates_and_scores_and_relative_for_the_rest,
);

async fn bad_kpi_requests_get_400_with_a_helpful_message(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, token) = app.team("acme", "UTC", Role::Viewer).await;
    // The first month there is has no previous month to compare with: 400, not itself.
    let (status, body) = app.get(Some(&token), "/api/v1/kpis?period=0000-01").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("too early"),
        "{body}"
    );
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
               "timezone": "America/New_York", "days": 7, "complete": true})
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

/// Fixture week 45 against week 44, by hand: leads 31 vs 17 (+82.35…%), conversion rate 6.45%
/// vs 17.65% (−11.20 points), NPS −75 vs −42.86 (−32.14 points), total spend 7,463.34 vs
/// 9,315.74 (−19.89%, neither good nor bad), churn rate 10.53% vs 0% (no relative change).
async fn changes_read_in_points_for_rates_and_scores_and_relative_for_the_rest(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, token) = app.team("nyc", "America/New_York", Role::Editor).await;
    app.load_fixture(&token).await;
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W45&keys=leads,conversion_rate,nps,total_spend,churn_rate",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kpi = |i: usize| &body["kpis"][i];
    let close = |v: &serde_json::Value, x: f64| (v.as_f64().unwrap() - x).abs() < 1e-9;

    assert_eq!(kpi(0)["change"], 14);
    assert_eq!(kpi(0)["change_pct"], 82.35);
    assert_eq!(
        kpi(0)["change_display"],
        "+82.4%",
        "rounded once, from 82.3529…"
    );
    assert!(close(
        &kpi(1)["change"],
        6.451612903225806 - 17.647058823529413
    ));
    assert_eq!(kpi(1)["change_display"], "-11.2 pp");
    assert!(close(&kpi(2)["change"], -75.0 + 42.857142857142854));
    assert_eq!(kpi(2)["change_display"], "-32.1 pts");
    assert_eq!(kpi(3)["direction"], "neutral");
    assert_eq!(kpi(3)["change_display"], "-19.9%");
    assert!(kpi(4)["change_pct"].is_null(), "no relative change from 0%");
    assert_eq!(kpi(4)["change_display"], "+10.5 pp");
}
