//! Report definitions: validated, and scoped to their team.

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, FixtureTeam, TestApp, close};

use super::expected_case;

backend_tests!(report_definitions_are_validated_and_scoped_to_their_team);

async fn report_definitions_are_validated_and_scoped_to_their_team(b: Backend) {
    let (app, FixtureTeam { id: team_id, token }) = TestApp::with_fixture(b).await;
    let put = |token: String, slug: &'static str, body: Value| {
        let app = &app;
        async move {
            app.put_json(Some(&token), &format!("/api/v1/reports/{slug}"), &body)
                .await
        }
    };
    let monthly = json!({"title": "Monthly paid", "period_kind": "month", "kpis": ["leads", "cpl", "cac"],
                         "segment_by": "channel", "targets": {"cpl": {"max": 400}}});
    let (status, body) = put(token.clone(), "monthly", monthly.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"], 1);
    let (status, body) = put(token.clone(), "monthly", monthly).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);

    // Invalid definitions are 422 like every other invalid body of the API, naming the field;
    // a body that is not JSON at all stays a 400.
    let (status, body) = put(token.clone(), "broken", json!({"kpis": ["leads", "cpa"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["message"].as_str().unwrap().contains("`cpa`"),
        "{body}"
    );
    let (status, body) = put(token.clone(), "broken", json!({"segment_by": "region"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "validation");
    assert_eq!(body["field"], "segment_by");
    let (status, body) = put(token.clone(), "broken", json!({"titel": "typo"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let viewer = app.token(team_id, Role::Viewer).await;
    let (status, _) = put(viewer.clone(), "mine", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, list) = app.get(Some(&viewer), "/api/v1/reports").await;
    assert_eq!(status, StatusCode::OK);
    let slugs: Vec<&str> = list["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["weekly", "monthly"]);

    // The month of the fixture, as JSON, with the report's KPIs only and its target judged.
    let (status, report) = app
        .get(Some(&viewer), "/api/v1/reports/monthly?period=2026-11")
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let cards: Vec<&Value> = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["kpis"].as_array().unwrap())
        .collect();
    let keys: Vec<&str> = cards.iter().map(|c| c["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["leads", "cpl", "cac"]);
    let nov = expected_case("2026-11");
    let cpl = cards[1];
    assert!(close(
        cpl["value"].as_f64().unwrap(),
        nov["cpl"].as_f64().unwrap()
    ));
    let met = if nov["cpl"].as_f64().unwrap() <= 400.0 {
        "met"
    } else {
        "missed"
    };
    assert_eq!(cpl["target"]["status"], met);
    assert_eq!(report["segments"]["dimension"], "channel");

    // Another team sees none of it.
    let (_, other) = app.team("other", "UTC", Role::Admin).await;
    let (status, _) = app
        .get(Some(&other), "/api/v1/reports/monthly?period=2026-11")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get(Some(&other), "/api/v1/reports").await;
    assert_eq!(list["reports"].as_array().unwrap().len(), 1);

    // Replacing `weekly` changes it for this team only; deleting restores the built-in.
    let (status, _) = put(
        token.clone(),
        "weekly",
        json!({"title": "Our week", "kpis": ["leads"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, week) = app
        .get(Some(&token), "/api/v1/reports/weekly?period=2026-W45")
        .await;
    assert_eq!(week["definition"]["title"], "Our week");
    let (status, _) = app.delete(Some(&token), "/api/v1/reports/weekly").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, week) = app
        .get(Some(&token), "/api/v1/reports/weekly?period=2026-W45")
        .await;
    assert_eq!(week["definition"]["builtin"], true);
}
