//! The cached report: user text is escaped, and a data load or a KPI pack reload shows through
//! the cache.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use lodestar_core::catalog::Unit;
use lodestar_report::format::format_value;
use lodestar_store::tokens::Role;
use serde_json::json;

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp};

use super::{card, expected_case, json_card};

backend_tests!(user_text_is_escaped_and_a_data_load_refreshes_the_cached_report);

async fn user_text_is_escaped_and_a_data_load_refreshes_the_cached_report(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let (status, body) = app.put_json(Some(&token),
        "/api/v1/reports/by-channel",
        &json!({
            "title": "Leads <b>by</b> channel", "kpis": ["leads", "cpl"], "segment_by": "channel",
            "targets": {"leads": {"min": 40}, "cpl": {"max": 400}}
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let mut browser = Browser::new(&app);
    let before = browser
        .sign_in(&token, "/reports/by-channel?period=2026-W45")
        .await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    let leads = expected_case("2026-W45")["leads"].as_f64().unwrap();
    let count = |n: f64| format!(">{}</div>", format_value(Unit::Count, Some(n)));
    assert!(card(&before.body, "leads").contains(&count(leads)));
    assert!(
        card(&before.body, "leads").contains("Target ≥ 40 · missed"),
        "{}",
        card(&before.body, "leads")
    );

    let evil = "<script>alert(1)</script>";
    let (status, body) = app
        .post_json(
            Some(&token),
            "/api/v1/leads",
            &json!([{"id": "xss-1", "created_at": "2026-11-04T15:00:00Z", "channel": evil, "source": evil}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let after = browser.get("/reports/by-channel?period=2026-W45").await;
    assert_eq!(after.status, StatusCode::OK);
    let html = &after.body;
    assert!(
        card(html, "leads").contains(&count(leads + 1.0)),
        "the cache saw the load"
    );
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
    assert!(!html.contains(evil), "{html}");
    assert!(html.contains("Leads &#60;b&#62;by&#60;/b&#62; channel"));
    assert!(!html.contains("<b>by</b>"));
    assert!(html.contains("By channel"));
    // The page forbids inline scripts besides: a slip in escaping would still not run.
    assert!(!html.contains("<script>"));

    // Machines get the name as it is.
    let csv = browser.get("/reports/by-channel.csv?period=2026-W45").await;
    assert!(csv.body.contains(evil));
    let (_, json) = app
        .get(Some(&token), "/api/v1/reports/by-channel?period=2026-W45")
        .await;
    let leads_card = json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["kpis"].as_array().unwrap())
        .find(|c| c["key"] == "leads")
        .unwrap();
    let segments = leads_card["segments"].as_array().unwrap();
    assert!(segments.iter().any(|s| s["segment"] == evil), "{json}");
}

/// A pack reload changes KPIs without touching the team's data version: the cached report must
/// still follow it.
#[actix_web::test]
async fn a_kpi_pack_reload_refreshes_a_cached_report() {
    let packs = tempfile::tempdir().unwrap();
    let pack = crate::common::constant_pack(packs.path());
    let broken = packs.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("plugin.toml"), "this is not <b>toml</b>\n").unwrap();
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.scripts.packs_dir = Some(packs.path().to_owned());
    })
    .await;
    let (_, token) = app.team("packs", "UTC", Role::Viewer).await;
    let path = "/api/v1/reports/weekly?period=2026-W45";

    let value_soon = |expected: f64| {
        let app = &app;
        let token = token.clone();
        async move {
            let started = Instant::now();
            loop {
                let (status, report) = app.get(Some(&token), path).await;
                assert_eq!(status, StatusCode::OK, "{report}");
                let value = json_card(&report, "pack_constant").and_then(|c| c["value"].as_f64());
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
    // Served from the cache now; the reload must still show through.
    std::fs::write(pack.join("constant.rhai"), "42 // changed\n").unwrap();
    value_soon(42.0).await;

    // The catalog page lists the pack that did not load, as text.
    let mut me = Browser::new(&app);
    let page = me.sign_in(&token, "/catalog").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("KPI packs that did not load"),
        "{}",
        page.body
    );
    assert!(page.body.contains("broken"));
    assert!(!page.body.contains("<b>toml</b>"));
    assert!(page.body.contains("data-kpi=\"pack_constant\""));
}
