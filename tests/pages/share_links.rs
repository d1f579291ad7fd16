//! Share links: a signed link opens its one report, and only until it expires.

use awc::http::StatusCode;
use chrono::Duration as Days;

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp};
use lodestar_store::tokens::Role;

use super::{W45, assert_fixture_numbers, share_token};

backend_tests!(
    a_share_link_opens_its_report_only_until_it_expires,
    revoking_a_reports_links_ends_every_link_issued_before,
);

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

async fn revoking_a_reports_links_ends_every_link_issued_before(b: Backend) {
    let (app, FixtureTeam { id: team_id, token }) = TestApp::with_fixture(b).await;
    let mut anonymous = Browser::new(&app);
    let weekly = share_token(&app, team_id, "weekly", "2026-W45", Days::days(7)).await;
    let (status, body) = app
        .put_json(
            Some(&token),
            "/api/v1/reports/monthly",
            &serde_json::json!({"title": "Monthly", "period_kind": "month"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let monthly = share_token(&app, team_id, "monthly", "2026-11", Days::days(7)).await;
    let open = |report: &str, period: &str, token: &str| {
        format!("/reports/{report}?period={period}&share={token}")
    };
    assert_eq!(
        anonymous
            .get(&open("weekly", "2026-W45", &weekly))
            .await
            .status,
        StatusCode::OK
    );

    // Viewers may not; an unknown report is 404; editors and admins may.
    let viewer = app.token(team_id, Role::Viewer).await;
    let path = "/api/v1/reports/weekly/revoke-links";
    let (status, _) = app
        .post_json(Some(&viewer), path, &serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .post_json(
            Some(&token),
            "/api/v1/reports/nope/revoke-links",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.send("POST", Some(&token), path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["report"], "weekly");
    assert!(body["links_valid_after"].is_string(), "{body}");

    // Every weekly link issued before is refused, on every replica; other reports' links work.
    let replica = app.replica().await;
    for server in [&app, &replica] {
        let mut someone = Browser::new(server);
        let page = someone.get(&open("weekly", "2026-W45", &weekly)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(page.body.contains("This link was revoked"), "{}", page.body);
        assert!(!page.body.contains("data-kpi"));
        let csv = someone
            .get(&format!(
                "/reports/weekly.csv?period=2026-W45&share={weekly}"
            ))
            .await;
        assert_eq!(csv.status, StatusCode::FORBIDDEN);
    }
    let page = anonymous.get(&open("monthly", "2026-11", &monthly)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);

    // A link made after the revocation opens the report.
    let fresh = share_token(&app, team_id, "weekly", "2026-W45", Days::days(7)).await;
    let page = anonymous.get(&open("weekly", "2026-W45", &fresh)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_fixture_numbers(&page.body);
}
