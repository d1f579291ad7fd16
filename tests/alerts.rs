//! Alerts end to end: the real app and scheduler with an injectable clock, real HTTP receivers
//! for Slack and webhooks in the test process, the real SMTP test server, fixture data.
//! Each condition's expected firings are computed here from the KPI API's own answers.

mod conditions;
mod delivery;
mod digest_failures;
mod receiver;
mod replicas;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use awc::http::StatusCode;
use chrono::{DateTime, Utc};
use lodestar_mail::MailSettings;
use lodestar_mail::testing::SmtpServer;
use lodestar_scheduler::{Clock, Scheduler, SchedulerConfig};
use lodestar_store::teams;
use lodestar_web::DigestSettings;
use serde_json::Value;

use crate::common::{Backend, FixtureTeam, TestApp};

/// A clock the test moves.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn at(s: &str) -> TestClock {
        TestClock(Arc::new(AtomicI64::new(instant(s).timestamp_millis())))
    }

    fn set(&self, s: &str) {
        self.0
            .store(instant(s).timestamp_millis(), Ordering::SeqCst);
    }

    fn clock(&self) -> Clock {
        let ms = Arc::clone(&self.0);
        Arc::new(move || DateTime::from_timestamp_millis(ms.load(Ordering::SeqCst)).unwrap())
    }
}

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Quick retries; the SMTP server for e-mail channels and owner notices.
fn config() -> SchedulerConfig {
    SchedulerConfig {
        public_url: String::new(),
        lease_timeout: Duration::from_secs(5),
        retry_initial: Duration::from_millis(50),
        retry_max_attempts: 4,
        ..SchedulerConfig::default()
    }
}

struct AlertApp {
    app: TestApp,
    smtp: SmtpServer,
    clock: TestClock,
    fixture: FixtureTeam,
}

impl std::ops::Deref for AlertApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl AlertApp {
    /// The app at `now` with a scheduler (not started) and the small fixture's team, empty.
    async fn spawn(backend: Backend, now: &str) -> AlertApp {
        Self::spawn_with(backend, now, |_| {}).await
    }

    async fn spawn_with(
        backend: Backend,
        now: &str,
        tweak: impl FnOnce(&mut SchedulerConfig),
    ) -> AlertApp {
        let mut scheduler = config();
        tweak(&mut scheduler);
        let smtp = SmtpServer::start().await.unwrap();
        let clock = TestClock::at(now);
        let mail = MailSettings {
            smtp_url: Some(smtp.url()),
            from: "Lodestar <alerts@lodestar.test>".to_owned(),
            outbox_dir: "outbox".into(),
        };
        let app = TestApp::spawn_with(backend, |s| {
            s.clock = clock.clock();
            s.digests = Some(DigestSettings {
                smtp_timeout: Duration::from_secs(5),
                start: false,
                ..DigestSettings::new(mail, scheduler)
            });
        })
        .await;
        let team = common_team(&app).await;
        AlertApp {
            app,
            smtp,
            clock,
            fixture: team,
        }
    }

    fn scheduler(&self) -> &Arc<Scheduler> {
        self.app.scheduler()
    }

    fn token(&self) -> &str {
        &self.fixture.token
    }

    async fn create_alert(&self, body: Value) -> i32 {
        let (status, reply) = self
            .post_json(Some(self.token()), "/api/v1/alerts", &body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        reply["id"].as_i64().unwrap() as i32
    }

    /// Checks the team's alerts now and waits for it (a check after a load may be running: the
    /// team's checks take turns, so this one sees all its work done).
    async fn check(&self) -> lodestar_scheduler::alerts::CheckReport {
        let team = teams::find_by_id(self.db(), self.fixture.id)
            .await
            .unwrap()
            .unwrap();
        self.scheduler().check_alerts(&team, false).await.unwrap()
    }

    async fn events(&self, alert: i32) -> Vec<Value> {
        let (status, reply) = self
            .get(
                Some(self.token()),
                &format!("/api/v1/alerts/{alert}/events"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        reply.as_array().unwrap().clone()
    }

    /// `GET /api/v1/kpis` with this query.
    async fn kpis(&self, query: &str) -> Value {
        let (status, reply) = self
            .get(Some(self.token()), &format!("/api/v1/kpis?{query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        reply
    }
}

/// The fixture's team with an editor's token, nothing loaded yet.
async fn common_team(app: &TestApp) -> FixtureTeam {
    let team = crate::common::read_fixture("team.json");
    let field = |name: &str| team[name].as_str().unwrap().to_owned();
    let tz = lodestar_core::period::Timezone::parse(&field("timezone")).unwrap();
    let created = teams::create(app.db(), &field("slug"), &field("name"), &tz)
        .await
        .unwrap();
    let token = app
        .token(created.id, lodestar_store::tokens::Role::Editor)
        .await;
    FixtureTeam {
        id: created.id,
        token,
    }
}

/// `(segment, value, previous)` of the one KPI of a `/api/v1/kpis` answer.
fn segments(reply: &Value) -> Vec<(String, Option<f64>, Option<f64>)> {
    reply["kpis"][0]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["segment"].as_str().unwrap().to_owned(),
                s["value"].as_f64(),
                s["previous"].as_f64(),
            )
        })
        .collect()
}

/// The segments an alert fired for, sorted.
fn fired_segments(events: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = events
        .iter()
        .filter(|e| e["kind"] == "fired")
        .map(|e| e["segment"].as_str().unwrap_or("").to_owned())
        .collect();
    out.sort();
    out
}
