//! The loading API: upserts, atomic batches, validation, tenancy, roles, CSV.

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, TestApp, read_fixture};

backend_tests!(
    loading_the_fixture_stores_every_row_and_reloading_changes_nothing,
    a_bad_row_in_a_batch_stores_nothing_and_names_the_row_and_field,
    a_team_never_sees_or_overwrites_another_teams_data,
    a_viewer_cannot_write,
    a_csv_with_attrs_columns_loads,
    malformed_bodies_get_400_and_oversized_ones_413,
    a_repeated_key_in_one_batch_keeps_the_last_row,
);

async fn loading_the_fixture_stores_every_row_and_reloading_changes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (team, token) = app.team("fixture", "America/New_York", Role::Editor).await;
    let mut expected = Vec::new();
    for table in ["leads", "spend", "events"] {
        let rows = read_fixture(&format!("{table}.json"));
        let n = rows.as_array().unwrap().len() as u64;
        let (status, body) = app
            .post_json(Some(&token), &format!("/api/v1/{table}"), &rows)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"inserted": n, "updated": 0}), "{table}");
        expected.push((table.to_owned(), n));
    }
    assert_eq!(app.counts(team).await, expected);

    for table in ["leads", "spend", "events"] {
        let rows = read_fixture(&format!("{table}.json"));
        let n = rows.as_array().unwrap().len() as u64;
        let (status, body) = app
            .post_json(Some(&token), &format!("/api/v1/{table}"), &rows)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"inserted": 0, "updated": n}), "{table}");
    }
    assert_eq!(app.counts(team).await, expected);
}

async fn a_bad_row_in_a_batch_stores_nothing_and_names_the_row_and_field(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (team, token) = app.team("acme", "UTC", Role::Editor).await;
    let batch = json!([
        {"id": "ok-1", "created_at": "2026-11-02T10:00:00Z", "channel": "email"},
        {"id": "bad-1", "created_at": "yesterday"},
        {"id": "ok-2", "created_at": "2026-11-03T10:00:00Z"},
        {"created_at": "2026-11-03T10:00:00Z", "score": 400}
    ]);
    let (status, body) = app.post_json(Some(&token), "/api/v1/leads", &batch).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "validation");
    let rows = body["rows"].as_array().unwrap();
    let named: Vec<(u64, &str)> = rows
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert!(named.contains(&(1, "created_at")), "{body}");
    assert!(named.contains(&(3, "id")), "{body}");
    assert!(named.contains(&(3, "score")), "{body}");
    assert!(!named.iter().any(|(i, _)| *i == 0 || *i == 2));
    assert_eq!(
        app.counts(team).await[0].1,
        0,
        "nothing of the batch is stored"
    );

    // NUL characters (PostgreSQL cannot store them, SQLite would) and negative lead values: 422
    // naming each field, nothing stored, on both backends.
    let batch = json!([
        {"id": "nul-1", "created_at": "2026-11-02T10:00:00Z", "channel": "em\0ail"},
        {"id": "nul-2", "created_at": "2026-11-02T10:00:00Z", "attrs": {"region": "EU\0"}},
        {"id": "neg-1", "created_at": "2026-11-02T10:00:00Z", "value": -5},
        {"id": "neg-2", "created_at": "2026-11-02T10:00:00Z", "deal_value": -0.01},
        {"id": "ok-3", "created_at": "2026-11-02T10:00:00Z", "value": 0, "deal_value": 0}
    ]);
    let (status, body) = app.post_json(Some(&token), "/api/v1/leads", &batch).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let named: Vec<(u64, &str, &str)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["field"].as_str().unwrap(),
                r["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named,
        vec![
            (0, "channel", "contains a NUL character"),
            (1, "attrs.region", "contains a NUL character"),
            (2, "value", "must not be negative"),
            (3, "deal_value", "must not be negative"),
        ],
        "{body}"
    );
    assert_eq!(app.counts(team).await[0].1, 0);

    let spend = json!([
        {"day": "2026-11-02", "category": "advertising", "amount": 10.5},
        {"day": "2026-11-02", "category": "bribes", "amount": 1},
        {"day": "2026-11-02", "category": "content", "amount": -3}
    ]);
    let (status, body) = app.post_json(Some(&token), "/api/v1/spend", &spend).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<(u64, &str)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert_eq!(fields, vec![(1, "category"), (2, "amount")]);
    assert_eq!(app.counts(team).await[1].1, 0);

    let events = json!([{"id": "e1", "kind": "visit", "occurred_at": "2026-11-02T10:00:00Z",
                         "attrs": {"nested": {"no": 1}}}]);
    let (status, body) = app.post_json(Some(&token), "/api/v1/events", &events).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["rows"][0]["field"]
            .as_str()
            .unwrap()
            .starts_with("attrs"),
        "{body}"
    );
}

async fn a_team_never_sees_or_overwrites_another_teams_data(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (team_a, token_a) = app.team("team-a", "UTC", Role::Editor).await;
    let (team_b, token_b) = app.team("team-b", "UTC", Role::Editor).await;
    let lead = |value: f64| json!([{"id": "L-1", "created_at": "2026-11-03T10:00:00Z", "value": value, "channel": "email"}]);
    let (s, body) = app
        .post_json(Some(&token_a), "/api/v1/leads", &lead(100.0))
        .await;
    assert_eq!(
        (s, body),
        (StatusCode::OK, json!({"inserted": 1, "updated": 0}))
    );
    // The same external id in team B is a different lead: inserted, and A's is untouched.
    let (s, body) = app
        .post_json(Some(&token_b), "/api/v1/leads", &lead(999.0))
        .await;
    assert_eq!(
        (s, body),
        (StatusCode::OK, json!({"inserted": 1, "updated": 0}))
    );

    let value_of = |body: &Value| body["kpis"][0]["value"].as_f64();
    let (_, a) = app
        .get(
            Some(&token_a),
            "/api/v1/kpis?period=2026-W45&keys=total_lead_value",
        )
        .await;
    let (_, b) = app
        .get(
            Some(&token_b),
            "/api/v1/kpis?period=2026-W45&keys=total_lead_value",
        )
        .await;
    assert_eq!(value_of(&a), Some(100.0));
    assert_eq!(value_of(&b), Some(999.0));
    assert_eq!(app.counts(team_a).await[0].1, 1);
    assert_eq!(app.counts(team_b).await[0].1, 1);

    // A fresh team sees nothing of either.
    let (_, token_c) = app.team("team-c", "UTC", Role::Viewer).await;
    let (_, c) = app
        .get(
            Some(&token_c),
            "/api/v1/kpis?period=2026-W45&keys=leads,total_lead_value",
        )
        .await;
    assert_eq!(c["kpis"][0]["value"], json!(0));
    assert_eq!(c["kpis"][1]["value"], json!(0));
}

async fn a_viewer_cannot_write(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (team, _) = app.team("acme", "UTC", Role::Admin).await;
    let viewer = app.token(team, Role::Viewer).await;
    let rows = json!([{"id": "L-1", "created_at": "2026-11-03T10:00:00Z"}]);
    let (status, body) = app.post_json(Some(&viewer), "/api/v1/leads", &rows).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "forbidden");
    let (status, _) = app.post_json(None, "/api/v1/leads", &rows).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .post_json(Some("lsk_not-a-token"), "/api/v1/leads", &rows)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.counts(team).await[0].1, 0);
    // Viewers still read.
    let (status, _) = app.get(Some(&viewer), "/api/v1/kpis?period=2026-W45").await;
    assert_eq!(status, StatusCode::OK);
}

async fn a_csv_with_attrs_columns_loads(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (team, token) = app.team("acme", "UTC", Role::Editor).await;
    let csv = "id,created_at,channel,value,attrs.region,attrs.tier\n\
               c1,2026-11-02T10:00:00Z,email,10.25,EMEA,gold\n\
               c2,2026-11-03T10:00:00Z,social,5,NA,\n\
               c3,2026-11-04T10:00:00Z,,,,\n";
    let (status, body) = app
        .post_raw(
            Some(&token),
            "/api/v1/leads",
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"inserted": 3, "updated": 0}));
    assert_eq!(app.counts(team).await[0].1, 3);
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W45&segment_by=attrs.region&keys=leads,total_lead_value",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let segments = &body["kpis"][0]["segments"];
    assert_eq!(
        segments,
        &json!([
            {"segment": "(none)", "value": 1, "previous": 0},
            {"segment": "EMEA", "value": 1, "previous": 0},
            {"segment": "NA", "value": 1, "previous": 0}
        ])
    );
    assert_eq!(body["kpis"][1]["value"], json!(15.25));

    let bad = "id,created_at,colour\nx,2026-11-02T10:00:00Z,red\n";
    let (status, body) = app
        .post_raw(
            Some(&token),
            "/api/v1/leads",
            "text/csv",
            bad.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["rows"][0]["field"], "colour");
}

async fn malformed_bodies_get_400_and_oversized_ones_413(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.max_body_bytes = 4096).await;
    let (team, token) = app.team("acme", "UTC", Role::Editor).await;
    let (status, body) = app
        .post_raw(
            Some(&token),
            "/api/v1/leads",
            "application/json",
            b"[{\"id\": ".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("malformed JSON"));
    let (status, _) = app
        .post_raw(
            Some(&token),
            "/api/v1/leads",
            "application/json",
            b"{\"id\": 1}".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .post_raw(
            Some(&token),
            "/api/v1/leads",
            "text/csv",
            b"id,created_at\n\"a,b\n".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let big = format!("[{}]", vec!["{\"id\":\"x\"}"; 1000].join(","));
    let (status, body) = app
        .post_raw(
            Some(&token),
            "/api/v1/leads",
            "application/json",
            big.into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["message"].as_str().unwrap().contains("4096"), "{body}");
    let (status, _) = app
        .post_raw(
            Some(&token),
            "/api/v1/leads",
            "application/xml",
            b"<a/>".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.counts(team).await[0].1, 0);
}

async fn a_repeated_key_in_one_batch_keeps_the_last_row(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (team, token) = app.team("acme", "UTC", Role::Editor).await;
    let rows = json!([
        {"id": "L-1", "created_at": "2026-11-03T10:00:00Z", "value": 1},
        {"id": "L-1", "created_at": "2026-11-03T10:00:00Z", "value": 2}
    ]);
    let (status, body) = app.post_json(Some(&token), "/api/v1/leads", &rows).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"inserted": 1, "updated": 1}));
    assert_eq!(app.counts(team).await[0].1, 1);
    let (_, k) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W45&keys=total_lead_value",
        )
        .await;
    assert_eq!(k["kpis"][0]["value"], json!(2));
}
