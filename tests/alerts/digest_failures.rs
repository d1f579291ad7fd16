//! A digest delivery that fails for good tells the schedule's owner by e-mail, once, through the
//! same notice as alerts: the person who made the schedule, else (a token made it) the admins.
//! Real SMTP test server, a real HTTP receiver answering 400.

use std::time::Duration;

use awc::http::StatusCode;
use lodestar_mail::testing::Stage;
use lodestar_store::deliveries;
use lodestar_store::schedules::{self, ScheduleFields};
use lodestar_store::tokens::Role;
use serde_json::json;

use super::AlertApp;
use super::receiver::Receiver;
use crate::backend_tests;
use crate::common::Backend;

backend_tests!(
    a_digest_webhook_answering_400_tells_the_admins_once_when_a_token_made_the_schedule,
    a_digest_that_bounces_tells_the_person_who_made_the_schedule,
);

const NOW: &str = "2026-11-26T17:00:00Z";

fn monday_9() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// The messages the SMTP server has once `n` arrived and a moment passed for any extra one.
async fn mails_after(app: &AlertApp, n: usize) -> Vec<lodestar_mail::testing::ReceivedMail> {
    app.smtp.wait_for(n, Duration::from_secs(10)).await.unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    app.smtp.messages()
}

async fn a_digest_webhook_answering_400_tells_the_admins_once_when_a_token_made_the_schedule(
    backend: Backend,
) {
    let app = AlertApp::spawn(backend, NOW).await;
    let now = chrono::Utc::now();
    lodestar_store::people::create_member(
        app.db(),
        "admin@example.com",
        app.fixture.id,
        Role::Admin,
        now,
    )
    .await
    .unwrap();
    lodestar_store::people::create_member(
        app.db(),
        "editor@example.com",
        app.fixture.id,
        Role::Editor,
        now,
    )
    .await
    .unwrap();
    app.load_fixture(app.token()).await;
    let hook = Receiver::start().await;
    hook.answer_always(400);
    let (status, reply) = app
        .post_json(
            Some(app.token()),
            "/api/v1/schedules",
            &json!({"report": "weekly", "cron": "0 0 9 * * Mon", "timezone": "UTC",
                "recipients": ["team@example.com"],
                "channels": [{"webhook": hook.url("/digest"), "secret": "s"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let id = reply["id"].as_i64().unwrap() as i32;
    let first = app.scheduler().fire_at(id, monday_9()).await.unwrap();
    assert_eq!((first.sent, first.failed), (1, 1), "{first:?}");
    // Firing again claims nothing, and tells no one again.
    let again = app.scheduler().fire_at(id, monday_9()).await.unwrap();
    assert_eq!(again.claimed, 0, "{again:?}");
    assert_eq!(hook.received().len(), 1, "a 4xx is not retried");
    let rows = deliveries::list_for_schedule(app.db(), id).await.unwrap();
    let failed: Vec<_> = rows
        .iter()
        .filter(|r| r.status == deliveries::Status::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{rows:?}");
    assert!(failed[0].owner_told, "{:?}", failed[0]);
    assert!(failed[0].error.as_deref().unwrap().contains("400"));
    let mails = mails_after(&app, 2).await;
    assert_eq!(mails.len(), 2, "the digest and one notice: {mails:?}");
    let notices: Vec<_> = mails
        .iter()
        .filter(|m| m.subject().unwrap().contains("could not deliver"))
        .collect();
    assert_eq!(notices.len(), 1, "{mails:?}");
    assert_eq!(
        notices[0].to,
        ["admin@example.com"],
        "a token made it: the admins"
    );
    assert!(
        notices[0].data.contains("400"),
        "the receiver's answer is in it"
    );
    assert!(
        notices[0].data.contains("GET /api/v1/deliveries?schedule"),
        "it says where the failure is recorded"
    );
}

async fn a_digest_that_bounces_tells_the_person_who_made_the_schedule(backend: Backend) {
    let app = AlertApp::spawn(backend, NOW).await;
    let now = chrono::Utc::now();
    let (maker, _) = lodestar_store::people::create_member(
        app.db(),
        "maker@example.com",
        app.fixture.id,
        Role::Editor,
        now,
    )
    .await
    .unwrap();
    lodestar_store::people::create_member(
        app.db(),
        "admin@example.com",
        app.fixture.id,
        Role::Admin,
        now,
    )
    .await
    .unwrap();
    app.load_fixture(app.token()).await;
    // The first message's recipient bounces; the notice after it goes through.
    app.smtp
        .reply_next(1, Stage::RcptTo, "550 5.1.1 No such user gone");
    // As the schedules page stores it for the person signed in.
    let fields = ScheduleFields {
        report: "weekly".to_owned(),
        cron: "0 0 9 * * Mon".to_owned(),
        timezone: "UTC".to_owned(),
        recipients: vec!["gone@example.com".to_owned()],
        channels: "[]".to_owned(),
        skip_empty: false,
        paused: false,
    };
    let created = monday_9() - chrono::TimeDelta::days(1);
    let schedule = schedules::create(app.db(), app.fixture.id, &fields, Some(maker), created)
        .await
        .unwrap();
    assert_eq!(schedule.owner_user_id, Some(maker));
    let fired = app
        .scheduler()
        .fire_at(schedule.id, monday_9())
        .await
        .unwrap();
    assert_eq!(fired.failed, 1, "{fired:?}");
    let mails = mails_after(&app, 1).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(
        mails[0].to,
        ["maker@example.com"],
        "the maker, not the admins"
    );
    assert!(
        mails[0].data.contains("550"),
        "the server's answer is in it"
    );
    let rows = deliveries::list_for_schedule(app.db(), schedule.id)
        .await
        .unwrap();
    assert!(rows[0].owner_told, "{rows:?}");
}
