//! Scheduled digests end to end: the real app and scheduler (in process, or the real binary),
//! a real SMTP server over TCP (`lodestar_mail::testing::SmtpServer`), SQLite and PostgreSQL.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use lodestar_core::catalog::Builtin;
use lodestar_core::period::Timezone;
use lodestar_mail::testing::{ReceivedMail, SmtpServer, Stage};
use lodestar_mail::{MailSettings, digest_message_id};
use lodestar_report::format::format_value;
use lodestar_report::share;
use lodestar_scheduler::{Clock, Scheduler, SchedulerConfig};
use lodestar_store::deliveries::{self, Delivery, Status};
use lodestar_store::schedules::{self, ScheduleFields};
use lodestar_store::tokens::Role;
use lodestar_store::{Db, secrets, teams};
use lodestar_web::{AppSettings, Application, DigestSettings};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, TestApp, TestDb, app_settings, read_fixture};

backend_tests!(
    a_fired_digest_shows_the_fixture_week_and_a_working_share_link,
    a_schedule_firing_every_second_sends_once_per_recipient,
    a_process_killed_after_its_claim_is_followed_by_exactly_one_delivery,
    smtp_down_then_up_delivers_once_after_retries,
    a_permanent_refusal_is_recorded_with_the_servers_answer_and_can_be_resent,
    a_missed_firing_is_caught_up_at_start_up_within_the_grace_window_only,
    schedules_are_validated_scoped_to_their_team_and_paused_by_put,
    send_now_reports_each_smtp_result_and_is_logged_apart_from_claims,
    a_digest_that_cannot_be_made_is_recorded_failed_and_never_sent,
    the_digest_says_why_kpis_changed_by_driver_in_both_parts,
    a_digest_follows_its_reports_tree_and_names_the_tree_once_it_is_gone,
);

const WAIT: Duration = Duration::from_secs(20);
const SENDER: &str = "Lodestar <digests@lodestar.test>";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Quick retries, leases and resyncs. The public URL is the app's own.
fn fast_config() -> SchedulerConfig {
    SchedulerConfig {
        public_url: String::new(),
        grace: Duration::from_secs(24 * 3600),
        lease_timeout: Duration::from_secs(2),
        retry_initial: Duration::from_millis(100),
        retry_max_attempts: 8,
        resync_interval: Duration::from_millis(300),
        share_link_ttl: Duration::from_secs(30 * 86_400),
        concurrency: 4,
        test_crash_after_claim: false,
    }
}

/// Digests mailed to `smtp` by a scheduler that is not started: tests fire it, or start it.
fn digests(smtp: &SmtpServer, config: SchedulerConfig, clock: Clock) -> DigestSettings {
    let mail = MailSettings {
        smtp_url: Some(smtp.url()),
        from: SENDER.to_owned(),
        outbox_dir: "outbox".into(),
    };
    DigestSettings {
        smtp_timeout: Duration::from_secs(5),
        clock,
        start: false,
        ..DigestSettings::new(mail, config)
    }
}

/// The app with a scheduler (not started: tests fire it, or start it) and an SMTP server.
struct DigestApp {
    app: TestApp,
    smtp: SmtpServer,
    scheduler: Arc<Scheduler>,
}

impl std::ops::Deref for DigestApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl DigestApp {
    async fn spawn(backend: Backend) -> DigestApp {
        Self::spawn_with(backend, |c| c, Arc::new(Utc::now)).await
    }

    async fn spawn_with(
        backend: Backend,
        tweak: impl FnOnce(SchedulerConfig) -> SchedulerConfig,
        clock: Clock,
    ) -> DigestApp {
        let smtp = SmtpServer::start().await.unwrap();
        let app = TestApp::spawn_with(backend, |s| {
            s.digests = Some(digests(&smtp, tweak(fast_config()), clock));
        })
        .await;
        DigestApp {
            scheduler: Arc::clone(app.scheduler()),
            app,
            smtp,
        }
    }

    async fn create_schedule(&self, token: &str, body: Value) -> i32 {
        let (status, reply) = self
            .post_json(Some(token), "/api/v1/schedules", &body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        reply["id"].as_i64().unwrap() as i32
    }

    async fn deliveries(&self, token: &str, schedule: i32) -> Vec<Value> {
        let (status, reply) = self
            .get(
                Some(token),
                &format!("/api/v1/deliveries?schedule={schedule}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        reply.as_array().unwrap().clone()
    }
}

fn part(mail: &ReceivedMail, content_type: &str) -> String {
    mail.parts()
        .into_iter()
        .find(|p| p.content_type == content_type)
        .unwrap_or_else(|| panic!("no {content_type} part in\n{}", mail.data))
        .body
}

/// Waits until `cond` holds, polling; panics with `what` after `WAIT`.
async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn rows(db: &Db, schedule: i32) -> Vec<Delivery> {
    deliveries::list_for_schedule(db, schedule).await.unwrap()
}

async fn fixture_app(b: Backend) -> (DigestApp, String) {
    let app = DigestApp::spawn(b).await;
    let token = app.fixture_team().await.token;
    (app, token)
}

async fn a_fired_digest_shows_the_fixture_week_and_a_working_share_link(b: Backend) {
    let (app, token) = fixture_app(b).await;
    let id = app
        .create_schedule(
            &token,
            json!({"report": "weekly", "cron": "0 8 * * MON", "timezone": "America/New_York",
                   "recipients": ["ada@example.com", "Bob <bob@example.com>"]}),
        )
        .await;
    // Monday 2026-11-09 08:00 in New York: the last complete week is 2026-W45.
    let monday = at("2026-11-09T13:00:00Z");
    let fired = app.scheduler.fire_at(id, monday).await.unwrap();
    assert_eq!(fired.due, Some(monday));
    assert_eq!(fired.period.as_deref(), Some("2026-W45"));
    assert_eq!((fired.claimed, fired.sent), (2, 2), "{fired:?}");

    let mails = app.smtp.wait_for(2, WAIT).await.unwrap();
    assert_eq!(mails.len(), 2);
    let expected = read_fixture("expected.json");
    let case = expected["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["period"] == "2026-W45" && c["segment_by"].is_null())
        .unwrap();
    for mail in &mails {
        assert_eq!(
            mail.subject().unwrap(),
            "Fixture team 7 · Weekly report · Week 45, 2026 (Nov 2 – Nov 8)"
        );
        let to = if mail.to[0] == "ada@example.com" {
            "ada@example.com"
        } else {
            "Bob <bob@example.com>"
        };
        assert_eq!(
            mail.header("Message-ID").unwrap(),
            digest_message_id(i64::from(id), "2026-W45", to, "127.0.0.1")
        );
        let text = part(mail, "text/plain");
        let html = part(mail, "text/html");
        for (key, value) in case["kpis"].as_object().unwrap() {
            let b = Builtin::from_key(key).unwrap();
            let shown = format_value(b.unit(), value.as_f64());
            let line = format!("- {}: {shown}", b.name());
            assert!(text.contains(&line), "missing {line:?} in\n{text}");
            assert!(
                html.contains(&shown),
                "missing {shown:?} for {key} in the HTML"
            );
        }
        // The same numbers, written out by hand.
        for line in [
            "- Leads: 31",
            "- Cost per lead: 160.11",
            "- Lead-to-customer rate: 6.5%",
            "- Sales cycle: 7.6 days",
            "- Return on ad spend: 2.94",
            "- Net promoter score: -75.0",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(text.contains("Newest data: "), "{text}");
        assert!(html.contains("View in browser"), "{html}");
    }

    // The share link opens the report without signing in, and carries a valid token.
    let text = part(&mails[0], "text/plain");
    let link = text
        .lines()
        .find_map(|l| l.strip_prefix("View in browser: "))
        .unwrap()
        .trim()
        .to_owned();
    let prefix = format!("{}/reports/weekly?period=2026-W45&share=", app.base);
    assert!(link.starts_with(&prefix), "{link}");
    let secret = secrets::get_or_create(app.db(), "share").await.unwrap();
    let claims = share::verify(&secret, &link[prefix.len()..], Utc::now()).unwrap();
    assert_eq!(claims.period, "2026-W45");
    assert_eq!(claims.report, "weekly");
    let (status, page) = app.get(None, &link[app.base.len()..]).await;
    assert_eq!(status, StatusCode::OK, "{page}");

    let log = app.deliveries(&token, id).await;
    assert_eq!(log.len(), 2);
    for row in &log {
        assert_eq!(row["status"], "sent", "{row}");
        assert_eq!(row["period"], "2026-W45");
        assert_eq!(row["attempts"], 1);
        assert!(row["error"].is_null());
        assert!(row["sent_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(row["schedule"], id);
    }

    // Firing again for the same instant (or any instant of the same period) sends nothing.
    let again = app.scheduler.fire_at(id, monday).await.unwrap();
    assert_eq!(again.claimed, 0);
    let later = app
        .scheduler
        .fire_at(id, monday + TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!((later.due, later.claimed), (Some(monday), 0));
    assert_eq!(app.smtp.messages().len(), 2);
}

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
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lodestar"));
    cmd.arg("serve")
        .env("LODESTAR_DATABASE__URL", db_url)
        .env("LODESTAR_SERVER__BIND", "127.0.0.1:0")
        .env("LODESTAR_SMTP__URL", smtp.url())
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
        skip_empty: false,
        paused: false,
    };
    schedules::create(db, team.id, &fields, Utc::now())
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

async fn smtp_down_then_up_delivers_once_after_retries(b: Backend) {
    let app = DigestApp::spawn(b).await;
    let (_, token) = app.team("acme", "UTC", Role::Editor).await;
    let id = app
        .create_schedule(
            &token,
            json!({"report": "weekly", "cron": "0 8 * * MON", "timezone": "UTC",
                   "recipients": ["a@example.com"]}),
        )
        .await;
    let monday = Utc::now() + TimeDelta::days(7);
    let monday = app_next_run(&app, &token, id, monday).await;

    app.smtp.stop().await;
    let scheduler = Arc::clone(&app.scheduler);
    let firing = actix_web::rt::spawn(async move { scheduler.fire_at(id, monday).await });
    let db = app.db().clone();
    eventually("two refused attempts", || {
        let db = db.clone();
        async move { rows(&db, id).await.first().is_some_and(|r| r.attempts >= 2) }
    })
    .await;
    let pending = rows(app.db(), id).await.remove(0);
    assert_eq!(pending.status, Status::Pending);
    assert!(
        pending.error.is_some(),
        "the refusal is on record: {pending:?}"
    );
    app.smtp.restart().await.unwrap();
    let fired = firing.await.unwrap().unwrap();
    assert_eq!(fired.sent, 1);
    app.smtp.wait_for(1, WAIT).await.unwrap();
    let row = rows(app.db(), id).await.remove(0);
    assert_eq!(row.status, Status::Sent);
    assert!(row.attempts >= 3, "{row:?}");
    assert!(row.error.is_none());

    // A 4xx is transient too: two "try again later" answers, then accepted.
    app.smtp
        .reply_next(2, Stage::EndOfData, "451 4.3.0 Try again later");
    let next = monday + TimeDelta::days(7);
    let fired = app.scheduler.fire_at(id, next).await.unwrap();
    assert_eq!(fired.sent, 1);
    let rows = rows(app.db(), id).await;
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1].status, rows[1].attempts), (Status::Sent, 3));
    assert_eq!(app.smtp.messages().len(), 2);
}

/// The schedule's next run after `after`, read through the API.
async fn app_next_run(
    app: &DigestApp,
    token: &str,
    id: i32,
    after: DateTime<Utc>,
) -> DateTime<Utc> {
    let (_, s) = app
        .get(Some(token), &format!("/api/v1/schedules/{id}"))
        .await;
    let next = at(s["next_run"].as_str().unwrap());
    assert!(next > Utc::now());
    // The firing instant must be an occurrence after the schedule's creation: any Monday 08:00.
    let mut t = next;
    while t < after {
        t += TimeDelta::days(7);
    }
    t
}

async fn a_permanent_refusal_is_recorded_with_the_servers_answer_and_can_be_resent(b: Backend) {
    let app = DigestApp::spawn(b).await;
    let (_, token) = app.team("acme", "UTC", Role::Editor).await;
    let id = app
        .create_schedule(
            &token,
            json!({"report": "weekly", "cron": "0 8 * * *", "timezone": "UTC",
                   "recipients": ["gone@example.com"]}),
        )
        .await;
    let due = app_next_run(&app, &token, id, Utc::now()).await;
    app.smtp
        .reply_always(Stage::RcptTo, "550 5.1.1 Mailbox unavailable");
    let fired = app.scheduler.fire_at(id, due).await.unwrap();
    assert_eq!((fired.claimed, fired.failed), (1, 1));
    let log = app.deliveries(&token, id).await;
    assert_eq!(log[0]["status"], "failed");
    assert_eq!(log[0]["attempts"], 1, "a 5xx is not retried");
    assert!(
        log[0]["error"]
            .as_str()
            .unwrap()
            .contains("550 5.1.1 Mailbox unavailable"),
        "{}",
        log[0]
    );
    assert!(app.smtp.messages().is_empty());

    app.smtp.clear_faults();
    let delivery = log[0]["id"].as_i64().unwrap();
    let (viewer_status, _) = {
        let viewer = app
            .app
            .token(app.app_team_id(&token).await, Role::Viewer)
            .await;
        app.send(
            "POST",
            Some(&viewer),
            &format!("/api/v1/deliveries/{delivery}/resend"),
            None,
        )
        .await
    };
    assert_eq!(viewer_status, StatusCode::FORBIDDEN);
    let (status, row) = app
        .send(
            "POST",
            Some(&token),
            &format!("/api/v1/deliveries/{delivery}/resend"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row["status"], "sent");
    assert_eq!(row["attempts"], 2);
    let mails = app.smtp.wait_for(1, WAIT).await.unwrap();
    assert_eq!(
        mails[0].header("Message-ID").unwrap(),
        row["message_id"].as_str().unwrap()
    );
    let (status, reply) = app
        .send(
            "POST",
            Some(&token),
            &format!("/api/v1/deliveries/{delivery}/resend"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    // The claim still holds: the schedule does not send that period again.
    assert_eq!(app.scheduler.fire_at(id, due).await.unwrap().claimed, 0);
}

impl DigestApp {
    async fn app_team_id(&self, token: &str) -> i32 {
        lodestar_store::tokens::authenticate(self.db(), token)
            .await
            .unwrap()
            .unwrap()
            .team
            .id
    }
}

async fn a_missed_firing_is_caught_up_at_start_up_within_the_grace_window_only(b: Backend) {
    // The servers were down from before 2026-11-19 20:00 until now, 2026-11-20 09:00.
    let now = at("2026-11-20T09:00:00Z");
    let clock: Clock = Arc::new(move || now);
    let grace = |c: SchedulerConfig| SchedulerConfig {
        grace: Duration::from_secs(12 * 3600),
        ..c
    };
    let app = DigestApp::spawn_with(b.clone(), grace, Arc::clone(&clock)).await;
    let team = teams::create(app.db(), "acme", "Acme", &Timezone::default())
        .await
        .unwrap();
    let fields = |cron: &str, to: &str| ScheduleFields {
        report: "weekly".into(),
        cron: cron.into(),
        timezone: "UTC".into(),
        recipients: vec![to.to_owned()],
        skip_empty: false,
        paused: false,
    };
    let created = at("2026-11-01T00:00:00Z");
    // Due 1 hour ago: inside the 12-hour grace window.
    let recent = schedules::create(
        app.db(),
        team.id,
        &fields("0 8 * * *", "recent@example.com"),
        created,
    )
    .await
    .unwrap();
    // Due 13 hours ago: too old.
    let stale = schedules::create(
        app.db(),
        team.id,
        &fields("0 20 19 11 *", "stale@example.com"),
        created,
    )
    .await
    .unwrap();

    app.scheduler.start().await.unwrap();
    let mails = app.smtp.wait_for(1, WAIT).await.unwrap();
    assert_eq!(mails[0].to, ["recent@example.com"]);
    app.scheduler.resync().await.unwrap();

    // A second server starting on the same database (a restart) catches up nothing more.
    let restarted = Application::build(AppSettings {
        public_url: Some(app.base.clone()),
        digests: Some(digests(&app.smtp, grace(fast_config()), clock)),
        ..app_settings(&app.database_url)
    })
    .await
    .unwrap();
    let restarted = restarted.state().scheduler.clone().unwrap();
    restarted.start().await.unwrap();
    restarted.resync().await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(app.smtp.messages().len(), 1);
    let sent = rows(app.db(), recent.id).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].period, "2026-W46",
        "the week before Friday 2026-11-20"
    );
    assert!(rows(app.db(), stale.id).await.is_empty());
    restarted.shutdown().await;
    app.scheduler.shutdown().await;
}

async fn schedules_are_validated_scoped_to_their_team_and_paused_by_put(b: Backend) {
    let app = DigestApp::spawn(b).await;
    let (team_id, token) = app.team("acme", "Europe/Berlin", Role::Editor).await;
    let (_, other) = app.team("other", "UTC", Role::Admin).await;
    let viewer = app.token(team_id, Role::Viewer).await;
    let good = json!({"report": "weekly", "cron": "0 8 * * SUN", "timezone": "Europe/Berlin",
                      "recipients": ["a@example.com"]});
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    for (body, field) in [
        (with("cron", json!("0 8 * *")), "cron"),
        (with("cron", json!("0 25 * * *")), "cron"),
        (with("timezone", json!("Mars/Olympus")), "timezone"),
        (
            with(
                "recipients",
                json!(["a@example.com\r\nBcc: eve@evil.example"]),
            ),
            "recipients",
        ),
        (with("recipients", json!(["not an address"])), "recipients"),
        (with("recipients", json!([])), "recipients"),
        (with("report", json!("board-monthly")), "report"),
        (
            json!({"report": "weekly", "recipients": ["a@example.com"]}),
            "cron",
        ),
    ] {
        let (status, reply) = app
            .send("POST", Some(&token), "/api/v1/schedules", Some(&body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {reply}");
        assert_eq!(reply["error"], "validation", "{reply}");
        assert_eq!(reply["field"], field, "{body}: {reply}");
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, _) = app
        .send("POST", Some(&viewer), "/api/v1/schedules", Some(&good))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, created) = app
        .send("POST", Some(&token), "/api/v1/schedules", Some(&good))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let next = at(created["next_run"].as_str().unwrap());
    assert!(next > Utc::now() && next < Utc::now() + TimeDelta::days(8));
    // 08:00 in Berlin is 07:00 or 06:00 UTC.
    assert!(created["next_run"].as_str().unwrap().ends_with(":00:00Z"));

    let path = format!("/api/v1/schedules/{id}");
    let (status, list) = app
        .send("GET", Some(&viewer), "/api/v1/schedules", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    for (method, p) in [
        ("GET", path.clone()),
        ("PUT", path.clone()),
        ("DELETE", path.clone()),
        ("POST", format!("{path}/send-now")),
    ] {
        let (status, reply) = app
            .send(method, Some(&other), &p, Some(&json!({"paused": true})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {p}: {reply}");
    }
    let (_, others) = app
        .send("GET", Some(&other), "/api/v1/schedules", None)
        .await;
    assert_eq!(others, json!([]));
    let (status, _) = app
        .send("PUT", Some(&viewer), &path, Some(&json!({"paused": true})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, paused) = app
        .send("PUT", Some(&token), &path, Some(&json!({"paused": true})))
        .await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["paused"], true);
    assert!(paused["next_run"].is_null());
    assert_eq!(
        paused["cron"], "0 8 * * SUN",
        "a partial PUT keeps the other fields"
    );
    let (status, reply) = app
        .send("PUT", Some(&token), &path, Some(&json!({"cron": "nope"})))
        .await;
    assert_eq!(
        (status, reply["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("cron"))
    );
    let (_, resumed) = app
        .send(
            "PUT",
            Some(&token),
            &path,
            Some(&json!({"paused": false, "recipients": ["b@example.com"]})),
        )
        .await;
    assert_eq!(resumed["paused"], false);
    assert_eq!(resumed["recipients"], json!(["b@example.com"]));
    assert!(resumed["next_run"].is_string());

    let (status, _) = app.send("DELETE", Some(&token), &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.send("GET", Some(&token), &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn send_now_reports_each_smtp_result_and_is_logged_apart_from_claims(b: Backend) {
    let app = DigestApp::spawn(b).await;
    let (_, token) = app.team("acme", "UTC", Role::Editor).await;
    let id = app
        .create_schedule(
            &token,
            json!({"report": "weekly", "cron": "0 8 * * MON", "timezone": "UTC",
                   "recipients": ["a@example.com", "b@example.com"]}),
        )
        .await;
    app.smtp
        .reply_next(1, Stage::RcptTo, "550 5.1.1 No such user b");
    let path = format!("/api/v1/schedules/{id}/send-now");
    let (status, reply) = app.send("POST", Some(&token), &path, None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let results = reply["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["status"], "failed", "{reply}");
    assert!(results[0]["error"].as_str().unwrap().contains("550 5.1.1"));
    assert_eq!(results[1]["status"], "sent", "{reply}");
    assert!(
        results[1]["response"].as_str().unwrap().starts_with("250"),
        "{reply}"
    );
    // An explicit request may repeat a period: it sends again, with a Message-ID of its own.
    let (status, _) = app.send("POST", Some(&token), &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let mails = app.smtp.wait_for(3, WAIT).await.unwrap();
    let mut ids: Vec<String> = mails
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    let log = app.deliveries(&token, id).await;
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|r| r["origin"] == "manual"), "{log:?}");
    let period = reply["period"].as_str().unwrap();
    assert!(
        deliveries::claimed(app.db(), &[id], &[period.to_owned()])
            .await
            .unwrap()
            .is_empty(),
        "send-now claims nothing"
    );
}

async fn a_digest_that_cannot_be_made_is_recorded_failed_and_never_sent(b: Backend) {
    let app = DigestApp::spawn(b).await;
    let (_, token) = app.team("acme", "UTC", Role::Editor).await;
    let quiet = app
        .create_schedule(
            &token,
            json!({"report": "weekly", "cron": "0 8 * * *", "timezone": "UTC",
                   "recipients": ["a@example.com"], "skip_empty": true}),
        )
        .await;
    let due = app_next_run(&app, &token, quiet, Utc::now()).await;
    // No data at all and skip_empty: nothing is sent, and that is on record.
    let fired = app.scheduler.fire_at(quiet, due).await.unwrap();
    assert_eq!((fired.claimed, fired.skipped), (1, 1));
    let log = app.deliveries(&token, quiet).await;
    assert_eq!(log[0]["status"], "skipped");

    let broken = app
        .create_schedule(
            &token,
            json!({"report": "weekly", "cron": "0 8 * * *", "timezone": "UTC",
                   "recipients": ["a@example.com", "b@example.com"]}),
        )
        .await;
    use sea_orm::ConnectionTrait;
    app.db()
        .conn()
        .execute_unprepared("DROP TABLE events")
        .await
        .unwrap();
    let fired = app.scheduler.fire_at(broken, due).await.unwrap();
    assert_eq!((fired.claimed, fired.failed, fired.sent), (2, 2, 0));
    let log = app.deliveries(&token, broken).await;
    assert_eq!(log.len(), 2);
    for row in &log {
        assert_eq!(row["status"], "failed");
        assert!(
            row["error"].as_str().unwrap().contains("could not be made"),
            "{row}"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.smtp.messages().is_empty());
}

async fn the_digest_says_why_kpis_changed_by_driver_in_both_parts(b: Backend) {
    let (app, token) = fixture_app(b).await;
    let id = app
        .create_schedule(
            &token,
            json!({"report": "weekly", "cron": "0 8 * * MON", "timezone": "America/New_York",
                   "recipients": ["ada@example.com"]}),
        )
        .await;
    let fired = app
        .scheduler
        .fire_at(id, at("2026-11-09T13:00:00Z"))
        .await
        .unwrap();
    assert_eq!(fired.period.as_deref(), Some("2026-W45"));
    assert_eq!(fired.sent, 1, "{fired:?}");
    let mails = app.smtp.wait_for(1, WAIT).await.unwrap();
    // Mail lines end in CRLF.
    let text = part(&mails[0], "text/plain").replace("\r\n", "\n");
    let html = part(&mails[0], "text/html");

    // Worked out from the fixture's expected values, not by the server.
    let sentence = crate::trees::won_revenue_sentence("2026-W45", "2026-W44");
    let heading = text
        .find("\nWhy it changed\n")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        text[heading..].contains(&format!("\n- {sentence}\n")),
        "{sentence} not in\n{text}"
    );
    assert!(html.contains("Why it changed"), "{html}");
    assert!(html.contains(&sentence), "{sentence} not in\n{html}");

    // Every KPI whose change the API explains is in both parts, with the API's words.
    let (status, api) = app
        .send("GET", Some(&token), "/api/v1/drivers?period=2026-W45", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut moved = 0;
    for e in api["explanations"].as_array().unwrap() {
        if e["value"] == e["previous"] {
            continue;
        }
        moved += 1;
        let said = e["sentence"].as_str().unwrap();
        assert!(text.contains(&format!("- {said}")), "{said} not in\n{text}");
        assert!(html.contains(said), "{said} not in the HTML");
    }
    assert!(moved >= 4, "{api}");
    // Bars are table cells with widths, never SVG: mail clients drop it.
    assert!(!html.to_lowercase().contains("<svg"), "{html}");
    assert!(html.contains("border-left:1px solid #57606a"), "{html}");
}

async fn a_digest_follows_its_reports_tree_and_names_the_tree_once_it_is_gone(b: Backend) {
    let (app, token) = fixture_app(b).await;
    let tree = json!({"title": "Money", "branches": [{"title": "Takings", "kpis": ["revenue"]}]});
    let (status, body) = app
        .send("PUT", Some(&token), "/api/v1/trees/money", Some(&tree))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/reports/money",
            Some(&json!({"title": "Money", "tree": "money"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = app
        .create_schedule(
            &token,
            json!({"report": "money", "cron": "0 8 * * MON", "timezone": "America/New_York",
                   "recipients": ["ada@example.com"]}),
        )
        .await;
    let fired = app
        .scheduler
        .fire_at(id, at("2026-11-09T13:00:00Z"))
        .await
        .unwrap();
    assert_eq!(fired.sent, 1, "{fired:?}");
    let mails = app.smtp.wait_for(1, WAIT).await.unwrap();
    let text = part(&mails[0], "text/plain").replace("\r\n", "\n");
    let takings = text
        .find("\nTakings\n- Revenue: ")
        .unwrap_or_else(|| panic!("{text}"));
    let other = text.find("\nOther\n").unwrap_or_else(|| panic!("{text}"));
    assert!(takings < other, "{text}");

    // The tree is deleted: the next digest is not sent, and the log says which tree is missing.
    let (status, _) = app
        .send("DELETE", Some(&token), "/api/v1/trees/money", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let fired = app
        .scheduler
        .fire_at(id, at("2026-11-16T13:00:00Z"))
        .await
        .unwrap();
    assert_eq!((fired.failed, fired.sent), (1, 0), "{fired:?}");
    let log = app.deliveries(&token, id).await;
    let failed = log.iter().find(|r| r["period"] == "2026-W46").unwrap();
    assert_eq!(failed["status"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("`money`") && error.contains("KPI tree"),
        "{error}"
    );
    assert_eq!(app.smtp.messages().len(), 1);
}
