//! Scheduled digests end to end: the real app and scheduler (in process, or the real binary),
//! a real SMTP server over TCP (`lodestar_mail::testing::SmtpServer`), SQLite and PostgreSQL.
//! The digest app and the helpers the topics share are here; each topic has its file below
//! `digests/`.

mod bounds;
mod content;
mod exactly_once;
mod failures;
mod phone;
mod scheduling;

use std::sync::Arc;
use std::time::Duration;

use awc::http::StatusCode;
use chrono::{DateTime, Utc};
use lodestar_mail::MailSettings;
use lodestar_mail::testing::{ReceivedMail, SmtpServer};
use lodestar_scheduler::{Clock, Scheduler, SchedulerConfig};
use lodestar_store::Db;
use lodestar_store::deliveries::{self, Delivery};
use lodestar_web::DigestSettings;
use serde_json::Value;

use crate::common::{Backend, TestApp};

const WAIT: Duration = Duration::from_secs(20);

const SENDER: &str = "Lodestar <digests@lodestar.test>";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Quick retries, leases and resyncs. The public URL is the app's own.
pub(crate) fn fast_config() -> SchedulerConfig {
    SchedulerConfig {
        public_url: String::new(),
        grace: Duration::from_secs(24 * 3600),
        lease_timeout: Duration::from_secs(2),
        retry_initial: Duration::from_millis(100),
        retry_max_attempts: 8,
        resync_interval: Duration::from_millis(300),
        share_link_ttl: Duration::from_secs(30 * 86_400),
        concurrency: 4,
        team_concurrency: 2,
        test_crash_after_claim: false,
        hooks: lodestar_mail::HookConfig::default(),
    }
}

/// Digests mailed to `smtp` by a scheduler that is not started: tests fire it, or start it.
pub(crate) fn digests(smtp: &SmtpServer, config: SchedulerConfig) -> DigestSettings {
    let mail = MailSettings {
        smtp_url: Some(smtp.url()),
        from: SENDER.to_owned(),
        outbox_dir: "outbox".into(),
    };
    DigestSettings {
        smtp_timeout: Duration::from_secs(5),
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
            s.clock = clock;
            s.digests = Some(digests(&smtp, tweak(fast_config())));
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

async fn rows(db: &Db, schedule: i32) -> Vec<Delivery> {
    deliveries::list_for_schedule(db, schedule).await.unwrap()
}

async fn fixture_app(b: Backend) -> (DigestApp, String) {
    let app = DigestApp::spawn(b).await;
    let token = app.fixture_team().await.token;
    (app, token)
}
