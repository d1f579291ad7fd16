//! When sending fails: SMTP down then up (retried, delivered once), a permanent refusal
//! (recorded with the server's answer, resendable), and a digest that cannot be made (recorded
//! failed, never sent).

use std::sync::Arc;
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use lodestar_mail::testing::Stage;
use lodestar_store::deliveries::Status;
use lodestar_store::tokens::Role;
use serde_json::json;

use crate::backend_tests;
use crate::common::Backend;

use super::{DigestApp, WAIT, at, rows};

backend_tests!(
    smtp_down_then_up_delivers_once_after_retries,
    a_permanent_refusal_is_recorded_with_the_servers_answer_and_can_be_resent,
    a_digest_that_cannot_be_made_is_recorded_failed_and_never_sent,
);

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
