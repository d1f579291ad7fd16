//! Each digest is sent once: per recipient on a schedule firing every second, by two `lodestar
//! serve` processes on one PostgreSQL, and after a process is killed past its claim.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use lodestar_core::period::Timezone;
use lodestar_mail::testing::SmtpServer;
use lodestar_store::deliveries::Status;
use lodestar_store::schedules::{self, ScheduleFields};
use lodestar_store::tokens::Role;
use lodestar_store::{Db, teams};
use serde_json::json;

use crate::backend_tests;
use crate::common::{Backend, TestDb};

use super::{DigestApp, WAIT, rows};

backend_tests!(
    a_schedule_firing_every_second_sends_once_per_recipient,
    a_process_killed_after_its_claim_is_followed_by_exactly_one_delivery,
    sigterm_during_a_send_exits_soon_and_leaves_the_delivery_to_be_taken_over,
);

async fn a_schedule_firing_every_second_sends_once_per_recipient(b: Backend) {
    let app = DigestApp::spawn(b).await;
    let (_, token) = app.team("acme", "UTC", Role::Editor).await;
    app.scheduler.start().await.unwrap();
    let id = app
        .create_schedule(
            &token,
            json!({"report": "weekly", "cron": "* * * * * *", "timezone": "UTC",
                   "recipients": ["a@example.com", "b@example.com"]}),
        )
        .await;
    app.smtp.wait_for(2, WAIT).await.unwrap();
    // Several more firings of the same period.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let mails = app.smtp.messages();
    let mut to: Vec<&str> = mails.iter().map(|m| m.to[0].as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["a@example.com", "b@example.com"]);
    let rows = rows(app.db(), id).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.status == Status::Sent && r.attempts == 1)
    );
    app.scheduler.shutdown().await;
}

/// A `lodestar serve` process; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(db_url: &str, smtp: &SmtpServer, extra: &[(&str, &str)]) -> Server {
    serve_to(db_url, &smtp.url(), extra)
}

fn serve_to(db_url: &str, smtp_url: &str, extra: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lodestar"));
    cmd.arg("serve")
        .env("LODESTAR_DATABASE__URL", db_url)
        .env("LODESTAR_SERVER__BIND", "127.0.0.1:0")
        .env("LODESTAR_SMTP__URL", smtp_url)
        .env("LODESTAR_SCHEDULER__RESYNC_INTERVAL_SECS", "1")
        .env("LODESTAR_SCHEDULER__LEASE_TIMEOUT_SECS", "2")
        .env("LODESTAR_SCHEDULER__RETRY_INITIAL_MS", "100")
        .env("LODESTAR_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Server(cmd.spawn().unwrap())
}

async fn every_second_schedule(db: &Db, recipients: &[&str]) -> i32 {
    let team = teams::create(db, "acme", "Acme", &Timezone::default())
        .await
        .unwrap();
    let fields = ScheduleFields {
        report: "weekly".into(),
        cron: "* * * * * *".into(),
        timezone: "UTC".into(),
        recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
        channels: "[]".to_owned(),
        skip_empty: false,
        paused: false,
    };
    schedules::create(db, team.id, &fields, None, Utc::now())
        .await
        .unwrap()
        .id
}

#[actix_web::test]
async fn two_serve_processes_on_one_postgresql_send_each_digest_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let tdb = TestDb::new(&backend).await;
    let smtp = SmtpServer::start().await.unwrap();
    let recipients = ["a@example.com", "b@example.com", "c@example.com"];
    let id = every_second_schedule(&tdb.db, &recipients).await;
    let mut first = serve(&tdb.url, &smtp, &[]);
    let mut second = serve(&tdb.url, &smtp, &[]);
    smtp.wait_for(3, WAIT).await.unwrap();
    // Both keep firing the schedule every second for the same period.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        first.0.try_wait().unwrap().is_none(),
        "the first server died"
    );
    assert!(
        second.0.try_wait().unwrap().is_none(),
        "the second server died"
    );
    let mut to: Vec<String> = smtp.messages().iter().map(|m| m.to[0].clone()).collect();
    to.sort_unstable();
    assert_eq!(to, recipients);
    let rows = rows(&tdb.db, id).await;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.status == Status::Sent), "{rows:?}");
}

async fn a_process_killed_after_its_claim_is_followed_by_exactly_one_delivery(b: Backend) {
    use std::os::unix::process::ExitStatusExt;

    let tdb = TestDb::new(&b).await;
    let smtp = SmtpServer::start().await.unwrap();
    let id = every_second_schedule(&tdb.db, &["a@example.com"]).await;
    let mut doomed = serve(&tdb.url, &smtp, &[("LODESTAR_TEST_CRASH_AFTER_CLAIM", "1")]);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = doomed.0.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < WAIT, "the process never claimed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    let claimed = rows(&tdb.db, id).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].status, Status::Pending);
    assert!(smtp.messages().is_empty());

    let _restarted = serve(&tdb.url, &smtp, &[]);
    let mails = smtp.wait_for(1, WAIT).await.unwrap();
    assert_eq!(mails[0].to, ["a@example.com"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.messages().len(), 1);
    let rows = rows(&tdb.db, id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, Status::Sent);
    assert_eq!(rows[0].recoveries, 1, "sent by the take-over of the lease");
    assert_eq!(
        mails[0].header("Message-ID").unwrap(),
        claimed[0].message_id,
        "the take-over keeps the Message-ID"
    );
}

/// SIGTERM while a digest is being sent (to a mail server that accepted the connection and says
/// nothing): the process exits 0 soon, not after the SMTP timeout, without recording the message
/// as sent; the claim's lease runs out and the next process sends it, once.
async fn sigterm_during_a_send_exits_soon_and_leaves_the_delivery_to_be_taken_over(b: Backend) {
    let tdb = TestDb::new(&b).await;
    let id = every_second_schedule(&tdb.db, &["a@example.com"]).await;
    // A mail server that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("smtp://{}", silent.local_addr().unwrap());
    let (accepted, held) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in silent.incoming() {
            if accepted.send(conn).is_err() {
                break;
            }
        }
    });
    let mut sending = serve_to(
        &tdb.url,
        &silent_url,
        &[("LODESTAR_SMTP__TIMEOUT_SECS", "120")],
    );
    let _conn = held
        .recv_timeout(WAIT)
        .expect("the server never connected to send");
    // The delivery is claimed and in flight.
    let claimed = rows(&tdb.db, id).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].status, Status::Pending);
    let killed = Command::new("kill")
        .args(["-TERM", &sending.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = sending.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(15),
            "still running 15 s after SIGTERM (the SMTP timeout is 120 s)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    let left = rows(&tdb.db, id).await;
    assert_ne!(left[0].status, Status::Sent, "{left:?}");

    let smtp = SmtpServer::start().await.unwrap();
    let _next = serve(&tdb.url, &smtp, &[]);
    let mails = smtp.wait_for(1, WAIT).await.unwrap();
    assert_eq!(mails[0].to, ["a@example.com"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.messages().len(), 1, "sent once");
    let rows = rows(&tdb.db, id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, Status::Sent);
}
