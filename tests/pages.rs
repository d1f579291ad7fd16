//! The HTML reports end to end: sign-in with a token, the weekly report with the fixture's
//! numbers formatted as the page formats them, share links, escaping, CSV and JSON agreeing with
//! the page, report definitions, and a real headless Chromium rendering the page.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use chrono::{Duration as Days, Utc};
use lodestar_core::catalog::{Builtin, Unit};
use lodestar_report::format::{change_display, format_value};
use lodestar_report::share::{self, ShareClaims};
use lodestar_store::secrets;
use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp, attr_after, close, read_fixture};

backend_tests!(
    the_weekly_report_shows_the_fixture_numbers_to_a_signed_in_viewer,
    strangers_are_sent_to_sign_in_and_bad_sign_ins_are_refused,
    a_share_link_opens_its_report_only_until_it_expires,
    user_text_is_escaped_and_a_data_load_refreshes_the_cached_report,
    csv_and_json_carry_the_numbers_of_the_page,
    the_session_cookie_authenticates_the_api_with_a_csrf_header_for_writes,
    report_definitions_are_validated_and_scoped_to_their_team,
    the_report_says_why_kpis_changed_by_driver_on_the_page_and_in_json,
);

const W45: &str = "/reports/weekly?period=2026-W45";

/// The HTML of one KPI card.
fn card<'h>(html: &'h str, key: &str) -> &'h str {
    let marker = format!("data-kpi=\"{key}\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no card for {key}"));
    let end = html[start..].find("</article>").unwrap() + start;
    &html[start..end]
}

fn unit_of(key: &str) -> Unit {
    Builtin::from_key(key).unwrap().unit()
}

fn expected_case(period: &str) -> serde_json::Map<String, Value> {
    crate::common::expected_kpis(period)
}

async fn share_token(
    app: &TestApp,
    team_id: i32,
    report: &str,
    period: &str,
    expires_in: Days,
) -> String {
    let secret = secrets::get_or_create(app.db(), "share").await.unwrap();
    share::sign(
        &secret,
        &ShareClaims {
            team_id,
            report: report.to_owned(),
            period: period.to_owned(),
            expires_at: Utc::now() + expires_in,
        },
    )
}

/// Every KPI card shows the expected value, previous value and change, formatted for people.
fn assert_fixture_numbers(html: &str) {
    let current = expected_case("2026-W45");
    let previous = expected_case("2026-W44");
    assert_eq!(current.len(), Builtin::ALL.len());
    for (key, value) in &current {
        let unit = unit_of(key);
        let html = card(html, key);
        let v = value.as_f64();
        let p = previous[key].as_f64();
        let shown = format_value(unit, v);
        assert!(
            html.contains(&format!(">{shown}</div>")),
            "{key}: expected {shown} in {html}"
        );
        assert!(
            html.contains(&format!("vs {}", format_value(unit, p))),
            "{key}: expected previous {p:?} in {html}"
        );
        // Points for rates, pts for scores, a relative change for the rest.
        let change = change_display(unit, v, p);
        assert!(
            html.contains(&format!("{change}</span>")),
            "{key}: expected change {change} in {html}"
        );
    }
}

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

async fn user_text_is_escaped_and_a_data_load_refreshes_the_cached_report(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let (status, body) = app.put_json(Some(&token),
        "/api/v1/reports/by-channel",
        &json!({
            "title": "Leads <b>by</b> channel", "kpis": ["leads", "cpl"], "segment_by": "channel",
            "targets": {"leads": {"min": 40}, "cpl": {"max": 400}}
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let mut browser = Browser::new(&app);
    let before = browser
        .sign_in(&token, "/reports/by-channel?period=2026-W45")
        .await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    let leads = expected_case("2026-W45")["leads"].as_f64().unwrap();
    let count = |n: f64| format!(">{}</div>", format_value(Unit::Count, Some(n)));
    assert!(card(&before.body, "leads").contains(&count(leads)));
    assert!(
        card(&before.body, "leads").contains("Target ≥ 40 · missed"),
        "{}",
        card(&before.body, "leads")
    );

    let evil = "<script>alert(1)</script>";
    let (status, body) = app
        .post_json(
            Some(&token),
            "/api/v1/leads",
            &json!([{"id": "xss-1", "created_at": "2026-11-04T15:00:00Z", "channel": evil, "source": evil}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let after = browser.get("/reports/by-channel?period=2026-W45").await;
    assert_eq!(after.status, StatusCode::OK);
    let html = &after.body;
    assert!(
        card(html, "leads").contains(&count(leads + 1.0)),
        "the cache saw the load"
    );
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
    assert!(!html.contains(evil), "{html}");
    assert!(html.contains("Leads &#60;b&#62;by&#60;/b&#62; channel"));
    assert!(!html.contains("<b>by</b>"));
    assert!(html.contains("By channel"));
    // The page forbids inline scripts besides: a slip in escaping would still not run.
    assert!(!html.contains("<script>"));

    // Machines get the name as it is.
    let csv = browser.get("/reports/by-channel.csv?period=2026-W45").await;
    assert!(csv.body.contains(evil));
    let (_, json) = app
        .get(Some(&token), "/api/v1/reports/by-channel?period=2026-W45")
        .await;
    let leads_card = json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["kpis"].as_array().unwrap())
        .find(|c| c["key"] == "leads")
        .unwrap();
    let segments = leads_card["segments"].as_array().unwrap();
    assert!(segments.iter().any(|s| s["segment"] == evil), "{json}");
}

async fn csv_and_json_carry_the_numbers_of_the_page(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let mut browser = Browser::new(&app);
    let page = browser.sign_in(&token, W45).await;
    let csv_page = browser.get("/reports/weekly.csv?period=2026-W45").await;
    assert_eq!(csv_page.status, StatusCode::OK);
    let (status, json) = app
        .get(Some(&token), "/api/v1/reports/weekly?period=2026-W45")
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["period"]["key"], "2026-W45");
    assert_eq!(json["label"], "Week 45, 2026 (Nov 2 – Nov 8)");

    let json_cards: HashMap<String, Value> = json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["kpis"].as_array().unwrap().iter())
        .map(|c| (c["key"].as_str().unwrap().to_owned(), c.clone()))
        .collect();
    let expected = expected_case("2026-W45");
    let mut reader = csv::Reader::from_reader(csv_page.body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut seen = 0;
    for row in reader.records() {
        let row = row.unwrap();
        if !row[col("segment")].is_empty() {
            continue;
        }
        seen += 1;
        let key = &row[col("key")];
        let csv_value: Option<f64> = row[col("value")].parse().ok();
        let card_json = &json_cards[key];
        // serde_json may parse the last digit one ULP off: compare within the spec's tolerance.
        match (csv_value, card_json["value"].as_f64()) {
            (Some(a), Some(b)) => assert!(close(a, b), "{key}: CSV {a}, JSON {b}"),
            (a, b) => assert_eq!(a, b, "{key}: CSV and JSON"),
        }
        match (expected[key].as_f64(), csv_value) {
            (Some(e), Some(a)) => assert!(close(a, e), "{key}: {a} vs expected {e}"),
            (None, None) => {}
            other => panic!("{key}: {other:?}"),
        }
        let shown = format_value(unit_of(key), csv_value);
        assert_eq!(card_json["display"]["value"], shown.as_str());
        assert!(
            card(&page.body, key).contains(&format!(">{shown}</div>")),
            "{key}"
        );
    }
    assert_eq!(seen, Builtin::ALL.len());
    let stages = &read_fixture("expected.json")["stage_distribution"]["2026-W45"];
    for s in json["stages"].as_array().unwrap() {
        assert_eq!(s["count"], stages[s["stage"].as_str().unwrap()], "{s}");
    }
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

async fn report_definitions_are_validated_and_scoped_to_their_team(b: Backend) {
    let (app, FixtureTeam { id: team_id, token }) = TestApp::with_fixture(b).await;
    let put = |token: String, slug: &'static str, body: Value| {
        let app = &app;
        async move {
            app.put_json(Some(&token), &format!("/api/v1/reports/{slug}"), &body)
                .await
        }
    };
    let monthly = json!({"title": "Monthly paid", "period_kind": "month", "kpis": ["leads", "cpl", "cac"],
                         "segment_by": "channel", "targets": {"cpl": {"max": 400}}});
    let (status, body) = put(token.clone(), "monthly", monthly.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"], 1);
    let (status, body) = put(token.clone(), "monthly", monthly).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);

    // Invalid definitions are 422 like every other invalid body of the API, naming the field;
    // a body that is not JSON at all stays a 400.
    let (status, body) = put(token.clone(), "broken", json!({"kpis": ["leads", "cpa"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["message"].as_str().unwrap().contains("`cpa`"),
        "{body}"
    );
    let (status, body) = put(token.clone(), "broken", json!({"segment_by": "region"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "validation");
    assert_eq!(body["field"], "segment_by");
    let (status, body) = put(token.clone(), "broken", json!({"titel": "typo"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let viewer = app.token(team_id, Role::Viewer).await;
    let (status, _) = put(viewer.clone(), "mine", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, list) = app.get(Some(&viewer), "/api/v1/reports").await;
    assert_eq!(status, StatusCode::OK);
    let slugs: Vec<&str> = list["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["weekly", "monthly"]);

    // The month of the fixture, as JSON, with the report's KPIs only and its target judged.
    let (status, report) = app
        .get(Some(&viewer), "/api/v1/reports/monthly?period=2026-11")
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let cards: Vec<&Value> = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["kpis"].as_array().unwrap())
        .collect();
    let keys: Vec<&str> = cards.iter().map(|c| c["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["leads", "cpl", "cac"]);
    let nov = expected_case("2026-11");
    let cpl = cards[1];
    assert!(close(
        cpl["value"].as_f64().unwrap(),
        nov["cpl"].as_f64().unwrap()
    ));
    let met = if nov["cpl"].as_f64().unwrap() <= 400.0 {
        "met"
    } else {
        "missed"
    };
    assert_eq!(cpl["target"]["status"], met);
    assert_eq!(report["segments"]["dimension"], "channel");

    // Another team sees none of it.
    let (_, other) = app.team("other", "UTC", Role::Admin).await;
    let (status, _) = app
        .get(Some(&other), "/api/v1/reports/monthly?period=2026-11")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get(Some(&other), "/api/v1/reports").await;
    assert_eq!(list["reports"].as_array().unwrap().len(), 1);

    // Replacing `weekly` changes it for this team only; deleting restores the built-in.
    let (status, _) = put(
        token.clone(),
        "weekly",
        json!({"title": "Our week", "kpis": ["leads"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, week) = app
        .get(Some(&token), "/api/v1/reports/weekly?period=2026-W45")
        .await;
    assert_eq!(week["definition"]["title"], "Our week");
    let (status, _) = app.delete(Some(&token), "/api/v1/reports/weekly").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, week) = app
        .get(Some(&token), "/api/v1/reports/weekly?period=2026-W45")
        .await;
    assert_eq!(week["definition"]["builtin"], true);
}

/// The `<tbody class="explanation" data-explains=…>` of one KPI on a report page.
fn explanation_html<'h>(html: &'h str, kpi: &str) -> &'h str {
    let marker = format!("<tbody class=\"explanation\" data-explains=\"{kpi}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no explanation of {kpi} in {html}"));
    let end = html[start..].find("</tbody>").unwrap_or(html.len() - start) + start;
    &html[start..end]
}

async fn the_report_says_why_kpis_changed_by_driver_on_the_page_and_in_json(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let mut browser = Browser::new(&app);
    let page = browser.sign_in(&token, W45).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let html = &page.body;
    assert!(html.contains("Why it changed"), "{html}");
    assert!(
        html.contains("href=\"/trees/default\""),
        "the trees page is in the navigation"
    );

    // Won revenue fell 29% in W45 while leads almost doubled: the sentence, worked out here
    // from the fixture's expected values, is on the page.
    let sentence = crate::trees::won_revenue_sentence("2026-W45", "2026-W44");
    assert!(
        sentence.starts_with("Won revenue −29.2%: leads +"),
        "{sentence}"
    );
    let won = explanation_html(html, "won_revenue");
    assert!(won.contains(&sentence), "{sentence} not in {won}");
    // A bar per part, right of the axis and green for more leads, left and red for the
    // conversion that fell (won revenue is better higher).
    let rows: Vec<&str> = won.split("<tr").skip(2).collect();
    assert_eq!(rows.len(), 4, "the change and three drivers: {won}");
    assert!(rows[0].contains("Won revenue") && rows[0].contains("fill=\"#c8312b\""));
    assert!(
        rows[1].contains("leads")
            && rows[1].contains("x=\"100.0\"")
            && rows[1].contains("fill=\"#137a3a\""),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains("conversion")
            && !rows[2].contains("x=\"100.0\"")
            && rows[2].contains("fill=\"#c8312b\""),
        "{}",
        rows[2]
    );

    // The page explains exactly the KPIs whose change /api/v1/drivers explains, with its words.
    let (status, api) = app
        .get(Some(&token), "/api/v1/drivers?period=2026-W45")
        .await;
    assert_eq!(status, StatusCode::OK, "{api}");
    let moved: Vec<&Value> = api["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["value"] != e["previous"])
        .collect();
    assert!(moved.len() >= 4, "{api}");
    for e in &moved {
        let kpi = e["kpi"].as_str().unwrap();
        let shown = explanation_html(html, kpi);
        let sentence = e["sentence"].as_str().unwrap();
        assert!(shown.contains(sentence), "{kpi}: {sentence} not in {shown}");
    }
    assert_eq!(
        html.matches("<tbody class=\"explanation\"").count(),
        moved.len()
    );

    // JSON carries the same explanations, parts adding up to the change.
    let (status, json) = app
        .get(Some(&token), "/api/v1/reports/weekly?period=2026-W45")
        .await;
    assert_eq!(status, StatusCode::OK);
    let drivers = json["drivers"].as_array().unwrap();
    let sentences: Vec<&str> = drivers
        .iter()
        .map(|d| d["sentence"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = moved
        .iter()
        .map(|e| e["sentence"].as_str().unwrap())
        .collect();
    assert_eq!(sentences, expected);
    let won = drivers.iter().find(|d| d["kpi"] == "won_revenue").unwrap();
    assert_eq!(won["sentence"], sentence.as_str());
    let sum: f64 = won["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["contribution"].as_f64().unwrap())
        .sum();
    assert!(close(sum, won["change"].as_f64().unwrap()), "{won}");

    // A report of named KPIs explains those only; an empty period explains nothing.
    let (status, _) = app
        .put_json(
            Some(&token),
            "/api/v1/reports/cost",
            &json!({"kpis": ["cac", "cpl"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, cost) = app
        .get(Some(&token), "/api/v1/reports/cost?period=2026-W45")
        .await;
    let kpis: Vec<&str> = cost["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kpi"].as_str().unwrap())
        .collect();
    assert_eq!(kpis, ["cac"]);
    let empty = browser.get("/reports/weekly?period=2020-W01").await;
    assert!(!empty.body.contains("Why it changed"));
}

/// Where test artifacts (screenshots) are kept.
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::common::manifest_dir().join("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|dir| PathBuf::from(dir).join(name))
                .find(|p| p.is_file())
        })
}

struct Run {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium with a fresh profile, killing it if it hangs.
fn run_chromium(bin: &PathBuf, args: &[String]) -> Run {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let (out, err) = (read(Box::new(out)), read(Box::new(err)));
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Run {
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Console errors, failed loads and CSP refusals Chromium logged.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused to"))
        .filter(|l| {
            l.contains("Uncaught")
                || l.contains("Refused to")
                || l.contains("Failed to load")
                || l.contains(":ERROR:CONSOLE")
        })
        .collect()
}

#[actix_web::test]
async fn a_real_browser_renders_the_weekly_report() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium must be installed in CI (.ci/run installs it)"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let (app, FixtureTeam { id: team_id, .. }) = TestApp::with_fixture(Backend::Sqlite).await;
    let token = share_token(&app, team_id, "weekly", "2026-W45", Days::hours(1)).await;
    let url = format!("{}{W45}&share={token}", app.base);
    let dir = artifacts_dir();

    let dom = {
        let bin = bin.clone();
        let url = url.clone();
        actix_web::rt::task::spawn_blocking(move || run_chromium(&bin, &["--dump-dom".into(), url]))
            .await
            .unwrap()
    };
    let expected = expected_case("2026-W45");
    for key in ["leads", "cpl", "roi", "nps", "time_to_conversion_days"] {
        let shown = format_value(unit_of(key), expected[key].as_f64());
        assert!(
            card(&dom.stdout, key).contains(&format!(">{shown}</div>")),
            "{key}: {shown} not rendered; stderr: {}",
            dom.stderr
        );
    }
    assert!(dom.stdout.contains("Week 45, 2026 (Nov 2 – Nov 8)"));
    assert!(dom.stdout.contains("<polyline"), "sparklines render");
    let errors = page_errors(&dom.stderr);
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    for (name, size) in [
        ("report-1280.png", "1280,2000"),
        ("report-390.png", "390,1800"),
    ] {
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        let bin = bin.clone();
        let url = url.clone();
        let arg = format!("--screenshot={}", path.display());
        let run = actix_web::rt::task::spawn_blocking(move || {
            run_chromium(&bin, &[arg, format!("--window-size={size}"), url])
        })
        .await
        .unwrap();
        let png = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("no screenshot at {}: {e}; {}", path.display(), run.stderr));
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 20_000,
            "{name}: {} bytes",
            png.len()
        );
        let errors = page_errors(&run.stderr);
        assert!(errors.is_empty(), "console errors: {errors:#?}");
    }
}

/// Kills the browser when the test ends, however it ends.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Drives a real Chromium over its DevTools protocol (a websocket, spoken with awc): signs in
/// with a session cookie, runs the script editor's default script, shows a script error at its
/// line, saves the KPI and lists its history, all through the page's own JavaScript.
#[actix_web::test]
async fn a_real_browser_runs_and_saves_a_script_in_the_editor() {
    use awc::ws::{Frame, Message};
    use futures_util::StreamExt;
    use std::io::BufRead;
    use std::pin::Pin;

    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium must be installed in CI (.ci/run installs it)"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(Backend::Sqlite).await;
    let mut me = Browser::new(&app);
    me.sign_in(&token, "/").await;
    let session = me.cookies["lodestar_session"].clone();

    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(&bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
            "--window-size=1280,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _browser = Kill(child);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let endpoint = loop {
        match rx.try_recv() {
            Ok(line) => {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    break url.trim().to_owned();
                }
            }
            Err(_) if started.elapsed() > Duration::from_secs(30) => {
                panic!("chromium did not open its DevTools port")
            }
            Err(_) => actix_web::rt::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let port = endpoint
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut resp = app
        .client
        .get(format!("http://{port}/json/list"))
        .send()
        .await
        .unwrap();
    let targets: Value = resp.json().await.unwrap();
    let page_ws = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .unwrap()["webSocketDebuggerUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, mut ws) = app
        .client
        .ws(page_ws)
        .max_frame_size(64 << 20)
        .connect()
        .await
        .unwrap();

    let mut next_id = 0u64;
    let mut events: Vec<Value> = Vec::new();
    // One DevTools command: send it, collect events until its reply arrives.
    macro_rules! call {
        ($method:expr, $params:expr) => {{
            next_id += 1;
            let id = next_id;
            let msg = json!({"id": id, "method": $method, "params": $params}).to_string();
            Pin::new(&mut ws).write(Message::Text(msg.into())).unwrap();
            std::future::poll_fn(|cx| Pin::new(&mut ws).flush(cx))
                .await
                .unwrap();
            loop {
                let frame = actix_web::rt::time::timeout(Duration::from_secs(30), ws.next())
                    .await
                    .expect("DevTools answers within 30 s")
                    .unwrap()
                    .unwrap();
                let Frame::Text(bytes) = frame else { continue };
                let v: Value = serde_json::from_slice(&bytes).unwrap();
                if v["id"] == id {
                    assert!(v.get("error").is_none(), "{}: {v}", $method);
                    break v["result"].clone();
                }
                events.push(v);
            }
        }};
    }
    macro_rules! eval {
        ($js:expr) => {{
            let r = call!(
                "Runtime.evaluate",
                json!({"expression": $js, "returnByValue": true})
            );
            r["result"]["value"].clone()
        }};
    }
    macro_rules! wait_status {
        ($what:expr) => {{
            let started = Instant::now();
            loop {
                let s = eval!("document.getElementById('status').textContent");
                let s = s.as_str().unwrap_or_default().to_owned();
                if !s.is_empty() && !s.ends_with('…') {
                    break s;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "{} timed out",
                    $what
                );
                actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            }
        }};
    }

    call!(
        "Network.setCookie",
        json!({"name": "lodestar_session", "value": session, "url": app.base, "httpOnly": true})
    );
    call!("Runtime.enable", json!({}));
    call!("Log.enable", json!({}));
    call!("Page.enable", json!({}));
    call!(
        "Page.navigate",
        json!({"url": format!("{}/scripts", app.base)})
    );
    let started = Instant::now();
    while eval!("document.readyState") != "complete"
        || eval!("typeof document.getElementById('run')") != "object"
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the editor did not load"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(eval!("document.title"), "Scripts · Lodestar");

    // Run the default script (gross ROI) on the fixture's week 45, shown as a percentage.
    let _ = eval!(
        "document.getElementById('period').value = '2026-W45'; document.getElementById('unit').value = 'percent'; document.getElementById('run').click()"
    );
    let status = wait_status!("run");
    assert_eq!(status, "Done");
    let w45 = expected_case("2026-W45");
    let gross_roi = w45["revenue"].as_f64().unwrap() / w45["total_spend"].as_f64().unwrap() * 100.0;
    assert_eq!(
        eval!("document.getElementById('result-value').textContent"),
        format_value(Unit::Percent, Some(gross_roi)).as_str()
    );

    // A script error is shown with its line, and the gutter marks it.
    let _ = eval!(
        "document.getElementById('script').value = 'let x = 1;\\nlet y = ;\\nx'; document.getElementById('run').click()"
    );
    let status = wait_status!("failing run");
    assert_ne!(status, "Done");
    let error = eval!("document.getElementById('result-error').textContent");
    assert!(error.as_str().unwrap().starts_with("Line 2"), "{error}");
    assert_eq!(
        eval!("document.querySelector('#gutter .err').textContent"),
        "2\n"
    );

    // Save a KPI through the page (session cookie + CSRF header), then see its history.
    let _ = eval!(
        "document.getElementById('script').value = 'metric(\"leads\") * 2'; document.getElementById('key').value = 'double_leads'; document.getElementById('name').value = 'Double leads'; document.getElementById('unit').value = 'count'; document.getElementById('save').click()"
    );
    let status = wait_status!("save");
    assert_eq!(status, "Saved as version 1");
    let started = Instant::now();
    while !eval!("document.getElementById('history').textContent")
        .as_str()
        .unwrap_or_default()
        .contains("Version 1")
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no history shown"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, catalog) = app.get(Some(&token), "/api/v1/catalog").await;
    assert!(catalog.to_string().contains("double_leads"), "{catalog}");

    let errors: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["method"] == "Runtime.exceptionThrown"
                || (e["method"] == "Log.entryAdded" && e["params"]["entry"]["level"] == "error")
                || (e["method"] == "Runtime.consoleAPICalled" && e["params"]["type"] == "error")
        })
        .collect();
    assert!(errors.is_empty(), "browser errors: {errors:#?}");
}

/// Finds a KPI card in a report's JSON.
fn json_card<'v>(report: &'v Value, key: &str) -> Option<&'v Value> {
    report["sections"]
        .as_array()?
        .iter()
        .flat_map(|s| s["kpis"].as_array().into_iter().flatten())
        .find(|c| c["key"] == key)
}

/// A pack reload changes KPIs without touching the team's data version: the cached report must
/// still follow it.
#[actix_web::test]
async fn a_kpi_pack_reload_refreshes_a_cached_report() {
    let packs = tempfile::tempdir().unwrap();
    let pack = packs.path().join("constants");
    std::fs::create_dir_all(&pack).unwrap();
    std::fs::write(
        pack.join("plugin.toml"),
        "[pack]\nname = \"constants\"\nversion = \"1.0.0\"\n\n[[kpi]]\nkey = \"pack_constant\"\n\
         name = \"Pack constant\"\nunit = \"count\"\ndirection = \"higher_is_better\"\n\
         kind = \"leading\"\ncategory = \"Lead volume & quality\"\nscript = \"constant.rhai\"\n",
    )
    .unwrap();
    std::fs::write(pack.join("constant.rhai"), "41\n").unwrap();
    let broken = packs.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("plugin.toml"), "this is not <b>toml</b>\n").unwrap();
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.scripts.packs_dir = Some(packs.path().to_owned());
    })
    .await;
    let (_, token) = app.team("packs", "UTC", Role::Viewer).await;
    let path = "/api/v1/reports/weekly?period=2026-W45";

    let value_soon = |expected: f64| {
        let app = &app;
        let token = token.clone();
        async move {
            let started = Instant::now();
            loop {
                let (status, report) = app.get(Some(&token), path).await;
                assert_eq!(status, StatusCode::OK, "{report}");
                let value = json_card(&report, "pack_constant").and_then(|c| c["value"].as_f64());
                if value == Some(expected) {
                    return;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "pack_constant stayed {value:?}, expected {expected}"
                );
                actix_web::rt::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    value_soon(41.0).await;
    // Served from the cache now; the reload must still show through.
    std::fs::write(pack.join("constant.rhai"), "42 // changed\n").unwrap();
    value_soon(42.0).await;

    // The catalog page lists the pack that did not load, as text.
    let mut me = Browser::new(&app);
    let page = me.sign_in(&token, "/catalog").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("KPI packs that did not load"),
        "{}",
        page.body
    );
    assert!(page.body.contains("broken"));
    assert!(!page.body.contains("<b>toml</b>"));
    assert!(page.body.contains("data-kpi=\"pack_constant\""));
}
