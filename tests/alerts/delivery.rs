//! Delivery: exactly once however often the crossing data is loaded, signed webhooks retried on
//! 503 and delivered once, a 400 recorded as failed with the owner told once by e-mail.

use std::time::Duration;

use awc::http::StatusCode;
use hmac::{Hmac, KeyInit, Mac};
use lodestar_store::tokens::Role;
use serde_json::{Value, json};
use sha2::Sha256;

use super::AlertApp;
use super::receiver::Receiver;
use crate::backend_tests;
use crate::common::{Backend, read_fixture};

backend_tests!(
    loading_the_same_crossing_batch_three_times_fires_once,
    a_webhook_is_signed_and_a_receiver_answering_503_twice_gets_one_delivery,
    a_400_is_recorded_failed_and_the_owner_is_told_once,
    a_schedule_sends_its_digest_to_slack_and_webhook_channels_once,
    private_addresses_are_refused_when_blocking_is_on,
    a_delivery_whose_sender_stopped_is_taken_over_once_after_its_lease,
    a_failed_delivery_tells_the_person_who_made_the_alert,
);

const NOW: &str = "2026-11-26T17:00:00Z";

async fn month_leads(app: &AlertApp) -> f64 {
    app.kpis("period=mtd&keys=leads").await["kpis"][0]["value"]
        .as_f64()
        .unwrap()
}

/// Three leads made from the fixture's first one: new ids, created this morning.
fn crossing_batch() -> Value {
    let first = read_fixture("leads.json")[0].clone();
    let rows: Vec<Value> = (0..3)
        .map(|i| {
            let mut row = first.clone();
            row["id"] = json!(format!("ALERT-{i}"));
            row["created_at"] = json!(format!("2026-11-26T1{i}:00:00Z"));
            for stage in ["mql_at", "sal_at", "sql_at", "won_at", "lost_at"] {
                if let Some(obj) = row.as_object_mut() {
                    obj.remove(stage);
                }
            }
            row
        })
        .collect();
    Value::Array(rows)
}

async fn loading_the_same_crossing_batch_three_times_fires_once(backend: Backend) {
    let app = AlertApp::spawn(backend, NOW).await;
    let hook = Receiver::start().await;
    app.load_fixture(app.token()).await;
    let before = month_leads(&app).await;
    let alert = app
        .create_alert(json!({"kpi": "leads", "period_kind": "month",
            "condition": {"type": "above", "value": before + 2.0},
            "channels": [{"webhook": hook.url("/in"), "secret": "k"}]}))
        .await;
    assert!(app.check().await.events.is_empty());
    let batch = crossing_batch();
    let loads = (0..3).map(|_| app.post_json(Some(app.token()), "/api/v1/leads", &batch));
    for (status, reply) in futures_util::future::join_all(loads).await {
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    assert_eq!(month_leads(&app).await, before + 3.0);
    app.check().await;
    app.post_json(Some(app.token()), "/api/v1/leads", &batch)
        .await;
    app.check().await;
    let events = app.events(alert).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["deliveries"].as_array().unwrap().len(), 1);
    hook.wait_for(1).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.received().len(), 1);
}

fn hex_hmac(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn a_webhook_is_signed_and_a_receiver_answering_503_twice_gets_one_delivery(
    backend: Backend,
) {
    let app = AlertApp::spawn(backend, NOW).await;
    let hook = Receiver::start().await;
    hook.answer_next(&[503, 503]);
    let alert = app
        .create_alert(json!({"kpi": "leads", "period_kind": "month",
            "condition": {"type": "above", "value": 0},
            "channels": [{"webhook": hook.url("/signed"), "secret": "the secret"}]}))
        .await;
    app.load_fixture(app.token()).await;
    app.check().await;
    let got = hook.wait_for(3).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let got_later = hook.received();
    assert_eq!(got_later.len(), 3, "two 503s and one 200");
    let id = got[0].delivery.clone().unwrap();
    for r in &got {
        assert_eq!(
            r.delivery.as_deref(),
            Some(id.as_str()),
            "the same id on every retry"
        );
        let want = format!("sha256={}", hex_hmac("the secret", &r.body));
        assert_eq!(r.signature.as_deref(), Some(want.as_str()));
        assert_ne!(
            r.signature.as_deref(),
            Some(format!("sha256={}", hex_hmac("another secret", &r.body)).as_str())
        );
        assert_eq!(r.json()["delivery"], json!(id));
        assert_eq!(r.path, "/signed");
    }
    let events = app.events(alert).await;
    assert_eq!(events.len(), 1);
    let d = &events[0]["deliveries"][0];
    assert_eq!(d["status"], "sent", "{d}");
    assert_eq!(d["attempts"], 3, "{d}");
    assert_eq!(d["delivery"], json!(id));
}

async fn a_400_is_recorded_failed_and_the_owner_is_told_once(backend: Backend) {
    let app = AlertApp::spawn(backend, NOW).await;
    lodestar_store::people::create_member(
        app.db(),
        "owner@example.com",
        app.fixture.id,
        Role::Admin,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let hook = Receiver::start().await;
    hook.answer_always(400);
    let alert = app
        .create_alert(json!({"kpi": "leads", "period_kind": "month",
            "condition": {"type": "above", "value": 0},
            "channels": [{"webhook": hook.url("/refuses"), "secret": "s"}, {"email": "ops@example.com"}]}))
        .await;
    app.load_fixture(app.token()).await;
    app.check().await;
    app.load_fixture(app.token()).await;
    app.check().await;
    let events = app.events(alert).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let deliveries = events[0]["deliveries"].as_array().unwrap();
    let hook_row = deliveries
        .iter()
        .find(|d| d["channel"].as_str().unwrap().starts_with("webhook:"))
        .unwrap();
    assert_eq!(hook_row["status"], "failed", "{hook_row}");
    assert_eq!(hook_row["attempts"], 1, "a 4xx is not retried: {hook_row}");
    assert!(
        hook_row["error"].as_str().unwrap().contains("400"),
        "{hook_row}"
    );
    assert_eq!(hook_row["owner_told"], true);
    let mail_row = deliveries
        .iter()
        .find(|d| d["channel"] == "email:ops@example.com")
        .unwrap();
    assert_eq!(mail_row["status"], "sent", "{mail_row}");
    assert_eq!(hook.received().len(), 1);
    let mails = app.smtp.wait_for(2, Duration::from_secs(10)).await.unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let mails = if app.smtp.messages().len() > mails.len() {
        app.smtp.messages()
    } else {
        mails
    };
    assert_eq!(mails.len(), 2, "{mails:?}");
    let to_owner: Vec<_> = mails
        .iter()
        .filter(|m| m.to == ["owner@example.com"])
        .collect();
    assert_eq!(to_owner.len(), 1);
    assert!(to_owner[0].subject().unwrap().contains("could not deliver"));
    let to_ops: Vec<_> = mails
        .iter()
        .filter(|m| m.to == ["ops@example.com"])
        .collect();
    assert_eq!(to_ops.len(), 1);
    assert!(to_ops[0].subject().unwrap().starts_with("Alert: "));
}

async fn a_schedule_sends_its_digest_to_slack_and_webhook_channels_once(backend: Backend) {
    let app = AlertApp::spawn(backend, NOW).await;
    app.load_fixture(app.token()).await;
    let hooks = Receiver::start().await;
    let (status, reply) = app
        .post_json(
            Some(app.token()),
            "/api/v1/schedules",
            &json!({"report": "weekly", "cron": "0 0 9 * * Mon", "timezone": "UTC",
                "recipients": ["a@example.com"],
                "channels": [{"slack": hooks.url("/slack")},
                             {"webhook": hooks.url("/digest"), "secret": "dig"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(
        reply["channels"][1],
        json!({"webhook": hooks.url("/digest"), "secret_set": true})
    );
    let id = reply["id"].as_i64().unwrap() as i32;
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
        .unwrap()
        .to_utc();
    let first = app.scheduler().fire_at(id, at).await.unwrap();
    assert_eq!(first.sent, 3, "{first:?}");
    let again = app.scheduler().fire_at(id, at).await.unwrap();
    assert_eq!(again.claimed, 0);
    let got = hooks.wait_for(2).await;
    assert_eq!(got.len(), 2);
    let slack = got.iter().find(|r| r.path == "/slack").unwrap().json();
    assert!(
        slack["text"].as_str().unwrap().contains("2026-W47"),
        "{slack}"
    );
    assert!(slack["blocks"].is_array());
    let hook = got.iter().find(|r| r.path == "/digest").unwrap();
    let want = format!("sha256={}", hex_hmac("dig", &hook.body));
    assert_eq!(hook.signature.as_deref(), Some(want.as_str()));
    assert_eq!(hook.json()["type"], "digest");
    let mails = app.smtp.wait_for(1, Duration::from_secs(10)).await.unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["a@example.com"]);
}

async fn private_addresses_are_refused_when_blocking_is_on(backend: Backend) {
    let app = AlertApp::spawn_with(backend, NOW, |c| {
        c.hooks.block_private_addresses = true;
    })
    .await;
    let hook = Receiver::start().await;
    let alert = app
        .create_alert(json!({"kpi": "leads", "period_kind": "month",
            "condition": {"type": "above", "value": 0},
            "channels": [{"webhook": hook.url("/private"), "secret": "s"},
                         {"slack": hook.url("/private-slack").replace("127.0.0.1", "localhost")}]}))
        .await;
    app.load_fixture(app.token()).await;
    app.check().await;
    let events = app.events(alert).await;
    assert_eq!(events.len(), 1);
    for d in events[0]["deliveries"].as_array().unwrap() {
        assert_eq!(d["status"], "failed", "{d}");
        assert_eq!(d["attempts"], 1, "refused at once: {d}");
        assert!(
            d["error"]
                .as_str()
                .unwrap()
                .contains("BLOCK_PRIVATE_ADDRESSES"),
            "{d}"
        );
    }
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    assert!(hook.received().is_empty());
}

async fn a_delivery_whose_sender_stopped_is_taken_over_once_after_its_lease(backend: Backend) {
    use lodestar_store::alerts::{deliveries, events};
    let app = AlertApp::spawn(backend, NOW).await;
    let hook = Receiver::start().await;
    let url = hook.url("/late");
    let alert = app
        .create_alert(json!({"kpi": "leads", "period_kind": "month",
            "condition": {"type": "above", "value": 0},
            "channels": [{"webhook": url, "secret": "s"}]}))
        .await;
    // What a sender that died right after its claim leaves: an event and a pending row whose
    // lease ran out a minute ago.
    let now = super::instant(NOW);
    let event = events::record(
        app.db(),
        &events::NewEvent {
            alert_id: alert,
            team_id: app.fixture.id,
            segment: String::new(),
            episode: 1,
            kind: "fired",
            period: "2026-11".to_owned(),
            detail: json!({"kpi": "leads", "text": "left behind", "link": "/reports/weekly"})
                .to_string(),
        },
        now - chrono::TimeDelta::minutes(10),
    )
    .await
    .unwrap();
    let claimed = deliveries::claim(
        app.db(),
        (app.fixture.id, alert, event.id),
        &[(format!("webhook:{url}"), "alert-left-behind".to_owned())],
        now - chrono::TimeDelta::minutes(10),
        now - chrono::TimeDelta::minutes(1),
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(app.scheduler().recover_alert_leases().await.unwrap(), 1);
    assert_eq!(app.scheduler().recover_alert_leases().await.unwrap(), 0);
    let got = hook.wait_for(1).await;
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hook.received().len(), 1);
    assert_eq!(got[0].delivery.as_deref(), Some("alert-left-behind"));
    let rows = deliveries::list_for_alert(app.db(), alert).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, lodestar_store::deliveries::Status::Sent);
}

async fn a_failed_delivery_tells_the_person_who_made_the_alert(backend: Backend) {
    let app = AlertApp::spawn(backend, NOW).await;
    let now = chrono::Utc::now();
    let db = app.db();
    let (maker, _) = lodestar_store::people::create_member(
        db,
        "maker@example.com",
        app.fixture.id,
        Role::Editor,
        now,
    )
    .await
    .unwrap();
    lodestar_store::people::create_member(
        db,
        "admin@example.com",
        app.fixture.id,
        Role::Admin,
        now,
    )
    .await
    .unwrap();
    let hook = Receiver::start().await;
    hook.answer_always(404);
    // As `POST /api/v1/alerts` stores it for a person signed in to the browser.
    let team = lodestar_store::teams::find_by_id(db, app.fixture.id)
        .await
        .unwrap()
        .unwrap();
    let body = lodestar_scheduler::alerts::parse_body(
        app.app.kpis(),
        &team,
        &json!({"kpi": "leads", "period_kind": "month",
            "condition": {"type": "above", "value": 0},
            "channels": [{"slack": hook.url("/gone")}]}),
    )
    .await
    .unwrap()
    .unwrap();
    lodestar_store::alerts::create(db, team.id, &body.fields, Some(maker), now)
        .await
        .unwrap();
    app.load_fixture(app.token()).await;
    app.check().await;
    let mails = app.smtp.wait_for(1, Duration::from_secs(10)).await.unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.smtp.messages().len(), 1, "{mails:?}");
    assert_eq!(
        mails[0].to,
        ["maker@example.com"],
        "the maker, not the admins"
    );
    assert!(
        mails[0].data.contains("404"),
        "the receiver's answer is in the notice"
    );
}
