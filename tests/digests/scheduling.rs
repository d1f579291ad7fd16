//! Schedules: a missed firing caught up at start-up within the grace window only, validation,
//! tenancy and pausing by PUT, and send-now with each SMTP result logged apart from claims and
//! limited per team.

use std::sync::Arc;
use std::time::Duration;

use awc::http::StatusCode;
use chrono::{TimeDelta, Utc};
use lodestar_core::period::Timezone;
use lodestar_mail::testing::Stage;
use lodestar_scheduler::{Clock, SchedulerConfig};
use lodestar_store::deliveries::{self};
use lodestar_store::schedules::{self, ScheduleFields};
use lodestar_store::teams;
use lodestar_store::tokens::Role;
use lodestar_web::{AppSettings, Application};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, app_settings};

use super::{DigestApp, WAIT, at, digests, fast_config, rows};

backend_tests!(
    a_missed_firing_is_caught_up_at_start_up_within_the_grace_window_only,
    schedules_are_validated_scoped_to_their_team_and_paused_by_put,
    send_now_reports_each_smtp_result_and_is_logged_apart_from_claims,
    send_now_is_limited_per_team_with_retry_after,
);

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
        channels: "[]".to_owned(),
        skip_empty: false,
        paused: false,
    };
    let created = at("2026-11-01T00:00:00Z");
    // Due 1 hour ago: inside the 12-hour grace window.
    let recent = schedules::create(
        app.db(),
        team.id,
        &fields("0 8 * * *", "recent@example.com"),
        None,
        created,
    )
    .await
    .unwrap();
    // Due 13 hours ago: too old.
    let stale = schedules::create(
        app.db(),
        team.id,
        &fields("0 20 19 11 *", "stale@example.com"),
        None,
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
        clock,
        digests: Some(digests(&app.smtp, grace(fast_config()))),
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
        // cron(8) refuses empty list elements; croner alone would read them as `1,2` and `1`.
        (with("cron", json!("0 1,,2 * * *")), "cron"),
        (with("cron", json!("0 1, * * *")), "cron"),
        (with("cron", json!("0 ,1 * * *")), "cron"),
        (with("cron", json!("0 8 * * SUN,")), "cron"),
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

async fn send_now_is_limited_per_team_with_retry_after(b: Backend) {
    let app = DigestApp::spawn(b).await;
    let allowed = lodestar_web::RateLimits::default().send_now.per_minute as usize;
    let mut paths = Vec::new();
    for slug in ["acme", "bistro"] {
        let (_, token) = app.team(slug, "UTC", Role::Editor).await;
        let id = app
            .create_schedule(
                &token,
                json!({"report": "weekly", "cron": "0 8 * * MON", "timezone": "UTC",
                       "recipients": ["a@example.com", "b@example.com"]}),
            )
            .await;
        paths.push((token, format!("/api/v1/schedules/{id}/send-now")));
    }
    let (token, path) = &paths[0];
    for i in 0..allowed {
        let (status, reply) = app.send("POST", Some(token), path, None).await;
        assert_eq!(status, StatusCode::OK, "call {i}: {reply}");
    }
    // A burst of further calls mails nobody: each is 429 with Retry-After, in the API's shape.
    for _ in 0..10 {
        let mut resp = app
            .client
            .post(format!("{}{path}", app.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = resp
            .headers()
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "Retry-After: {retry}");
        let body: Value = serde_json::from_slice(&resp.body().await.unwrap()).unwrap();
        assert_eq!(body["error"], "too_many_requests", "{body}");
        assert_eq!(body["retry_after"], retry, "{body}");
    }
    // Another team is not held up by this one.
    let (other, other_path) = &paths[1];
    let (status, reply) = app.send("POST", Some(other), other_path, None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let sent = app.smtp.wait_for(2 * (allowed + 1), WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sent.len(), 2 * (allowed + 1));
    assert_eq!(app.smtp.messages().len(), 2 * (allowed + 1), "nothing more");
}
