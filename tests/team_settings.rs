//! A team's settings over HTTP: its currency, set by an admin, on every money value of its
//! reports.

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::json;

use crate::backend_tests;
use crate::common::Backend;
use crate::common::TestApp;

backend_tests!(a_teams_currency_is_set_by_an_admin_and_shown_on_its_money,);

async fn a_teams_currency_is_set_by_an_admin_and_shown_on_its_money(b: Backend) {
    let (app, team) = TestApp::with_fixture(b).await;
    let admin = app.token(team.id, Role::Admin).await;

    let (status, body) = app.get(Some(&team.token), "/api/v1/team").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["currency"], "USD", "the default");

    let eur = json!({"currency": "eur"});
    let (status, body) = app
        .send("PATCH", Some(&team.token), "/api/v1/team", Some(&eur))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an editor: {body}");
    let (status, body) = app
        .send(
            "PATCH",
            Some(&admin),
            "/api/v1/team",
            Some(&json!({"currency": "EURO"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "currency");
    assert!(
        body["message"].as_str().unwrap().contains("ISO 4217"),
        "{body}"
    );
    let (status, body) = app
        .send(
            "PATCH",
            Some(&admin),
            "/api/v1/team",
            Some(&json!({"colour": "red"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("colour"),
        "{body}"
    );

    // The report before (cached) and after the change: the cache must not keep dollars.
    let path = "/api/v1/reports/weekly?period=2026-W45";
    let (_, before) = app.get(Some(&team.token), path).await;
    assert_eq!(before["team"]["currency"], "USD");
    let (status, body) = app
        .send("PATCH", Some(&admin), "/api/v1/team", Some(&eur))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["currency"], "EUR");

    let (status, report) = app.get(Some(&team.token), path).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["team"]["currency"], "EUR");
    let shown = |key: &str| {
        report["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["kpis"].as_array().unwrap())
            .find(|k| k["key"] == key)
            .unwrap_or_else(|| panic!("no card {key}"))["display"]["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Fixture week 45: CPL 160.1077…, CAC 3,731.67, total spend 7,463.34, ROAS 2.9425…,
    // CAC payback 3.3256… weeks.
    assert_eq!(shown("cpl"), "€160.11");
    assert_eq!(shown("cac"), "€3,732", "no cents from a thousand up");
    assert_eq!(shown("total_spend"), "€7,463");
    assert_eq!(shown("roas"), "2.94×");
    assert_eq!(shown("cac_payback_periods"), "3.3 weeks");
    assert_eq!(shown("leads"), "31");
    // Machines still get the exact numbers.
    let raw = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["kpis"].as_array().unwrap())
        .find(|k| k["key"] == "cac")
        .unwrap()["value"]
        .as_f64()
        .unwrap();
    assert!((raw - 3731.6699999999996).abs() < 1e-9);
}
