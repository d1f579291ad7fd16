//! A marketer's week without a terminal, in a real Chromium with a real SMTP server: a person
//! signs in with a password, uploads the fixture's three files on the data page (first a file
//! with a bad row: nothing stored, the row shown with its line), makes a report of three KPIs
//! with a target, schedules it from a preset, sends a test to themself, and the digest that
//! arrives carries the fixture's numbers. A viewer sees none of these controls, and a viewer's
//! forged form is refused.

use std::time::Duration;

use awc::http::StatusCode;
use chrono::Utc;
use lodestar_core::catalog::Builtin;
use lodestar_core::clock::fixed_clock;
use lodestar_mail::testing::SmtpServer;
use lodestar_report::format::change_display;
use lodestar_store::tokens::Role;
use lodestar_store::{people, schedules};
use serde_json::{Value, json};

use super::data_page::{choose, choose_fixture, press};
use crate::common::cdp::{Cdp, chromium_or_skip};
use crate::common::{Backend, Browser, TestApp, attr_after, expected_kpis, shown};

/// Tuesday 2026-11-10 in New York: the last complete week is the fixture's 2026-W45.
const NOW: &str = "2026-11-10T17:00:00Z";
const PASSWORD: &str = "a long enough passphrase";

#[actix_web::test]
async fn a_marketer_uploads_reports_and_schedules_without_a_terminal() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let smtp = SmtpServer::start().await.unwrap();
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.digests = Some(crate::digests::digests(
            &smtp,
            crate::digests::fast_config(),
        ));
        s.clock = fixed_clock(NOW.parse().unwrap());
    })
    .await;
    let (team_id, _) = app.team("acme", "America/New_York", Role::Admin).await;
    let (_, secret) =
        people::create_member(app.db(), "mia@acme.test", team_id, Role::Editor, Utc::now())
            .await
            .unwrap();

    let mut cdp = Cdp::launch(&bin).await;
    cdp.set_width(1280).await;
    // Signing in: set a password from the invitation link, as a newcomer does.
    cdp.navigate(&format!("{}/login/password/{secret}", app.base))
        .await;
    cdp.eval("document.getElementById('password').focus(); true")
        .await;
    cdp.type_text(PASSWORD).await;
    cdp.press_and_load("Enter").await;
    cdp.wait_for(
        "document.readyState === 'complete' && !location.pathname.startsWith('/login')",
        "signed in",
    )
    .await;

    // 1. Data: a file with a bad row stores nothing and shows the row's line.
    cdp.navigate(&format!("{}/data", app.base)).await;
    choose(
        &mut cdp,
        "leads.csv",
        "id,created_at,channel\nL-1,2026-11-02T10:00:00Z,email\nL-2,last tuesday,email\n",
        "text/csv",
    )
    .await;
    let status = press(&mut cdp, "check").await;
    assert!(status.starts_with("Nothing stored"), "{status}");
    let problem = cdp
        .eval("[...document.querySelectorAll('#problems-body tr')][0] && [...document.querySelectorAll('#problems-body tr')[0].cells].map(c => c.textContent)")
        .await;
    assert_eq!(problem[0], "3", "{problem}");
    assert_eq!(problem[1], "created_at", "{problem}");
    assert!(app.counts(team_id).await.iter().all(|(_, n)| *n == 0));
    // Then the fixture's three files, each checked, then loaded.
    for table in ["leads", "spend", "events"] {
        choose_fixture(&mut cdp, table).await;
        let status = press(&mut cdp, "check").await;
        assert!(status.contains("rows ready to load"), "{table}: {status}");
        cdp.eval("document.getElementById('status').textContent = ''; true")
            .await;
        let status = press(&mut cdp, "load").await;
        assert!(status.starts_with("Loaded:"), "{table}: {status}");
    }

    // 2. A report of three KPIs with a target on cost per lead.
    cdp.navigate(&format!("{}/new-report", app.base)).await;
    cdp.eval(
        "document.getElementById('slug').value = 'paid'; \
         document.getElementById('title').value = 'Paid channels'; true",
    )
    .await;
    for key in ["leads", "cpl", "roas"] {
        cdp.eval(&format!(
            "document.querySelector('#catalog input[value={key}]').click(); true"
        ))
        .await;
    }
    cdp.eval("document.querySelector('#picked li[data-key=cpl] .bound-max').value = '100'; true")
        .await;
    cdp.eval("document.querySelector('#editor button[type=submit]').click(); true")
        .await;
    cdp.wait_for(
        "location.pathname === '/reports/paid' && document.readyState === 'complete'",
        "the new report",
    )
    .await;
    // The page opens on the last complete week, with the fixture's numbers.
    let (previous, current) = (expected_kpis("2026-W44"), expected_kpis("2026-W45"));
    let cards = cdp
        .eval("[...document.querySelectorAll('[data-kpi]')].filter(e => e.querySelector('.kpi-value')).map(e => [e.dataset.kpi, e.querySelector('.kpi-value').textContent.trim()])")
        .await;
    let want: Vec<Value> = ["leads", "cpl", "roas"]
        .iter()
        .map(|k| json!([k, shown(k, current[*k].as_f64())]))
        .collect();
    assert_eq!(cards, json!(want));

    // 3. A schedule from the preset "Mondays 08:00", to the team's inbox.
    cdp.navigate(&format!("{}/schedules/new", app.base)).await;
    cdp.eval(
        "document.getElementById('schedule-report').value = 'paid'; \
         document.getElementById('schedule-preset').value = '0 8 * * MON'; \
         document.getElementById('schedule-recipients').value = 'growth@acme.test'; \
         document.querySelector('form button.primary[type=submit]').click(); true",
    )
    .await;
    cdp.wait_for(
        "/^\\/schedules\\/\\d+$/.test(location.pathname) && document.readyState === 'complete'",
        "the new schedule's page",
    )
    .await;
    let saved = schedules::list_for_team(app.db(), team_id).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].cron, "0 8 * * MON");
    assert_eq!(saved[0].report, "paid");
    let words = cdp.eval("document.body.innerText").await;
    assert!(
        words.as_str().unwrap().contains("Mondays at 08:00"),
        "{words}"
    );

    // 4. A test to me: one message, to me only, with the fixture's numbers of 2026-W45.
    cdp.eval("[...document.querySelectorAll('button')].find(b => b.textContent === 'Send a test to me').click(); true")
        .await;
    let mails = smtp.wait_for(1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["mia@acme.test"]);
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
            "Paid channels 2026-W45: {}, {} …",
            quote("leads"),
            quote("cpl")
        )
    );
    let text = mails[0]
        .parts()
        .into_iter()
        .find(|p| p.content_type.starts_with("text/plain"))
        .map(|p| p.body)
        .unwrap();
    for key in ["leads", "cpl", "roas"] {
        assert!(
            text.contains(&shown(key, current[key].as_f64())),
            "{key} in {text}"
        );
    }
    cdp.wait_for(
        "document.readyState === 'complete' && location.search.includes('done=test-sent')",
        "the schedule page after the test",
    )
    .await;
    cdp.screenshot("workflow-schedule-1280").await;
    assert!(
        cdp.errors()
            .iter()
            .all(|e| e.to_string().contains("status of 4")),
        "{:#?}",
        cdp.errors()
    );

    // 5. A viewer: no upload, no editor, no schedule controls; a forged form is refused.
    let (_, viewer_secret) =
        people::create_member(app.db(), "vic@acme.test", team_id, Role::Viewer, Utc::now())
            .await
            .unwrap();
    let mut vi = Browser::new(&app);
    let path = format!("/login/password/{viewer_secret}");
    let form = vi.get(&path).await;
    let token = attr_after(&form.body, "name=\"csrf\" value=\"");
    let done = vi
        .post_form(&path, &[("csrf", &token), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let data = vi.get("/data").await;
    assert!(!data.body.contains("id=\"upload\""), "a viewer can upload");
    let report = vi.get("/reports/paid").await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(!report.body.contains("Edit the report"));
    assert_eq!(vi.get("/new-report").await.status, StatusCode::FORBIDDEN);
    let list = vi.get("/schedules").await;
    assert!(!list.body.contains("New schedule"));
    let schedule = vi.get(&format!("/schedules/{}", saved[0].id)).await;
    assert!(!schedule.body.contains("Send a test to me"));
    let vi_token = attr_after(&vi.get("/").await.body, "name=\"csrf\" value=\"");
    let forged = vi
        .post_form(
            "/schedules/new",
            &[
                ("csrf", &vi_token),
                ("report", "paid"),
                ("preset", "0 8 * * MON"),
                ("cron", ""),
                ("timezone", "America/New_York"),
                ("recipients", "vic@acme.test"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        schedules::list_for_team(app.db(), team_id)
            .await
            .unwrap()
            .len(),
        1
    );
}
