//! The KPI API caches its answers like the pages: a repeated request is served from the cache,
//! and a data load, a custom KPI change or a KPI pack reload is seen at once.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::json;

use crate::backend_tests;
use crate::common::{Backend, FixtureTeam, TestApp};

backend_tests!(a_cached_kpi_answer_gives_way_to_new_data_and_changed_kpis);

const ASK: &str = "/api/v1/kpis?period=2026-W45&keys=leads&trend=2";

async fn a_cached_kpi_answer_gives_way_to_new_data_and_changed_kpis(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let (status, first) = app.get(Some(&token), ASK).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, again) = app.get(Some(&token), ASK).await;
    assert_eq!(first, again);
    let leads = first["kpis"][0]["value"].as_f64().unwrap();

    // A new lead in week 45 (New York): the next answer counts it.
    let (status, body) = app
        .post_json(
            Some(&token),
            "/api/v1/leads",
            &json!([{"id": "cache-1", "created_at": "2026-11-04T15:00:00Z"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, after) = app.get(Some(&token), ASK).await;
    assert_eq!(after["kpis"][0]["value"].as_f64().unwrap(), leads + 1.0);

    // A custom KPI changed: the answers that name it follow.
    let ask = "/api/v1/kpis?period=2026-W45&keys=twice";
    let put = |script: &'static str| {
        let body = json!({"name": "Twice", "unit": "count", "direction": "higher_is_better",
                          "category": "Lead volume & quality", "kind": "leading", "script": script});
        let app = &app;
        let token = token.clone();
        async move {
            app.put_json(Some(&token), "/api/v1/kpis/custom/twice", &body)
                .await
        }
    };
    let (status, body) = put(r#"metric("leads") * 2"#).await;
    assert!(status.is_success(), "{body}");
    let (_, two) = app.get(Some(&token), ask).await;
    assert_eq!(
        two["kpis"][0]["value"].as_f64().unwrap(),
        (leads + 1.0) * 2.0
    );
    let (status, body) = put(r#"metric("leads") * 3"#).await;
    assert!(status.is_success(), "{body}");
    let (_, three) = app.get(Some(&token), ask).await;
    assert_eq!(
        three["kpis"][0]["value"].as_f64().unwrap(),
        (leads + 1.0) * 3.0
    );
}

/// A pack reload changes a KPI without touching the team's data version: the cached answer must
/// still follow it (the pack generation is part of the cache key).
#[actix_web::test]
async fn a_cached_kpi_answer_gives_way_to_a_pack_reload() {
    let packs = tempfile::tempdir().unwrap();
    let pack = crate::common::constant_pack(packs.path());
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.scripts.packs_dir = Some(packs.path().to_owned());
    })
    .await;
    let (_, token) = app.team("packs", "UTC", Role::Viewer).await;
    let ask = "/api/v1/kpis?period=2026-W45&keys=pack_constant";
    let value_soon = |expected: f64| {
        let app = &app;
        let token = token.clone();
        async move {
            let started = Instant::now();
            loop {
                let (status, body) = app.get(Some(&token), ask).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                let value = body["kpis"][0]["value"].as_f64();
                if value == Some(expected) {
                    return;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "pack_constant stayed {value:?}, expected {expected}"
                );
                actix_web::rt::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    value_soon(41.0).await;
    // The same answer again, now from the cache; then the pack changes on disk.
    let (_, cached) = app.get(Some(&token), ask).await;
    assert_eq!(cached["kpis"][0]["value"].as_f64(), Some(41.0));
    std::fs::write(pack.join("constant.rhai"), "42 // changed\n").unwrap();
    value_soon(42.0).await;
}
