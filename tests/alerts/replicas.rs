//! Two `lodestar serve` processes on one PostgreSQL: the same crossing batch loaded through
//! both (three times in all, at once) notifies once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use lodestar_core::period::Timezone;
use lodestar_mail::testing::SmtpServer;
use lodestar_store::teams;
use lodestar_store::tokens::{self, Role};
use serde_json::{Value, json};

use super::receiver::Receiver;
use crate::common::{Backend, TestDb};

/// A `lodestar serve` process; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(db_url: &str, smtp: &SmtpServer, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .arg("serve")
        .env("LODESTAR_DATABASE__URL", db_url)
        .env("LODESTAR_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("LODESTAR_SMTP__URL", smtp.url())
        .env("LODESTAR_SCHEDULER__RETRY_INITIAL_MS", "100")
        .env("LODESTAR_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Server(child)
}

async fn send(port: u16, token: &str, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let req = client
        .request(
            awc::http::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("http://127.0.0.1:{port}{path}"),
        )
        .bearer_auth(token);
    let mut resp = if body.is_null() {
        req.send().await.unwrap()
    } else {
        req.send_json(body).await.unwrap()
    };
    let bytes = resp.body().await.unwrap();
    (
        resp.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn up(port: u16) {
    let start = Instant::now();
    loop {
        let ok = awc::Client::default()
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "port {port} never answered"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn two_serve_processes_on_one_postgresql_notify_a_crossing_loaded_through_both_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let tdb = TestDb::new(&backend).await;
    let team = teams::create(&tdb.db, "acme", "Acme", &Timezone::default())
        .await
        .unwrap();
    let token = tokens::create(&tdb.db, team.id, Role::Editor)
        .await
        .unwrap();
    let smtp = SmtpServer::start().await.unwrap();
    let hook = Receiver::start().await;
    let (a, b) = (free_port(), free_port());
    let _first = serve(&tdb.url, &smtp, a);
    let _second = serve(&tdb.url, &smtp, b);
    up(a).await;
    up(b).await;
    let (status, alert) = send(
        a,
        &token,
        "POST",
        "/api/v1/alerts",
        &json!({
        "kpi": "leads", "period_kind": "month",
        "condition": {"type": "above", "value": 2.5},
        "channels": [{"webhook": hook.url("/replicas"), "secret": "r"}]}),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    // Three leads made a moment ago: this month's leads go from 0 to 3, across 2.5.
    let at = (Utc::now() - chrono::TimeDelta::seconds(5)).to_rfc3339();
    let batch = json!([
        {"id": "R-1", "created_at": at, "channel": "email"},
        {"id": "R-2", "created_at": at, "channel": "email"},
        {"id": "R-3", "created_at": at, "channel": "social"}
    ]);
    let loads = [a, b, a].map(|port| {
        let (token, batch) = (token.clone(), batch.clone());
        async move { send(port, &token, "POST", "/api/v1/leads", &batch).await }
    });
    for (status, reply) in futures_util::future::join_all(loads).await {
        assert_eq!(status, 200, "{reply}");
    }
    hook.wait_for(1).await;
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        hook.received().len(),
        1,
        "one notification from two servers and three loads"
    );
    let id = alert["id"].as_i64().unwrap();
    let (_, events) = send(
        b,
        &token,
        "GET",
        &format!("/api/v1/alerts/{id}/events"),
        &Value::Null,
    )
    .await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(events[0]["deliveries"][0]["status"], "sent");
}
