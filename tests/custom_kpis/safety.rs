//! Custom KPIs that must not reach or hurt others: a team cannot read or run another team's
//! custom KPI, and hostile scripts are stopped while the server keeps answering.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::json;

use crate::backend_tests;
use crate::common::{Backend, FixtureTeam, TestApp};

use super::{delete_kpi, put_kpi};

backend_tests!(a_team_cannot_read_or_run_another_teams_custom_kpi);

async fn a_team_cannot_read_or_run_another_teams_custom_kpi(b: Backend) {
    let (app, FixtureTeam { token: token_a, .. }) = TestApp::with_fixture(b).await;
    let (s, _) = put_kpi(&app, &token_a, "secret_sauce", r#"metric("leads") * 3"#).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, token_b) = app.team("other", "UTC", Role::Admin).await;
    let (s, body) = app
        .get(
            Some(&token_b),
            "/api/v1/kpis?period=2026-W45&keys=secret_sauce",
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, _) = app
        .get(Some(&token_b), "/api/v1/kpis/custom/secret_sauce/history")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        delete_kpi(&app, &token_b, "secret_sauce").await,
        StatusCode::NOT_FOUND
    );
    let eval = json!({"script": "metric(\"secret_sauce\")", "period": "2026-W45"});
    let (_, body) = app
        .post_json(Some(&token_b), "/api/v1/scripts/eval", &eval)
        .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown KPI"),
        "{body}"
    );
    let (_, list) = app.get(Some(&token_b), "/api/v1/kpis/custom").await;
    assert_eq!(list["kpis"], json!([]));
    // Team B's own KPI of the same key is its own.
    let (s, _) = put_kpi(&app, &token_b, "secret_sauce", "7").await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, a) = app
        .get(
            Some(&token_a),
            "/api/v1/kpis?period=2026-W45&keys=secret_sauce",
        )
        .await;
    assert_eq!(a["kpis"][0]["value"], 93);
}

/// Hostile scripts are each stopped within a second while the server keeps answering.
#[actix_web::test]
async fn hostile_scripts_are_stopped_while_the_server_keeps_answering() {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(Backend::Sqlite).await;
    let hostile = [
        "loop {}",
        "fn f(x) { f(x + 1) } f(1)",
        "let s = \"x\"; loop { s += s; }",
        "let a = []; loop { a.push(1); }",
        "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
    ];
    let health = async {
        let mut worst = Duration::ZERO;
        for _ in 0..20 {
            let t = Instant::now();
            let (status, _) = app.get(None, "/healthz").await;
            assert_eq!(status, StatusCode::OK);
            worst = worst.max(t.elapsed());
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
        worst
    };
    let runs = futures_util::future::join_all(hostile.iter().map(|script| {
        let app = &app;
        let token = &token;
        async move {
            let t = Instant::now();
            let (s, body) = app
                .post_json(
                    Some(token),
                    "/api/v1/scripts/eval",
                    &json!({"script": script, "period": "2026-W45"}),
                )
                .await;
            (script, s, body, t.elapsed())
        }
    }));
    let (worst_health, runs) = futures_util::future::join(health, runs).await;
    for (script, s, body, elapsed) in runs {
        assert_eq!(s, StatusCode::OK, "{script}: {body}");
        assert!(body["value"].is_null(), "{script}: {body}");
        assert!(body["error"]["message"].is_string(), "{script}: {body}");
        assert!(
            elapsed < Duration::from_secs(1),
            "{script} took {elapsed:?}"
        );
    }
    assert!(
        worst_health < Duration::from_millis(500),
        "healthz took {worst_health:?}"
    );
}
