//! One budget per request for all its script runs: a looping script over a long trend split by
//! every campaign answers within the budget, a small request of another team meanwhile stays
//! fast, and when the client goes away the runs stop.

use std::io::Write;
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use lodestar_store::tokens::Role;

use super::put_kpi;
use crate::backend_tests;
use crate::common::{Backend, TestApp};

backend_tests!(
    a_looping_script_over_a_long_split_trend_answers_within_the_request_budget,
    the_runs_of_a_request_stop_when_its_client_goes_away,
);

const LOOPING: &str = "let x = 0; loop { x += 1; } x";
const LONG_SPLIT: &str = "/api/v1/kpis?period=2026-W45&keys=looping&trend=104&segment_by=campaign";

async fn a_looping_script_over_a_long_split_trend_answers_within_the_request_budget(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.scripts.request_limits.script_time = Duration::from_millis(1500);
        s.scripts.request_limits.per_team = 1;
        s.workers = 2;
    })
    .await;
    let (_, greedy) = app.team("greedy", "UTC", Role::Editor).await;
    app.load_fixture(&greedy).await;
    let (status, body) = put_kpi(&app, &greedy, "looping", LOOPING).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, quiet) = app.team("quiet", "UTC", Role::Viewer).await;

    let started = Instant::now();
    let slow = app.get(Some(&greedy), LONG_SPLIT);
    let small = async {
        // While the greedy request runs, another team's request is answered at once.
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let at = Instant::now();
        let (status, _) = app
            .get(Some(&quiet), "/api/v1/kpis?period=2026-W45&keys=leads,cpl")
            .await;
        (status, at.elapsed())
    };
    let ((status, body), (small_status, small_took)) =
        futures_util::future::join(slow, small).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "the reply still comes: {body}");
    assert_eq!(small_status, StatusCode::OK);
    // Without a budget: 104 trend periods and every campaign, 250 ms a run, about 30 s.
    assert!(took < Duration::from_millis(4500), "took {took:?}");
    assert!(
        small_took < Duration::from_secs(1),
        "the other team waited {small_took:?}"
    );
    let kpi = &body["kpis"][0];
    assert!(kpi["value"].is_null());
    assert!(
        kpi["error"]["message"].is_string(),
        "the KPI says why: {kpi}"
    );
    // Every run stopped: by its own limits first, then by the spent budget.
    let trend = kpi["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 104);
    assert!(trend.iter().all(|p| p["value"].is_null()));

    // Evaluating a script over HTTP is charged the same way.
    let eval =
        serde_json::json!({"script": LOOPING, "period": "2026-W45", "segment_by": "campaign"});
    let at = Instant::now();
    let (status, body) = app
        .post_json(Some(&greedy), "/api/v1/scripts/eval", &eval)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        at.elapsed() < Duration::from_millis(4500),
        "{:?}",
        at.elapsed()
    );
}

async fn the_runs_of_a_request_stop_when_its_client_goes_away(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        // Only the client's going away can stop these runs early.
        s.scripts.request_limits.script_time = Duration::from_secs(120);
        s.scripts.request_limits.script_operations = 0;
    })
    .await;
    let (_, token) = app.team("leaving", "UTC", Role::Editor).await;
    app.load_fixture(&token).await;
    let (status, body) = put_kpi(&app, &token, "looping", LOOPING).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let before = app.kpis().scripts().runs();
    let mut stream = std::net::TcpStream::connect(app.address()).unwrap();
    write!(
        stream,
        "GET {LONG_SPLIT} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    assert!(
        app.kpis().scripts().runs() > before,
        "the request's scripts are running"
    );
    stream.shutdown(std::net::Shutdown::Both).unwrap();
    drop(stream);
    // Within a second of the client leaving, no run goes on.
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    let settled = app.kpis().scripts().runs();
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        app.kpis().scripts().runs(),
        settled,
        "runs went on after the client left"
    );
}
