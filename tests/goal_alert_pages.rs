//! The goals and alerts pages in a real Chromium: an editor sets a goal and makes an alert
//! through the forms (a wrong target comes back with the error at its field, nothing stored),
//! tests the alert and reads what would fire; a viewer sees both pages without a single control,
//! and a viewer's forged posts are refused.

use awc::http::StatusCode;
use lodestar_core::clock::fixed_clock;
use lodestar_mail::testing::SmtpServer;
use lodestar_store::tokens::Role;
use lodestar_store::{alerts, goals};
use serde_json::json;

use crate::common::cdp::{Cdp, chromium_or_skip};
use crate::common::{Backend, Browser, TestApp, attr_after};

/// Tuesday 2026-11-10 in New York: the fixture's 2026-W46 is in progress.
const NOW: &str = "2026-11-10T17:00:00Z";

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Sets the form fields `fields` (by id) and submits the form of the first one.
async fn fill_and_submit(cdp: &mut Cdp, fields: &[(&str, &str)]) {
    let mut script = String::new();
    for (id, value) in fields {
        script.push_str(&format!(
            "{{ const el = document.getElementById({}); \
               if (el.type === 'checkbox') {{ el.checked = {} === 'on'; }} else {{ el.value = {}; }} }}",
            js(id),
            js(value),
            js(value)
        ));
    }
    script.push_str(&format!(
        "document.getElementById({}).form.submit(); true",
        js(fields[0].0)
    ));
    cdp.eval(&script).await;
}

#[actix_web::test]
async fn an_editor_sets_a_goal_and_makes_an_alert_in_the_browser() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let smtp = SmtpServer::start().await.unwrap();
    let (app, team) = TestApp::with_fixture_and(Backend::Sqlite, |s| {
        s.digests = Some(crate::digests::digests(
            &smtp,
            crate::digests::fast_config(),
        ));
        s.clock = fixed_clock(NOW.parse().unwrap());
    })
    .await;
    let mut cdp = Cdp::launch(&bin).await;
    cdp.set_width(1280).await;
    cdp.sign_in(&app.base, &team.token).await;

    // The navigation leads to both pages.
    let nav = cdp
        .eval("[...document.querySelectorAll('nav.mainnav a')].map(a => a.getAttribute('href'))")
        .await;
    for href in ["/goals", "/alerts"] {
        assert!(
            nav.as_array().unwrap().iter().any(|h| h == href),
            "{href} in {nav}"
        );
    }

    // A target that is not a number: the error stands at the field, nothing is stored.
    cdp.navigate(&format!("{}/goals", app.base)).await;
    assert!(
        cdp.eval("document.body.innerText")
            .await
            .as_str()
            .unwrap()
            .contains("No goals yet")
    );
    fill_and_submit(
        &mut cdp,
        &[
            ("goal-kpi", "leads"),
            ("goal-period-kind", "week"),
            ("goal-target", "lots"),
        ],
    )
    .await;
    cdp.wait_for(
        "document.readyState === 'complete' && !!document.getElementById('goal-target-error')",
        "the target's error at its field",
    )
    .await;
    assert_eq!(
        cdp.eval("document.getElementById('goal-target').getAttribute('aria-invalid')")
            .await,
        "true"
    );
    assert!(goals::list(app.db(), team.id).await.unwrap().is_empty());

    // A weekly goal of 40 leads, phased by weekday.
    fill_and_submit(
        &mut cdp,
        &[
            ("goal-kpi", "leads"),
            ("goal-period-kind", "week"),
            ("goal-segment-by", ""),
            ("goal-target", "40"),
            ("goal-phasing", "weekday"),
        ],
    )
    .await;
    cdp.wait_for(
        "document.readyState === 'complete' && location.search === '?done=saved'",
        "the goals page after saving",
    )
    .await;
    let stored = goals::list(app.db(), team.id).await.unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        (
            stored[0].kpi.as_str(),
            stored[0].period_kind.as_str(),
            stored[0].target,
            stored[0].phasing.as_str()
        ),
        ("leads", "week", 40.0, "weekday")
    );
    // The list shows it with the week in progress and a status.
    let row = cdp
        .eval("document.querySelector('.goals-table tbody tr').innerText")
        .await;
    let row = row.as_str().unwrap();
    assert!(row.contains("Leads") && row.contains("2026-W46"), "{row}");
    let status = cdp
        .eval("document.querySelector('.goals-table .goal-status').dataset.status")
        .await;
    assert!(
        ["ahead", "on_track", "behind"].contains(&status.as_str().unwrap()),
        "{status}"
    );
    let (_, api) = app.get(Some(&team.token), "/api/v1/goals").await;
    assert_eq!(api[0]["target"], json!(40.0), "{api}");

    // An alert: this week's leads per channel below a million, which holds for every channel.
    cdp.navigate(&format!("{}/alerts/new", app.base)).await;
    fill_and_submit(
        &mut cdp,
        &[
            ("alert-name", "Leads are low"),
            ("alert-kpi", "leads"),
            ("alert-period-kind", "week"),
            ("alert-segment-by", "channel"),
            ("alert-condition", "below"),
            ("alert-value", "1000000"),
            ("alert-emails", "ops@example.com"),
        ],
    )
    .await;
    cdp.wait_for(
        "document.readyState === 'complete' && location.search === '?done=created'",
        "the new alert's page",
    )
    .await;
    let made = alerts::list(app.db(), team.id).await.unwrap();
    assert_eq!(made.len(), 1, "{made:?}");
    let id = made[0].id;
    let (_, alert) = app
        .get(Some(&team.token), &format!("/api/v1/alerts/{id}"))
        .await;
    assert_eq!(alert["name"], "Leads are low", "{alert}");
    assert_eq!(alert["segment_by"], "channel", "{alert}");
    assert_eq!(alert["period_kind"], "week", "{alert}");
    assert_eq!(
        alert["condition"],
        json!({"type": "below", "value": 1000000.0})
    );
    assert_eq!(alert["channels"], json!([{"email": "ops@example.com"}]));

    // Test now: every channel of the fixture would fire, and nothing is recorded.
    cdp.eval(
        "[...document.querySelectorAll('a')].find(a => a.textContent === 'Test now').click(); true",
    )
    .await;
    cdp.wait_for(
        "document.readyState === 'complete' && !!document.getElementById('test-results')",
        "what the test would fire",
    )
    .await;
    let verdicts = cdp
        .eval("[...document.querySelectorAll('#test-results .verdict')].map(v => v.textContent)")
        .await;
    let verdicts = verdicts.as_array().unwrap();
    assert!(!verdicts.is_empty());
    assert!(verdicts.iter().all(|v| v == "fire"), "{verdicts:?}");
    let (_, events) = app
        .get(Some(&team.token), &format!("/api/v1/alerts/{id}/events"))
        .await;
    assert_eq!(events, json!([]), "a test records nothing");
    assert!(smtp.messages().is_empty(), "a test sends nothing");
    // The refused target answered 422, as it should; nothing else went wrong.
    let errors: Vec<_> = cdp
        .errors()
        .into_iter()
        .filter(|e| {
            !e["params"]["entry"]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("status of 422")
        })
        .collect();
    assert!(errors.is_empty(), "browser errors: {errors:#?}");
}

#[actix_web::test]
async fn a_viewer_sees_goals_and_alerts_without_controls() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let (app, team) = TestApp::with_fixture_and(Backend::Sqlite, |s| {
        s.clock = fixed_clock(NOW.parse().unwrap());
    })
    .await;
    let (status, body) = app
        .put_json(
            Some(&team.token),
            "/api/v1/goals/leads",
            &json!({"period_kind": "month", "target": 100}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, alert) = app
        .post_json(
            Some(&team.token),
            "/api/v1/alerts",
            &json!({"kpi": "leads", "period_kind": "month",
                "condition": {"type": "above", "value": 10}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{alert}");
    let id = alert["id"].as_i64().unwrap();
    let viewer = app.token(team.id, Role::Viewer).await;
    let mut cdp = Cdp::launch(&bin).await;
    cdp.set_width(390).await;
    cdp.sign_in(&app.base, &viewer).await;
    for path in [
        "/goals".to_owned(),
        "/alerts".to_owned(),
        format!("/alerts/{id}"),
    ] {
        cdp.navigate(&format!("{}{path}", app.base)).await;
        let controls = cdp
            .eval(
                "[...document.querySelectorAll('main button, main a.btn.primary, \
                 main input:not([disabled]):not([type=hidden]), main select:not([disabled]), \
                 main textarea:not([disabled])')].filter(e => !(e.tagName === 'A' && e.textContent === 'Test now')).length",
            )
            .await;
        assert_eq!(controls, 0, "a viewer sees controls on {path}");
    }
    cdp.navigate(&format!("{}/goals", app.base)).await;
    let text = cdp.eval("document.body.innerText").await;
    assert!(text.as_str().unwrap().contains("Leads"), "{text}");

    // A viewer's posts are refused, however well-formed.
    let mut browser = Browser::new(&app);
    let page = browser.sign_in(&viewer, "/goals").await;
    let csrf = attr_after(&page.body, "name=\"csrf\" value=\"");
    let forged = browser
        .post_form(
            "/goals/delete",
            &[("csrf", &csrf), ("kpi", "leads"), ("period_kind", "month")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let forged = browser
        .post_form(&format!("/alerts/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(goals::list(app.db(), team.id).await.unwrap().len(), 1);
    assert_eq!(alerts::list(app.db(), team.id).await.unwrap().len(), 1);
    // A form from another site (no CSRF token of this session) is refused too.
    let editor = Browser::new(&app);
    let mut editor = editor;
    editor.sign_in(&team.token, "/goals").await;
    let forged = editor
        .post_form(
            "/goals/delete",
            &[
                ("csrf", "forged"),
                ("kpi", "leads"),
                ("period_kind", "month"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert_eq!(goals::list(app.db(), team.id).await.unwrap().len(), 1);
}
