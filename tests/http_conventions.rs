//! What every response follows: JSON errors on the API (the framework's own too), a page for an
//! unknown page, `HEAD` wherever `GET` works, `nosniff`, pages not stored, CSV with CRLF, and a
//! metrics label that made-up methods cannot grow.

use awc::http::{Method, StatusCode};
use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp};

backend_tests!(
    framework_errors_are_json_and_every_response_follows_the_conventions,
    a_wrong_method_is_405_with_allow_and_framework_errors_name_their_field,
);

/// Status, headers and body of one raw request.
async fn raw(
    app: &TestApp,
    method: &str,
    token: Option<&str>,
    path: &str,
    body: Option<(&str, &str)>,
) -> (StatusCode, awc::http::header::HeaderMap, String) {
    let mut req = app.client.request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{}{path}", app.base),
    );
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let mut resp = match body {
        Some((content_type, text)) => req
            .insert_header(("Content-Type", content_type))
            .send_body(text.to_owned())
            .await
            .unwrap(),
        None => req.send().await.unwrap(),
    };
    let bytes = resp.body().limit(16 << 20).await.unwrap();
    (
        resp.status(),
        resp.headers().clone(),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn json_error(status: StatusCode, headers: &awc::http::header::HeaderMap, body: &str) -> Value {
    let content_type = headers.get("content-type").unwrap().to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{status} {content_type}: {body}"
    );
    let v: Value = serde_json::from_str(body).unwrap();
    assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
    v
}

async fn framework_errors_are_json_and_every_response_follows_the_conventions(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let t = Some(token.as_str());

    // A malformed body, a bad query string, an unknown API route: JSON, with the framework's
    // reason in `message`.
    let (status, headers, body) = raw(
        &app,
        "POST",
        t,
        "/api/v1/schedules",
        Some(("application/json", "{\"report\": \"weekly\",")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let v = json_error(status, &headers, &body);
    assert_eq!(v["error"], "bad_request");
    let (status, headers, body) = raw(&app, "GET", t, "/api/v1/kpis?trend=lots", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let v = json_error(status, &headers, &body);
    assert!(v["message"].as_str().unwrap().contains("trend"), "{v}");
    let (status, headers, body) = raw(&app, "GET", t, "/api/v1/no-such-thing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let v = json_error(status, &headers, &body);
    assert_eq!(v["error"], "not_found");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("/api/v1/no-such-thing"),
        "{v}"
    );

    // An unknown page is a page.
    let (status, headers, body) = raw(&app, "GET", None, "/no-such-page", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{body}"
    );
    assert!(body.contains("/no-such-page"), "{body}");

    // HEAD answers like GET, without a body.
    let (status, _, body) = raw(&app, "HEAD", None, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty(), "{body}");
    let (status, headers, body) = raw(&app, "HEAD", t, "/api/v1/kpis?period=2026-W45", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");

    // nosniff on JSON and CSV; pages are not stored; the CSV ends its lines with CRLF.
    let (_, headers, _) = raw(&app, "GET", t, "/api/v1/kpis?period=2026-W45", None).await;
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    let mut browser = Browser::new(&app);
    let page = browser
        .sign_in(&token, "/reports/weekly?period=2026-W45")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let csv = browser.get("/reports/weekly.csv?period=2026-W45").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.contains("\r\n"), "RFC 4180 line ends");
    assert!(!csv.body.replace("\r\n", "").contains('\n'), "no bare LF");
    let (_, headers, _) = raw(&app, "GET", None, "/login", None).await;
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");

    // Made-up methods do not each add a metrics series.
    for m in ["FOO", "BAR", "BAZ"] {
        let _ = raw(&app, m, t, "/api/v1/kpis", None).await;
    }
    let (_, _, metrics) = raw(&app, "GET", None, "/metrics", None).await;
    assert!(!metrics.contains("method=\"FOO\""), "{metrics}");
    assert!(metrics.contains("method=\"other\""), "{metrics}");
}

async fn a_wrong_method_is_405_with_allow_and_framework_errors_name_their_field(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, token) = app.team("acme", "UTC", Role::Editor).await;
    let t = Some(token.as_str());

    // A method no route of the path takes: 405, JSON, and `Allow` says which ones do.
    for (method, path, allow) in [
        ("DELETE", "/api/v1/kpis", "GET, HEAD"),
        ("PATCH", "/api/v1/schedules/1", "GET, HEAD, PUT, DELETE"),
        ("GET", "/api/v1/schedules/1/send-now", "POST"),
        ("PUT", "/api/v1/team", "GET, HEAD, PATCH"),
        ("FOO", "/api/v1/catalog", "GET, HEAD"),
    ] {
        let (status, headers, body) = raw(&app, method, t, path, None).await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {body}"
        );
        assert_eq!(headers.get("allow").unwrap(), allow, "{method} {path}");
        let v = json_error(status, &headers, &body);
        assert_eq!(v["error"], "method_not_allowed", "{v}");
        assert!(v["message"].as_str().unwrap().contains(allow), "{v}");
    }
    // An unknown route stays a 404.
    let (status, _, _) = raw(&app, "DELETE", t, "/api/v1/nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A path id that is not a number names the path parameter.
    let (status, headers, body) = raw(&app, "GET", t, "/api/v1/schedules/abc", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let v = json_error(status, &headers, &body);
    assert_eq!(
        (&v["error"], &v["field"]),
        (&json!("bad_request"), &json!("id")),
        "{v}"
    );
    // A query parameter that does not parse names it.
    let (status, headers, body) = raw(
        &app,
        "GET",
        t,
        "/api/v1/deliveries?schedule=abc&limit=5",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let v = json_error(status, &headers, &body);
    assert_eq!(v["field"], "schedule", "{v}");
    // An unknown JSON field names it.
    let (status, headers, body) = raw(
        &app,
        "POST",
        t,
        "/api/v1/schedules",
        Some(("application/json", r#"{"report": "weekly", "pause": true}"#)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let v = json_error(status, &headers, &body);
    assert_eq!(v["field"], "pause", "{v}");
    // Malformed JSON has no field to name, and says what is wrong.
    let (status, headers, body) = raw(
        &app,
        "POST",
        t,
        "/api/v1/schedules",
        Some(("application/json", "{\"report\": ")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let v = json_error(status, &headers, &body);
    assert!(v.get("field").is_none(), "{v}");
    // A body that is not JSON at all: 415 in the same shape.
    let (status, headers, body) = raw(
        &app,
        "POST",
        t,
        "/api/v1/schedules",
        Some(("text/plain", "report=weekly")),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let v = json_error(status, &headers, &body);
    assert_eq!(v["error"], "unsupported_media_type", "{v}");
}
