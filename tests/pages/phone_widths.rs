//! Every HTML page in a real Chromium at a phone's 390 px and a desktop's 1280 px: the document
//! is no wider than the viewport, no word is broken across lines ("Impression" / "s"), nothing
//! is cut off except in a container that scrolls sideways on purpose and says so. Screenshots
//! are kept as test artifacts (`page-*.png`). Skipped when no Chromium is installed.

use chrono::Duration as Days;
use serde_json::json;

use crate::common::cdp::{Cdp, chromium_or_skip};
use crate::common::{Backend, FixtureTeam, TestApp};

use super::{W45, share_token};

/// The widths every page must fit.
const WIDTHS: [u32; 2] = [390, 1280];

#[actix_web::test]
async fn every_page_fits_a_phone_and_a_desktop_without_broken_words() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let (app, FixtureTeam { id: team_id, token }) = TestApp::with_fixture(Backend::Sqlite).await;
    // A report with a split and targets, so the segment table and target lines are measured too.
    let (status, body) = app
        .put_json(
            Some(&token),
            "/api/v1/reports/paid",
            &json!({"title": "Paid channels", "kpis": ["impressions", "clicks", "leads", "cpl", "cac", "roas"],
                    "segment_by": "channel", "targets": {"cpl": {"max": 100}, "leads": {"min": 20}}}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let share = share_token(&app, team_id, "weekly", "2026-W45", Days::hours(1)).await;
    let (status, schedule) = app
        .post_json(
            Some(&token),
            "/api/v1/schedules",
            &json!({"report": "weekly", "cron": "0 8 * * MON-FRI", "timezone": "America/Argentina/Buenos_Aires",
                    "recipients": ["head.of.growth.marketing@example.com", "b@example.com"]}),
        )
        .await;
    assert!(status.is_success(), "{schedule}");
    // A goal, so cards with a goal line and bar are measured too.
    let (status, goal) = app
        .put_json(
            Some(&token),
            "/api/v1/goals/total_lead_value",
            &json!({"period_kind": "week", "target": 25000}),
        )
        .await;
    assert!(status.is_success(), "{goal}");
    // An alert split by channel, with a long name, for the alerts pages.
    let (status, alert) = app
        .post_json(
            Some(&token),
            "/api/v1/alerts",
            &json!({"name": "Paid search leads below the usual band for the week", "kpi": "leads",
                    "period_kind": "week", "segment_by": "channel",
                    "condition": {"type": "anomaly", "sensitivity": 3},
                    "channels": [{"email": "head.of.growth.marketing@example.com"}]}),
        )
        .await;
    assert!(status.is_success(), "{alert}");

    // A segment set with a gap, so the editor's check shows example rows.
    let (status, set) = app
        .put_json(
            Some(&token),
            "/api/v1/segments/reach",
            &json!({"segments": [{"name": "Email", "filter": {"channel": "email"}},
                                 {"name": "Paid", "filter": {"channel": {"in": ["paid_search", "social"]}, "attrs.region": {"ne": "EMEA"}}}]}),
        )
        .await;
    assert!(status.is_success(), "{set}");

    let signed_in: [(&str, String); 24] = [
        ("home", "/".to_owned()),
        ("report", W45.to_owned()),
        ("report-split", "/reports/paid?period=2026-W45".to_owned()),
        ("report-month", "/reports/weekly?period=2026-11".to_owned()),
        ("report-empty", "/reports/weekly?period=2020-W01".to_owned()),
        ("tree", "/trees/default?period=2026-W45".to_owned()),
        ("catalog", "/catalog".to_owned()),
        ("scripts", "/scripts".to_owned()),
        ("schedules", "/schedules".to_owned()),
        ("data", "/data".to_owned()),
        ("report-editor", "/reports/paid/edit".to_owned()),
        ("new-report", "/new-report".to_owned()),
        ("schedule-new", "/schedules/new".to_owned()),
        ("schedule", format!("/schedules/{}", schedule["id"])),
        ("tree-editor", "/trees/default/edit".to_owned()),
        ("new-tree", "/new-tree".to_owned()),
        ("segments", "/segments".to_owned()),
        ("segment-editor", "/segments/reach/edit".to_owned()),
        ("goals", "/goals".to_owned()),
        ("alerts", "/alerts".to_owned()),
        ("alert-new", "/alerts/new".to_owned()),
        ("alert", format!("/alerts/{}", alert["id"])),
        ("error-404", "/no-such-page".to_owned()),
        ("error-400", "/reports/weekly?period=2026-W99".to_owned()),
    ];
    let signed_out: [(&str, String); 2] = [
        ("login", "/login".to_owned()),
        ("shared", format!("{W45}&share={share}")),
    ];

    let mut cdp = Cdp::launch(&bin).await;
    let mut problems = Vec::new();
    let mut shots = Vec::new();
    cdp.sign_in(&app.base, &token).await;
    for (phase, pages) in [("in", &signed_in[..]), ("out", &signed_out[..])] {
        if phase == "out" {
            cdp.call("Network.clearBrowserCookies", json!({})).await;
        }
        for (name, path) in pages {
            for width in WIDTHS {
                cdp.set_width(width).await;
                cdp.navigate(&format!("{}{path}", app.base)).await;
                // The editors fill in their check after the page loads: measure it filled.
                cdp.wait_for(
                    "!document.getElementById('check') || !document.getElementById('check').textContent.startsWith('Checking')",
                    "the editor's check",
                )
                .await;
                let fit = cdp.fit().await;
                shots.push(cdp.screenshot(&format!("page-{name}-{width}.png")).await);
                for p in fit.problems() {
                    problems.push(format!("{name} at {width} px ({path}): {p}"));
                }
                // One minus sign for every number: the hyphen-minus that format writes.
                let mixed = cdp
                    .eval(r"(document.body.innerText.match(/−\d[^\s]*/g) || []).slice(0, 5)")
                    .await;
                if mixed != json!([]) {
                    problems.push(format!("{name}: a typographic minus beside '-': {mixed}"));
                }
                for s in &fit.scrolling {
                    // A container that scrolls must say so where the reader looks.
                    let hinted = cdp
                        .eval(&format!(
                            "[...document.querySelectorAll('.scroll-x')].some(e => e.scrollWidth > e.clientWidth && e.querySelector('.scroll-hint') && getComputedStyle(e.querySelector('.scroll-hint')).display !== 'none') || {}",
                            s["in"].as_str().is_some_and(|w| w.contains("editor") || w.contains("textarea"))
                        ))
                        .await;
                    if hinted != json!(true) {
                        problems.push(format!("{name} at {width} px: scrolls without a hint: {s}"));
                    }
                }
            }
        }
    }
    let errors = cdp.errors();
    eprintln!("screenshots: {}", shots.len());
    assert!(problems.is_empty(), "{problems:#?}");
    // The 404 and 400 pages log their status as console errors; nothing else may.
    let unexpected: Vec<_> = errors
        .iter()
        .filter(|e| !e.to_string().contains("status of 40"))
        .collect();
    assert!(unexpected.is_empty(), "browser errors: {unexpected:#?}");
}
