//! Signing in with a token: the weekly report with the fixture's numbers formatted for a
//! signed-in viewer, strangers and bad sign-ins refused, and the session cookie on the API (with a
//! CSRF header for writes).

use awc::http::StatusCode;
use chrono::Utc;
use lodestar_core::catalog::{Builtin, Unit};
use lodestar_report::format::format_value;
use lodestar_store::tokens::Role;
use serde_json::json;

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp, attr_after, read_fixture};

use super::{W45, assert_fixture_numbers, card, expected_case};

backend_tests!(
    the_weekly_report_shows_the_fixture_numbers_to_a_signed_in_viewer,
    strangers_are_sent_to_sign_in_and_bad_sign_ins_are_refused,
    the_session_cookie_authenticates_the_api_with_a_csrf_header_for_writes,
    signing_out_ends_the_session_even_for_a_copy_of_its_cookie,
    sign_in_attempts_are_limited_per_client_address,
);

async fn the_weekly_report_shows_the_fixture_numbers_to_a_signed_in_viewer(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let mut browser = Browser::new(&app);
    let page = browser.sign_in(&token, W45).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.content_type.starts_with("text/html"));
    let html = &page.body;
    assert!(html.contains("Week 45, 2026 (Nov 2 – Nov 8)"), "{html}");
    assert_fixture_numbers(html);

    // The funnel names each step's conversion from the one before, with the fixture's rates.
    let rates = expected_case("2026-W45");
    for (key, from) in [
        ("lead_to_mql_rate", "Leads"),
        ("mql_to_sal_rate", "MQL"),
        ("sal_to_sql_rate", "SAL"),
        ("sql_to_opportunity_rate", "SQL"),
        ("opportunity_win_rate", "Opportunity"),
    ] {
        let shown = format_value(Unit::Percent, rates[key].as_f64());
        let want = format!("data-rate=\"{key}\">{shown} of {from}</small>");
        assert!(html.contains(&want), "{want} not in the funnel");
    }

    // Branches in tree order, each KPI once.
    let mut at = 0;
    for branch in [
        "Reach &#38; activity",
        "Lead volume &#38; quality",
        "Conversion",
        "Cost efficiency",
        "Revenue &#38; retention",
    ] {
        let found = html[at..]
            .find(branch)
            .unwrap_or_else(|| panic!("{branch} out of order"));
        at += found;
    }

    // The funnel shows the period's flow, the stage table the distribution at its end.
    let current = expected_case("2026-W45");
    for (step, key) in [
        ("leads", "leads"),
        ("mqls", "mqls"),
        ("customers_won", "customers_won"),
    ] {
        let start = html.find(&format!("data-step=\"{step}\"")).unwrap();
        let li = &html[start..start + html[start..].find("</li>").unwrap()];
        let n = format_value(Unit::Count, current[key].as_f64());
        assert!(li.contains(&format!(">{n}<")), "{step}: {li}");
    }
    let stages = &read_fixture("expected.json")["stage_distribution"]["2026-W45"];
    for (stage, count) in stages.as_object().unwrap() {
        let start = html.find(&format!("data-stage=\"{stage}\"")).unwrap();
        let li = &html[start..start + html[start..].find("</li>").unwrap()];
        let n = format_value(Unit::Count, count.as_f64());
        assert!(
            li.contains(&format!("<b class=\"l-count\">{n}</b>")),
            "{stage}: {li}"
        );
    }

    // Period navigation: previous, next, and a form that takes any key.
    assert!(html.contains("href=\"/reports/weekly?period=2026-W44\""));
    assert!(html.contains("href=\"/reports/weekly?period=2026-W46\""));
    assert!(html.contains("name=\"period\" value=\"2026-W45\""));
    let month = browser.get("/reports/weekly?period=2026-11").await;
    assert_eq!(month.status, StatusCode::OK);
    let nov = expected_case("2026-11");
    assert!(card(&month.body, "leads").contains(&format!(
        ">{}</div>",
        format_value(Unit::Count, nov["leads"].as_f64())
    )));

    let empty = browser.get("/reports/weekly?period=2020-W01").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(
        empty.body.contains("No data for this period"),
        "{}",
        empty.body
    );
    let bad = browser.get("/reports/weekly?period=2026-W99").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("2026-W99"), "{}", bad.body);
    let missing = browser.get("/reports/nope?period=2026-W45").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Without a period: the last complete week in the team's timezone.
    let default = browser.get("/reports/weekly").await;
    assert_eq!(default.status, StatusCode::OK);
    let tz = lodestar_core::period::Timezone::parse("America/New_York").unwrap();
    let last = lodestar_core::period::PeriodKey::last_complete(
        lodestar_core::period::PeriodKind::Week,
        Utc::now(),
        tz.0,
    );
    assert!(
        default
            .body
            .contains(&format!("name=\"period\" value=\"{last}\""))
    );

    // Home, catalog and the script editor are there for a signed-in viewer.
    let home = browser.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Headline KPIs") && home.body.contains("href=\"/reports/weekly\""));
    let catalog = browser.get("/catalog").await;
    assert_eq!(catalog.status, StatusCode::OK);
    for b in Builtin::ALL {
        assert!(
            catalog.body.contains(&format!("data-kpi=\"{}\"", b.key())),
            "{}",
            b.key()
        );
    }
    assert!(catalog.body.contains("marketing_spend / leads"));
    let scripts = browser.get("/scripts").await;
    assert_eq!(scripts.status, StatusCode::OK);
    assert!(
        scripts.body.contains("/static/scripts.js") && scripts.body.contains("name=\"csrf-token\"")
    );
    for asset in [
        "/static/app.css",
        "/static/scripts.js",
        "/static/favicon.svg",
    ] {
        assert_eq!(browser.get(asset).await.status, StatusCode::OK, "{asset}");
    }
}

async fn strangers_are_sent_to_sign_in_and_bad_sign_ins_are_refused(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let mut stranger = Browser::new(&app);
    for path in [
        W45,
        "/",
        "/catalog",
        "/scripts",
        "/reports/weekly.csv?period=2026-W45",
    ] {
        let page = stranger.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            page.location
                .as_deref()
                .unwrap()
                .starts_with("/login?next=/"),
            "{path}"
        );
        assert!(!page.body.contains("Leads"));
    }
    assert_eq!(
        stranger.get(W45).await.location.as_deref(),
        Some("/login?next=/reports/weekly%3Fperiod%3D2026-W45")
    );
    let (status, _) = app
        .get(None, "/api/v1/reports/weekly?period=2026-W45")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A forged cookie is no session.
    stranger
        .cookies
        .insert("lodestar_session".into(), "eyJ0ZWFtIjoxfQ.c2ln".into());
    assert_eq!(stranger.get(W45).await.status, StatusCode::SEE_OTHER);
    stranger.cookies.clear();

    // The form must come from our page (its cookie), and the token must be real.
    let refused = stranger
        .post_form(
            "/login",
            &[("token", token.as_str()), ("csrf", "x"), ("next", "/")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!stranger.cookies.contains_key("lodestar_session"));
    let form = stranger.get("/login").await;
    let csrf = attr_after(&form.body, "name=\"csrf\" value=\"");
    let wrong = stranger
        .post_form(
            "/login",
            &[("token", "lsk_wrong"), ("csrf", &csrf), ("next", "/")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("not valid"));
    assert!(!stranger.cookies.contains_key("lodestar_session"));

    // An outside `next` is not followed.
    let form = stranger.get("/login").await;
    let csrf = attr_after(&form.body, "name=\"csrf\" value=\"");
    let signed = stranger
        .post_form(
            "/login",
            &[
                ("token", token.as_str()),
                ("csrf", &csrf),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_eq!(signed.location.as_deref(), Some("/"));

    // Signing out needs the page's token, then the session is gone.
    let home = stranger.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    let csrf = attr_after(&home.body, "<meta name=\"csrf-token\" content=\"");
    let forged = stranger.post_form("/logout", &[("csrf", "forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let out = stranger.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!stranger.cookies.contains_key("lodestar_session"));
    assert_eq!(stranger.get("/").await.status, StatusCode::SEE_OTHER);
}

async fn the_session_cookie_authenticates_the_api_with_a_csrf_header_for_writes(b: Backend) {
    let (app, FixtureTeam { id: team_id, token }) = TestApp::with_fixture(b).await;
    let mut browser = Browser::new(&app);
    let page = browser.sign_in(&token, "/scripts").await;
    let csrf = attr_after(&page.body, "<meta name=\"csrf-token\" content=\"");

    let kpis = browser.get("/api/v1/kpis?period=2026-W45&keys=leads").await;
    assert_eq!(kpis.status, StatusCode::OK, "{}", kpis.body);
    let row = json!([{"id": "cookie-1", "created_at": "2026-11-05T12:00:00Z"}]);
    let (status, body) = browser.send_json("POST", "/api/v1/leads", None, &row).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = browser
        .send_json("POST", "/api/v1/leads", Some("forged"), &row)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = browser
        .send_json("POST", "/api/v1/leads", Some(&csrf), &row)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["inserted"], 1);

    // A viewer's session reads but does not write, whatever the header says.
    let viewer_token = app.token(team_id, Role::Viewer).await;
    let mut viewer = Browser::new(&app);
    let page = viewer.sign_in(&viewer_token, "/scripts").await;
    let csrf = attr_after(&page.body, "<meta name=\"csrf-token\" content=\"");
    let (status, _) = viewer
        .send_json("POST", "/api/v1/leads", Some(&csrf), &row)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn signing_out_ends_the_session_even_for_a_copy_of_its_cookie(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let replica = app.replica().await;
    let mut browser = Browser::new(&app);
    let home = browser.sign_in(&token, "/").await;
    assert_eq!(home.status, StatusCode::OK);
    let csrf = attr_after(&home.body, "<meta name=\"csrf-token\" content=\"");
    // Someone kept a copy of the cookie (another tab, a stolen laptop, another replica).
    let mut copy = Browser::new(&replica);
    copy.cookies = browser.cookies.clone();
    assert_eq!(copy.get("/").await.status, StatusCode::OK);
    assert_eq!(copy.get("/api/v1/team").await.status, StatusCode::OK);

    let out = browser.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!browser.cookies.contains_key("lodestar_session"));

    let page = copy.get("/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location.unwrap().starts_with("/login"));
    assert_eq!(
        copy.get("/api/v1/team").await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut on_first = Browser::new(&app);
    on_first.cookies = copy.cookies.clone();
    assert_eq!(on_first.get(W45).await.status, StatusCode::SEE_OTHER);

    // Signing in again opens a new session, with a CSRF token of its own.
    let again = browser.sign_in(&token, "/").await;
    assert_eq!(again.status, StatusCode::OK);
    let fresh = attr_after(&again.body, "<meta name=\"csrf-token\" content=\"");
    assert_ne!(fresh, csrf);
    assert_ne!(
        browser.cookies.get("lodestar_session"),
        copy.cookies.get("lodestar_session")
    );
}

async fn sign_in_attempts_are_limited_per_client_address(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let allowed = lodestar_web::RateLimits::default().sign_in.per_minute;
    let mut guesser = Browser::new(&app);
    let form = guesser.get("/login").await;
    let mut csrf = attr_after(&form.body, "name=\"csrf\" value=\"");
    for i in 0..allowed {
        let guess = format!("lsk_guess{i}");
        let page = guesser
            .post_form(
                "/login",
                &[("token", &guess), ("csrf", &csrf), ("next", "/")],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        // Each refusal comes with a fresh form.
        csrf = attr_after(&page.body, "name=\"csrf\" value=\"");
    }
    // Over the limit, even the right token waits: the answer says how long, as a page.
    let page = guesser
        .post_form(
            "/login",
            &[("token", &token), ("csrf", &csrf), ("next", "/")],
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    let retry: u64 = page
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    assert!(page.content_type.starts_with("text/html"));
    assert!(
        page.body.contains("Too many sign-in attempts"),
        "{}",
        page.body
    );
    assert!(!guesser.cookies.contains_key("lodestar_session"));
    // The form itself still opens; the limit is on attempts.
    assert_eq!(guesser.get("/login").await.status, StatusCode::OK);
}
