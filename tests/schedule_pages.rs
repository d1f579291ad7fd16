//! The schedules pages: an editor makes a digest from a preset, sees its cron in words and its
//! next five runs, sends a test to themself over real SMTP (the fixture's numbers), pauses and
//! deletes it; errors stand next to their field and store nothing; a viewer sees no controls
//! and a forged form from a viewer is refused.

use std::time::Duration;

use awc::http::StatusCode;
use chrono::Utc;
use lodestar_core::catalog::Builtin;
use lodestar_core::clock::fixed_clock;
use lodestar_mail::testing::SmtpServer;
use lodestar_report::format::change_display;
use lodestar_store::people;
use lodestar_store::schedules;
use lodestar_store::tokens::Role;
use lodestar_web::DigestSettings;

use crate::backend_tests;
use crate::common::{Backend, Browser, Page, TestApp, attr_after, expected_kpis, shown};

backend_tests!(an_editor_schedules_a_digest_in_the_browser);

const PASSWORD: &str = "a long enough passphrase";
/// Tuesday 2026-11-10 in New York: the last complete week is the fixture's 2026-W45.
const NOW: &str = "2026-11-10T17:00:00Z";

fn digests(smtp: &SmtpServer) -> DigestSettings {
    crate::digests::digests(smtp, crate::digests::fast_config())
}

fn csrf(page: &Page) -> String {
    attr_after(&page.body, "name=\"csrf\" value=\"")
}

/// A person of the team with `role`, signed in.
async fn person<'a>(app: &'a TestApp, team_id: i32, email: &str, role: Role) -> Browser<'a> {
    let (_, secret) = people::create_member(app.db(), email, team_id, role, Utc::now())
        .await
        .unwrap();
    let mut browser = Browser::new(app);
    let path = format!("/login/password/{secret}");
    let form = browser.get(&path).await;
    let token = csrf(&form);
    let done = browser
        .post_form(&path, &[("csrf", &token), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    browser
}

async fn an_editor_schedules_a_digest_in_the_browser(b: Backend) {
    let smtp = SmtpServer::start().await.unwrap();
    let (app, team) = TestApp::with_fixture_and(b, |s| {
        s.digests = Some(digests(&smtp));
        s.clock = fixed_clock(NOW.parse().unwrap());
    })
    .await;
    let mut ed = person(&app, team.id, "ed@acme.test", Role::Editor).await;
    let list = ed.get("/schedules").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("No schedules yet"), "{}", list.body);
    let form = ed.get("/schedules/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(
        form.body.contains("value=\"America/New_York\""),
        "the timezone defaults to the team's"
    );
    let token = csrf(&form);

    // A bad custom cron and a bad address: the form comes back with the errors at the fields,
    // and nothing is stored.
    let bad = ed
        .post_form(
            "/schedules/new",
            &[
                ("csrf", &token),
                ("report", "weekly"),
                ("preset", "custom"),
                ("cron", "0 8 * *"),
                ("timezone", "Europe/Berlin"),
                ("recipients", "ed@acme.test\nnot an address"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("id=\"schedule-cron-error\""),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("value=\"0 8 * *\""),
        "what was typed stays"
    );
    assert!(
        schedules::list_for_team(app.db(), team.id)
            .await
            .unwrap()
            .is_empty()
    );
    let bad = ed
        .post_form(
            "/schedules/new",
            &[
                ("csrf", &token),
                ("report", "weekly"),
                ("preset", "0 8 * * MON"),
                ("cron", ""),
                ("timezone", "Europe/Berlin"),
                ("recipients", "ed@acme.test\nnot an address"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("id=\"schedule-recipients-error\""),
        "{}",
        bad.body
    );

    // The preset "Mondays 08:00" in Berlin.
    let made = ed
        .post_form(
            "/schedules/new",
            &[
                ("csrf", &token),
                ("report", "weekly"),
                ("preset", "0 8 * * MON"),
                ("cron", ""),
                ("timezone", "Europe/Berlin"),
                ("recipients", "ed@acme.test\nboss@acme.test"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let path = made.location.unwrap();
    let saved = schedules::list_for_team(app.db(), team.id).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].cron, "0 8 * * MON");
    assert_eq!(saved[0].recipients, ["ed@acme.test", "boss@acme.test"]);
    let id = saved[0].id;
    assert!(
        path.starts_with(&format!("/schedules/{id}?done=created")),
        "{path}"
    );
    let page = ed.get(&path).await;
    assert!(
        page.body.contains("Mondays at 08:00 (Europe/Berlin)"),
        "{}",
        page.body
    );
    // The next five Mondays at 08:00 in Berlin (CET, UTC+1) after Tuesday Nov 10.
    for day in [
        "2026-11-16",
        "2026-11-23",
        "2026-11-30",
        "2026-12-07",
        "2026-12-14",
    ] {
        assert!(
            page.body.contains(&format!("Mon {day} 08:00 CET")),
            "{day} in {}",
            page.body
        );
    }

    // Send a test to me: one message, to me only, with the fixture's numbers of 2026-W45.
    let sent = ed
        .post_form(&format!("/schedules/{id}/test"), &[("csrf", &token)])
        .await;
    assert_eq!(
        sent.location.as_deref(),
        Some(format!("/schedules/{id}?done=test-sent").as_str()),
        "{}",
        sent.body
    );
    let mails = smtp.wait_for(1, Duration::from_secs(20)).await.unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["ed@acme.test"]);
    let (previous, current) = (expected_kpis("2026-W44"), expected_kpis("2026-W45"));
    let quote = |key: &str| {
        let b = Builtin::from_key(key).unwrap();
        format!(
            "{} {} ({})",
            b.name(),
            shown(key, current[key].as_f64()),
            change_display(b.unit(), current[key].as_f64(), previous[key].as_f64())
        )
    };
    assert_eq!(
        mails[0].subject().unwrap(),
        format!(
            "Weekly report 2026-W45: {}, {} …",
            quote("sessions"),
            quote("leads")
        )
    );
    let page = ed.get(&format!("/schedules/{id}")).await;
    assert!(
        page.body.contains("ed@acme.test</td>"),
        "the log has the test"
    );
    assert!(page.body.contains("class=\"status sent\""), "{}", page.body);

    // A viewer reads the schedule without a single control, and a forged post is refused.
    let mut vi = person(&app, team.id, "vi@acme.test", Role::Viewer).await;
    let seen = vi.get(&format!("/schedules/{id}")).await;
    assert_eq!(seen.status, StatusCode::OK);
    for control in [
        "Send a test to me",
        "Pause",
        "Delete",
        "type=\"submit\" class=\"btn primary\"",
    ] {
        assert!(!seen.body.contains(control), "a viewer sees {control}");
    }
    assert!(!vi.get("/schedules").await.body.contains("New schedule"));
    let vi_token = attr_after(&vi.get("/").await.body, "name=\"csrf\" value=\"");
    let forged = vi
        .post_form(&format!("/schedules/{id}/delete"), &[("csrf", &vi_token)])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        schedules::list_for_team(app.db(), team.id)
            .await
            .unwrap()
            .len(),
        1
    );
    // Another team cannot reach it.
    let (other, _) = app.team("other", "UTC", Role::Admin).await;
    let mut eve = person(&app, other, "eve@other.test", Role::Admin).await;
    assert_eq!(
        eve.get(&format!("/schedules/{id}")).await.status,
        StatusCode::NOT_FOUND
    );

    // Saving the form keeps what it does not show: channels set through the API.
    let (status, body) = app
        .put_json(
            Some(&team.token),
            &format!("/api/v1/schedules/{id}"),
            &serde_json::json!({"channels": [{"webhook": "http://127.0.0.1:9/hook", "secret": "s3cret"}]}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let saved = ed
        .post_form(
            &format!("/schedules/{id}"),
            &[
                ("csrf", &token),
                ("report", "weekly"),
                ("preset", "custom"),
                ("cron", "0 9 * * MON"),
                ("timezone", "Europe/Berlin"),
                ("recipients", "ed@acme.test"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let stored = schedules::get(app.db(), team.id, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.cron, "0 9 * * MON");
    assert!(
        stored.channels.contains("127.0.0.1:9/hook"),
        "{}",
        stored.channels
    );

    // Pause: no next runs; resume; delete.
    let paused = ed
        .post_form(&format!("/schedules/{id}/pause"), &[("csrf", &token)])
        .await;
    assert_eq!(
        paused.location.as_deref(),
        Some(format!("/schedules/{id}?done=paused").as_str())
    );
    assert!(
        schedules::get(app.db(), team.id, id)
            .await
            .unwrap()
            .unwrap()
            .paused
    );
    let page = ed.get(&format!("/schedules/{id}")).await;
    assert!(page.body.contains("Paused: nothing is sent."));
    assert!(!page.body.contains("Mon 2026-11-16 08:00 CET"));
    ed.post_form(&format!("/schedules/{id}/pause"), &[("csrf", &token)])
        .await;
    assert!(
        !schedules::get(app.db(), team.id, id)
            .await
            .unwrap()
            .unwrap()
            .paused
    );
    let gone = ed
        .post_form(&format!("/schedules/{id}/delete"), &[("csrf", &token)])
        .await;
    assert_eq!(gone.location.as_deref(), Some("/schedules?done=deleted"));
    assert!(
        schedules::list_for_team(app.db(), team.id)
            .await
            .unwrap()
            .is_empty()
    );
}
