//! What a slow SMTP server may not do: a peer that accepts TCP and never greets fails send-now
//! within the configured timeout, with each recipient's result on record and never changed
//! later; a team whose digests wait on such a server leaves slots for other teams. And what a
//! reply may not show: the server's outbox path.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use lodestar_mail::MailSettings;
use lodestar_mail::testing::SmtpServer;
use lodestar_scheduler::Clock;
use lodestar_store::schedules::{self, ScheduleFields};
use lodestar_store::tokens::Role;
use lodestar_web::DigestSettings;
use serde_json::json;

use crate::backend_tests;
use crate::common::{Backend, TestApp};

use super::{SENDER, at, fast_config};

backend_tests!(
    a_silent_smtp_server_fails_send_now_within_the_timeout_and_the_log_keeps_saying_so,
    a_team_waiting_on_a_silent_smtp_server_leaves_slots_for_other_teams,
    send_now_to_the_outbox_does_not_show_the_servers_file_path,
);

/// An SMTP peer on 127.0.0.1 that accepts TCP and, while `silent`, never says a word (the
/// connection is held open); otherwise it forwards the connection to `upstream`, if any.
struct SilentPeer {
    url: String,
    silent: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl SilentPeer {
    fn start(upstream: Option<SocketAddr>) -> SilentPeer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let silent = Arc::new(AtomicBool::new(true));
        let accepted = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (is_silent, count) = (Arc::clone(&silent), Arc::clone(&accepted));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                match upstream.filter(|_| !is_silent.load(Ordering::SeqCst)) {
                    Some(addr) => forward(stream, addr),
                    None => held.lock().unwrap().push(stream),
                }
            }
        });
        SilentPeer {
            url,
            silent,
            accepted,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn forward(client: TcpStream, addr: SocketAddr) {
    let Ok(server) = TcpStream::connect(addr) else {
        return;
    };
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
    };
    pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
    pipe(server, client);
}

async fn app_mailing_to(
    backend: Backend,
    smtp_url: Option<String>,
    outbox_dir: std::path::PathBuf,
    timeout: Duration,
    clock: Clock,
) -> TestApp {
    let mail = MailSettings {
        smtp_url,
        from: SENDER.to_owned(),
        outbox_dir,
    };
    TestApp::spawn_with(backend, |s| {
        s.clock = clock;
        s.digests = Some(DigestSettings {
            smtp_timeout: timeout,
            start: false,
            ..DigestSettings::new(mail, fast_config())
        });
    })
    .await
}

async fn a_silent_smtp_server_fails_send_now_within_the_timeout_and_the_log_keeps_saying_so(
    b: Backend,
) {
    let peer = SilentPeer::start(None);
    let timeout = Duration::from_secs(2);
    let app = app_mailing_to(
        b,
        Some(peer.url.clone()),
        "outbox".into(),
        timeout,
        Arc::new(chrono::Utc::now),
    )
    .await;
    let (_, token) = app.team("acme", "UTC", Role::Editor).await;
    let (status, schedule) = app
        .post_json(
            Some(&token),
            "/api/v1/schedules",
            &json!({"report": "weekly", "cron": "0 8 * * MON", "timezone": "UTC",
                    "recipients": ["a@example.com", "b@example.com", "c@example.com"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    let id = schedule["id"].as_i64().unwrap();

    let started = Instant::now();
    let (status, reply) = app
        .send(
            "POST",
            Some(&token),
            &format!("/api/v1/schedules/{id}/send-now"),
            None,
        )
        .await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(
        took >= timeout && took < timeout + Duration::from_millis(2500),
        "send-now answered after {took:?}, not within about one {timeout:?}"
    );
    let results = reply["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{reply}");
    assert_eq!(results[0]["status"], "failed", "{reply}");
    assert_eq!(
        results[0]["error"], "SMTP server did not answer within 2 s",
        "{reply}"
    );
    for later in &results[1..] {
        assert_eq!(later["status"], "failed", "{reply}");
        assert_eq!(
            later["error"],
            "not sent: SMTP server did not answer within 2 s for an earlier recipient",
            "{reply}"
        );
    }
    assert_eq!(
        peer.accepted(),
        1,
        "one connection tried, not one per recipient"
    );

    let now = log_rows(&app, &token, id).await;
    let said: Vec<_> = results
        .iter()
        .map(|r| {
            (
                r["recipient"].as_str().unwrap().to_owned(),
                "failed".to_owned(),
                r["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(now, said, "the delivery log says what send-now said");
    // The abandoned exchange does not carry on: later, the log still says the same.
    tokio::time::sleep(timeout + Duration::from_millis(500)).await;
    assert_eq!(log_rows(&app, &token, id).await, said);
    assert_eq!(peer.accepted(), 1);
}

/// The schedule's delivery log as (recipient, status, error), sorted.
async fn log_rows(app: &TestApp, token: &str, id: i64) -> Vec<(String, String, String)> {
    let (status, log) = app
        .get(Some(token), &format!("/api/v1/deliveries?schedule={id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let mut rows: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["recipient"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
                r["error"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

async fn a_team_waiting_on_a_silent_smtp_server_leaves_slots_for_other_teams(b: Backend) {
    let smtp = SmtpServer::start().await.unwrap();
    let peer = SilentPeer::start(Some(smtp.addr()));
    let now = at("2026-11-20T09:00:00Z");
    let clock: Clock = Arc::new(move || now);
    // Longer than the test: the silent team's sends hang all along.
    let app = app_mailing_to(
        b,
        Some(peer.url.clone()),
        "outbox".into(),
        Duration::from_secs(15),
        clock,
    )
    .await;
    let scheduler = Arc::clone(app.scheduler());
    assert_eq!(scheduler.config().concurrency, 4);
    let daily = |to: &str| ScheduleFields {
        report: "weekly".into(),
        cron: "0 8 * * *".into(),
        timezone: "UTC".into(),
        recipients: vec![to.to_owned()],
        channels: "[]".to_owned(),
        skip_empty: false,
        paused: false,
    };
    let created = at("2026-11-01T00:00:00Z");
    let (slow, _) = app.team("slow", "UTC", Role::Editor).await;
    for i in 0..4 {
        let to = format!("slow{i}@example.com");
        schedules::create(app.db(), slow, &daily(&to), None, created)
            .await
            .unwrap();
    }
    scheduler.sweep().await.unwrap();
    let started = Instant::now();
    while peer.accepted() < 2 {
        assert!(started.elapsed() < Duration::from_secs(10), "no send began");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Give the slow team's other digests time to take whatever slots they can.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The server answers new connections again; the slow team's sends still hang.
    peer.silent.store(false, Ordering::SeqCst);
    let (quick, _) = app.team("quick", "UTC", Role::Editor).await;
    schedules::create(app.db(), quick, &daily("quick@example.com"), None, created)
        .await
        .unwrap();
    let flipped = Instant::now();
    scheduler.sweep().await.unwrap();
    let mails = smtp
        .wait_for(1, Duration::from_secs(8))
        .await
        .expect("the other team's digest goes out while the slow team's sends hang");
    assert_eq!(mails[0].to, ["quick@example.com"]);
    assert!(flipped.elapsed() < Duration::from_secs(8));
    assert_eq!(
        peer.accepted(),
        3,
        "the slow team held at most its 2 slots; its other digests waited for them"
    );
}

async fn send_now_to_the_outbox_does_not_show_the_servers_file_path(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let app = app_mailing_to(
        b,
        None,
        outbox.clone(),
        Duration::from_secs(5),
        Arc::new(chrono::Utc::now),
    )
    .await;
    let (_, token) = app.team("acme", "UTC", Role::Editor).await;
    let (status, schedule) = app
        .post_json(
            Some(&token),
            "/api/v1/schedules",
            &json!({"report": "weekly", "cron": "0 8 * * MON", "timezone": "UTC",
                    "recipients": ["a@example.com"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    let id = schedule["id"].as_i64().unwrap();
    let (status, reply) = app
        .send(
            "POST",
            Some(&token),
            &format!("/api/v1/schedules/{id}/send-now"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["results"][0]["status"], "sent", "{reply}");
    assert_eq!(
        reply["results"][0]["response"], "written to the outbox",
        "{reply}"
    );
    let (_, log) = app
        .get(Some(&token), &format!("/api/v1/deliveries?schedule={id}"))
        .await;
    let shown = format!("{reply}{log}");
    let path = outbox.display().to_string();
    assert!(!shown.contains(&path), "{shown} shows {path}");
    assert!(!shown.contains(".eml"), "{shown}");
    assert_eq!(
        std::fs::read_dir(&outbox).unwrap().count(),
        1,
        "the mail is there"
    );
}
