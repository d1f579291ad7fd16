//! Custom KPIs: the shipped pack against the fixture, scripts over HTTP, cycles, errors with
//! positions, tenancy, and hostile scripts that must not hurt the server.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, FixtureTeam, TestApp, close, read_fixture};

backend_tests!(
    the_shipped_pack_matches_numbers_computed_by_hand_from_the_fixture,
    a_custom_kpi_is_versioned_listed_segmented_and_deleted,
    a_cycle_of_two_custom_kpis_is_an_error_naming_it,
    compile_and_runtime_errors_carry_line_and_column,
    a_team_cannot_read_or_run_another_teams_custom_kpi,
);

/// The expected built-in values of a case of expected.json, for each segment ("" = total).
fn expected_case(period: &str, segment_by: Option<&str>) -> BTreeMap<String, Value> {
    let expected = read_fixture("expected.json");
    let case = expected["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["period"] == period && c["segment_by"].as_str() == segment_by)
        .unwrap()
        .clone();
    match segment_by {
        None => BTreeMap::from([(String::new(), case["kpis"].clone())]),
        Some(_) => case["segments"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v[key].as_f64()
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

/// The pack's KPIs, computed here from the fixture's independently computed built-ins.
fn by_hand(now: &Value, before: &Value) -> BTreeMap<&'static str, Option<f64>> {
    let mqls_change = num(now, "mqls")
        .zip(num(before, "mqls"))
        .map(|(n, b)| n - b);
    BTreeMap::from([
        (
            "gross_roi",
            ratio(num(now, "revenue"), num(now, "total_spend")).map(|r| r * 100.0),
        ),
        (
            "revenue_per_lead",
            ratio(num(now, "revenue"), num(now, "leads")),
        ),
        (
            "leads_per_sale",
            ratio(num(now, "leads"), num(now, "customers_won")),
        ),
        (
            "qualified_lead_ratio",
            ratio(num(now, "sqls"), num(now, "leads")).map(|r| r * 100.0),
        ),
        (
            "mql_velocity",
            ratio(mqls_change, num(before, "mqls")).map(|r| r * 100.0),
        ),
        (
            "cost_per_opportunity",
            ratio(num(now, "total_spend"), num(now, "opportunities")),
        ),
    ])
}

fn same(actual: &Value, expected: Option<f64>) -> bool {
    match (actual.as_f64(), expected) {
        (Some(a), Some(e)) => close(a, e),
        (None, None) => actual.is_null(),
        _ => false,
    }
}

async fn the_shipped_pack_matches_numbers_computed_by_hand_from_the_fixture(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture_and(b, |s| {
        s.scripts.packs_dir = Some(crate::common::manifest_dir().join("scripts"));
    })
    .await;
    // The fixture has no demo bookings: add some, counted by hand below.
    let demos = json!([
        {"id": "D1", "kind": "demo_booked", "occurred_at": "2026-11-03T15:00:00Z", "channel": "email"},
        {"id": "D2", "kind": "demo_booked", "occurred_at": "2026-11-05T15:00:00Z", "channel": "email"},
        {"id": "D3", "kind": "demo_booked", "occurred_at": "2026-11-06T15:00:00Z", "channel": "social"},
        {"id": "D4", "kind": "demo_booked", "occurred_at": "2026-10-28T15:00:00Z", "channel": "social"},
        // Sunday 23:30 in New York is still week 45.
        {"id": "D5", "kind": "demo_booked", "occurred_at": "2026-11-09T04:30:00Z"}
    ]);
    let (s, _) = app.post_json(Some(&token), "/api/v1/events", &demos).await;
    assert_eq!(s, StatusCode::OK);
    let keys = "gross_roi,revenue_per_lead,leads_per_sale,qualified_lead_ratio,mql_velocity,cost_per_opportunity,demo_bookings";
    let demo_count = BTreeMap::from([
        (("2026-W45", ""), 4.0),
        (("2026-W44", ""), 1.0),
        (("2026-W44", "social"), 1.0),
        (("2026-W45", "email"), 2.0),
        (("2026-W45", "social"), 1.0),
        (("2026-W45", "(none)"), 1.0),
    ]);
    let mut checked = 0;
    for (period, before) in [("2026-W45", "2026-W44"), ("2026-W44", "2026-W43")] {
        for segment_by in [None, Some("channel")] {
            let path = match segment_by {
                None => format!("/api/v1/kpis?period={period}&keys={keys}"),
                Some(d) => format!("/api/v1/kpis?period={period}&keys={keys}&segment_by={d}"),
            };
            let (status, body) = app.get(Some(&token), &path).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let now = expected_case(period, segment_by);
            let prior = (before != "2026-W43").then(|| expected_case(before, segment_by));
            for kpi in body["kpis"].as_array().unwrap() {
                assert_eq!(kpi["source"], "script");
                let key = kpi["key"].as_str().unwrap();
                let values: Vec<(String, &Value)> = match segment_by {
                    None => vec![(String::new(), &kpi["value"])],
                    Some(_) => kpi["segments"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| (s["segment"].as_str().unwrap().to_owned(), &s["value"]))
                        .collect(),
                };
                for (segment, actual) in values {
                    let expected = if key == "demo_bookings" {
                        Some(*demo_count.get(&(period, segment.as_str())).unwrap_or(&0.0))
                    } else if key == "mql_velocity" && prior.is_none() {
                        continue; // W43 is not in expected.json
                    } else {
                        let Some(now_seg) = now.get(&segment) else {
                            // A segment with only demo bookings: every built-in there is empty.
                            assert!(
                                actual.is_null() || key == "demo_bookings",
                                "{key} {segment}: {actual}"
                            );
                            continue;
                        };
                        let empty = json!({});
                        let before_seg = prior
                            .as_ref()
                            .and_then(|p| p.get(&segment))
                            .unwrap_or(&empty);
                        by_hand(now_seg, before_seg)[key]
                    };
                    assert!(
                        same(actual, expected),
                        "{period} {segment_by:?} {segment:?} {key}: got {actual}, by hand {expected:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 60, "only {checked} checked");

    // The pack shows in the catalog, as scripts, with no problems.
    let (_, catalog) = app.get(Some(&token), "/api/v1/catalog").await;
    let gross = catalog["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "gross_roi")
        .unwrap();
    assert_eq!(gross["source"], "script");
    assert_eq!(gross["origin"]["pack"], "lead-gen-extras");
    assert_eq!(catalog["problems"], json!([]));
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
