//! Share links: a signed link opens its one report, and only until it expires.

use awc::http::StatusCode;
use chrono::Duration as Days;

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp};

use super::{W45, assert_fixture_numbers, share_token};

backend_tests!(a_share_link_opens_its_report_only_until_it_expires);

async fn a_share_link_opens_its_report_only_until_it_expires(b: Backend) {
    let (app, FixtureTeam { id: team_id, .. }) = TestApp::with_fixture(b).await;
    let mut anonymous = Browser::new(&app);
    let token = share_token(&app, team_id, "weekly", "2026-W45", Days::days(7)).await;

    let page = anonymous.get(&format!("{W45}&share={token}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_fixture_numbers(&page.body);
    assert!(page.body.contains("Shared view"));
    assert!(
        !page.body.contains("rel=\"prev\""),
        "no way to other periods"
    );
    assert!(!page.body.contains("csrf-token"));
    assert!(
        anonymous.cookies.is_empty(),
        "a share link opens no session"
    );
    let no_period = anonymous
        .get(&format!("/reports/weekly?share={token}"))
        .await;
    assert_eq!(no_period.status, StatusCode::OK);
    assert!(no_period.body.contains("Week 45, 2026"));
    let csv = anonymous
        .get(&format!(
            "/reports/weekly.csv?period=2026-W45&share={token}"
        ))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type.starts_with("text/csv"));

    // Not another period, not another report, not the rest of the site.
    let other = anonymous
        .get(&format!("/reports/weekly?period=2026-W44&share={token}"))
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert!(other.body.contains("another period"), "{}", other.body);
    let other = anonymous
        .get(&format!("/reports/monthly?period=2026-W45&share={token}"))
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(
        anonymous.get("/catalog").await.status,
        StatusCode::SEE_OTHER
    );

    let expired = share_token(&app, team_id, "weekly", "2026-W45", Days::seconds(-60)).await;
    let page = anonymous.get(&format!("{W45}&share={expired}")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("This link has expired"), "{}", page.body);
    assert!(!page.body.contains("data-kpi"));

    let (payload, sig) = token.split_once('.').unwrap();
    let mut forged_sig: Vec<char> = sig.chars().collect();
    forged_sig[0] = if forged_sig[0] == 'A' { 'B' } else { 'A' };
    let forged = format!("{payload}.{}", forged_sig.into_iter().collect::<String>());
    let page = anonymous.get(&format!("{W45}&share={forged}")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("not valid"), "{}", page.body);
}
