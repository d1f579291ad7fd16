//! What a digest says: the fixture's week with a working share link, why KPIs changed by driver
//! in both parts, and the report's tree (named once it is gone).

use awc::http::StatusCode;
use chrono::{TimeDelta, Utc};
use lodestar_core::catalog::Builtin;
use lodestar_mail::digest_message_id;
use lodestar_report::format::change_display;
use lodestar_report::share;
use lodestar_store::secrets;
use serde_json::json;

use crate::backend_tests;
use crate::common::shown as shown_value;
use crate::common::{Backend, read_fixture};

use super::{WAIT, at, fixture_app, part};

backend_tests!(
    a_fired_digest_shows_the_fixture_week_and_a_working_share_link,
    the_digest_says_why_kpis_changed_by_driver_in_both_parts,
    the_digest_says_how_each_goal_stands,
    a_digest_follows_its_reports_tree_and_names_the_tree_once_it_is_gone,
);

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
        // The first KPI of each branch, as far as they fit, with the page's text.
        let previous = crate::common::expected_kpis("2026-W44");
        let current = crate::common::expected_kpis("2026-W45");
        let quote = |key: &str| {
            let b = Builtin::from_key(key).unwrap();
            format!(
                "{} {} ({})",
                b.name(),
                shown_value(key, current[key].as_f64()),
                change_display(b.unit(), current[key].as_f64(), previous[key].as_f64())
            )
        };
        assert_eq!(
            mail.subject().unwrap(),
            format!(
                "Weekly report 2026-W45: {}, {} …",
                quote("sessions"),
                quote("leads")
            )
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
            let shown = shown_value(key, value.as_f64());
            let line = format!("- {}: {shown}", b.name());
            assert!(text.contains(&line), "missing {line:?} in\n{text}");
            // The change as the page and the API write it (points for rates, pts for scores).
            let change = change_display(b.unit(), value.as_f64(), previous[key].as_f64());
            if change != "—" {
                let line = format!("{line} ({change}");
                assert!(text.contains(&line), "missing {line:?} in\n{text}");
                assert!(
                    html.contains(&change),
                    "missing {change:?} for {key} in the HTML"
                );
            }
            assert!(
                html.contains(&shown),
                "missing {shown:?} for {key} in the HTML"
            );
        }
        // The same numbers, written out by hand.
        for line in [
            "- Leads: 31",
            "- Cost per lead: $160.11",
            "- Customer acquisition cost: $3,732",
            "- CAC payback: 3.3 weeks",
            "- Lead-to-customer rate: 6.5%",
            "- Sales cycle: 7.6 days",
            "- Return on ad spend: 2.94×",
            "- Net promoter score: -75.0 (-32.1 pts, worse; previous week -42.9)",
            "- Churn rate: 10.5% (+10.5 pp, worse; previous week 0.0%)",
            "- Total spend: $7,463 (-19.9%; previous week $9,3",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(text.contains("Newest data: "), "{text}");
        assert!(html.contains("View in browser"), "{html}");
        // What a phone shows first: the summary before the full list, previous values, and
        // where to manage the e-mail (the report's page until schedules have one).
        let glance = html.find("At a glance").expect("a summary block");
        assert!(
            glance < html.find("Reach &#38; activity").unwrap(),
            "{html}"
        );
        assert!(
            text.contains("Headline KPIs\r\n- Sessions: ")
                && text.find("Headline KPIs") < text.find("Reach & activity"),
            "{text}"
        );
        assert!(
            html.contains(&format!(
                "previous week {}",
                shown_value("leads", previous["leads"].as_f64())
            )),
            "{html}"
        );
        assert!(
            text.lines().any(|l| l.trim_end()
                == format!("Manage this e-mail: {}/reports/weekly", app.base)),
            "{text}"
        );
        let from = mail.header("From").unwrap();
        assert!(from.starts_with("Lodestar <"), "{from}");
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

/// A KPI with a weekly goal says, in both parts of the digest, the goal and whether the week met it.
async fn the_digest_says_how_each_goal_stands(b: Backend) {
    let (app, token) = fixture_app(b).await;
    let sessions = crate::common::expected_kpis("2026-W45")["sessions"]
        .as_f64()
        .unwrap();
    let (status, body) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/goals/sessions",
            Some(&json!({"period_kind": "week", "target": sessions + 6.0})),
        )
        .await;
    assert!(status.is_success(), "{body}");
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
    assert_eq!(fired.sent, 1, "{fired:?}");
    let mails = app.smtp.wait_for(1, WAIT).await.unwrap();
    let text = part(&mails[0], "text/plain").replace("\r\n", "\n");
    let html = part(&mails[0], "text/html");
    let line = format!("Goal {} — missed", sessions + 6.0);
    assert!(text.contains(&line), "{line} not in\n{text}");
    assert!(html.contains(&line), "{line} not in the HTML");
}
