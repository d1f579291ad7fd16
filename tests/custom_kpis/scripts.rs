//! Custom KPI scripts over HTTP: versioned, listed, segmented and deleted; a cycle of two is an
//! error naming it; compile and runtime errors carry their line and column.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::json;

use crate::backend_tests;
use crate::common::{Backend, FixtureTeam, TestApp, close};

use super::{delete_kpi, put_kpi, ratio, same};

backend_tests!(
    a_custom_kpi_is_versioned_listed_segmented_and_deleted,
    a_cycle_of_two_custom_kpis_is_an_error_naming_it,
    compile_and_runtime_errors_carry_line_and_column,
);

async fn a_custom_kpi_is_versioned_listed_segmented_and_deleted(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let (s, body) = put_kpi(
        &app,
        &token,
        "sql_share",
        r#"metric("sqls") / metric("leads") * 100"#,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({"key": "sql_share", "version": 1}));
    // Floats: 4 SQLs over 31 leads is 12.9 %, not 0.
    let (s, body) = put_kpi(
        &app,
        &token,
        "sql_share",
        r#"ratio(metric("sqls"), metric("leads")) * 100"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);

    let (_, k) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W45&keys=sql_share,sqls,leads&segment_by=channel",
        )
        .await;
    let kpi = &k["kpis"][0];
    assert_eq!(kpi["source"], "script");
    let (sqls, leads) = (
        k["kpis"][1]["value"].as_f64().unwrap(),
        k["kpis"][2]["value"].as_f64().unwrap(),
    );
    assert!(
        close(kpi["value"].as_f64().unwrap(), sqls / leads * 100.0),
        "{kpi}"
    );
    // Segments run the script per segment with segment-scoped metric().
    let seg_sqls: BTreeMap<&str, f64> = k["kpis"][1]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["segment"].as_str().unwrap(), s["value"].as_f64().unwrap()))
        .collect();
    let seg_leads: BTreeMap<&str, f64> = k["kpis"][2]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["segment"].as_str().unwrap(), s["value"].as_f64().unwrap()))
        .collect();
    for s in kpi["segments"].as_array().unwrap() {
        let name = s["segment"].as_str().unwrap();
        let expected = ratio(Some(seg_sqls[name]), Some(seg_leads[name])).map(|r| r * 100.0);
        assert!(same(&s["value"], expected), "{name}: {s}");
    }

    let (_, all) = app.get(Some(&token), "/api/v1/kpis?period=2026-W45").await;
    assert!(
        all["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["key"] == "sql_share")
    );
    let (_, catalog) = app.get(Some(&token), "/api/v1/catalog").await;
    let entry = catalog["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "sql_share")
        .unwrap();
    assert_eq!(entry["source"], "script");
    assert_eq!(entry["origin"]["version"], 2);

    let (s, history) = app
        .get(Some(&token), "/api/v1/kpis/custom/sql_share/history")
        .await;
    assert_eq!(s, StatusCode::OK);
    let versions: Vec<i64> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![2, 1]);
    assert!(
        history["versions"][1]["script"]
            .as_str()
            .unwrap()
            .starts_with("metric(")
    );

    assert_eq!(
        delete_kpi(&app, &token, "sql_share").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete_kpi(&app, &token, "sql_share").await,
        StatusCode::NOT_FOUND
    );
    let (s, _) = app
        .get(Some(&token), "/api/v1/kpis?period=2026-W45&keys=sql_share")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, history) = app
        .get(Some(&token), "/api/v1/kpis/custom/sql_share/history")
        .await;
    assert_eq!(history["versions"][0]["deleted"], true);

    // Keys of built-ins are taken; bad metadata is named; viewers cannot write.
    let (s, body) = put_kpi(&app, &token, "cac", "1").await;
    assert_eq!(
        (s, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("key"))
    );
    let team = lodestar_store::teams::find_by_slug(app.db(), "fixture-7")
        .await
        .unwrap()
        .unwrap();
    let viewer = app.token(team.id, Role::Viewer).await;
    let (s, _) = put_kpi(&app, &viewer, "mine", "1").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn a_cycle_of_two_custom_kpis_is_an_error_naming_it(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let (s, _) = put_kpi(&app, &token, "a_kpi", r#"metric("b_kpi") + 1"#).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, body) = put_kpi(&app, &token, "b_kpi", r#"metric("a_kpi") * 2"#).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["message"], "cycle: b_kpi -> a_kpi -> b_kpi");

    // Keys computed at run time escape the check at save time: the run still stops, naming it.
    let (s, _) = put_kpi(
        &app,
        &token,
        "b_kpi",
        r#"let k = "a_" + "kpi"; metric(k) * 2"#,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let started = Instant::now();
    let (s, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W45&keys=a_kpi,b_kpi,leads",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    for kpi in &body["kpis"].as_array().unwrap()[..2] {
        assert!(kpi["value"].is_null());
        let message = kpi["error"]["message"].as_str().unwrap();
        assert!(message.contains("cycle: "), "{message}");
    }
    assert_eq!(body["kpis"][2]["value"], 31, "other KPIs are unaffected");
}

async fn compile_and_runtime_errors_carry_line_and_column(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let (s, body) = put_kpi(&app, &token, "broken", "let x = 1;\nlet y = ;\nx").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "script");
    assert_eq!(body["line"], 2);
    assert!(body["column"].as_u64().is_some(), "{body}");

    let (s, _) = put_kpi(&app, &token, "typo", "let x = 2;\n\nmetric(\"leadz\") * x").await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, body) = app
        .get(Some(&token), "/api/v1/kpis?period=2026-W45&keys=typo")
        .await;
    let err = &body["kpis"][0]["error"];
    assert_eq!(err["kpi"], "typo");
    assert_eq!(err["line"], 3);
    assert_eq!(err["column"], 1);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("unknown KPI `leadz`"),
        "{err}"
    );

    let eval = json!({"script": "print(\"hello \" + period.key);\nlet s = metric(\"leads\");\ns / 0.0 + ()", "period": "2026-W45", "segment_by": "channel"});
    let (s, body) = app
        .post_json(Some(&token), "/api/v1/scripts/eval", &eval)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(
        body["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "hello 2026-W45"),
        "{body}"
    );
    assert!(body["segments"].as_array().unwrap().len() >= 5, "{body}");

    let eval = json!({"script": "let leads = metric(\"leads\");\nleads * 2", "period": "2026-W45"});
    let (_, body) = app
        .post_json(Some(&token), "/api/v1/scripts/eval", &eval)
        .await;
    assert_eq!(body["value"], 62);
    assert!(body["error"].is_null());
    let eval = json!({"script": "1 +", "period": "2026-W45"});
    let (_, body) = app
        .post_json(Some(&token), "/api/v1/scripts/eval", &eval)
        .await;
    assert_eq!(body["error"]["line"], 1, "{body}");
}
