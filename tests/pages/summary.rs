//! The report page leads with its summary: headline KPIs (the first of each branch for the
//! built-in weekly report, the report's own list in its order otherwise), the biggest movers and
//! the targets missed, each linking to its card.

use awc::http::StatusCode;
use serde_json::json;

use crate::common::{Backend, Browser, TestApp};

crate::backend_tests!(the_report_leads_with_headlines_movers_and_missed_targets);

/// The `data-…="key"` values of a page, in page order.
fn keys(html: &str, attr: &str) -> Vec<String> {
    html.split(&format!("{attr}=\""))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

async fn the_report_leads_with_headlines_movers_and_missed_targets(b: Backend) {
    let (app, team) = TestApp::with_fixture(b).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&team.token, "/").await;
    let page = browser.get("/reports/weekly?period=2026-W45").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body;
    // The summary comes before the funnel and the cards.
    let summary_at = html.find("id=\"summary\"").expect("a summary");
    assert!(summary_at < html.find("class=\"overview\"").unwrap());
    assert_eq!(
        keys(&html, "data-headline"),
        [
            "sessions",
            "leads",
            "visitor_conversion_rate",
            "ad_spend",
            "customers_won"
        ],
        "the first KPI of each branch"
    );
    let movers = keys(&html, "data-mover");
    assert_eq!(movers.len(), 3);
    // The JSON says the same.
    let (status, report) = app
        .get(Some(&team.token), "/api/v1/reports/weekly?period=2026-W45")
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["summary"]["movers"], json!(movers));

    // A report of its own: its KPIs in its order lead, and a missed target is listed.
    let (status, body) = app
        .put_json(
            Some(&team.token),
            "/api/v1/reports/money",
            &json!({"title": "Money", "period_kind": "week", "kpis": ["cpl", "leads", "cac"],
                    "targets": {"cpl": {"max": 1}, "leads": {"min": 1}}}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let html = browser.get("/reports/money?period=2026-W45").await.body;
    assert_eq!(keys(&html, "data-headline"), ["cpl", "leads", "cac"]);
    assert_eq!(keys(&html, "data-missed"), ["cpl"]);
    assert!(html.contains("class=\"kpi target-missed\" data-kpi=\"cpl\""));
    assert!(html.contains("class=\"kpi target-met\" data-kpi=\"leads\""));
    assert!(html.contains("aria-label=\"100% of target\"") || html.contains("% of target\""));
}
