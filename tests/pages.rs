//! The HTML reports end to end: sign-in with a token, the weekly report with the fixture's
//! numbers formatted as the page formats them, share links, escaping, CSV and JSON agreeing with
//! the page, report definitions, and a real headless Chromium rendering the page. The helpers the
//! topics share are here; each topic has its file below `pages/`.

mod cached_reports;
mod chromium;
mod csv_json;
mod data_page;
mod definitions;
mod explanations;
mod period_picker;
mod phone_widths;
mod report_editor;
mod scripts_page;
mod share_links;
mod sign_in;
mod split;
mod summary;
mod workflow;

use chrono::{Duration as Days, Utc};
use lodestar_core::catalog::{Builtin, Unit};
use lodestar_report::format::change_display;
use lodestar_report::share::{self, ShareClaims};
use lodestar_store::secrets;
use serde_json::Value;

use crate::common::TestApp;
use crate::common::shown as shown_value;

pub(crate) const W45: &str = "/reports/weekly?period=2026-W45";

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
            issued_at: Utc::now(),
        },
    )
}

/// Every KPI card shows the expected value, previous value and change, formatted for people.
pub(crate) fn assert_fixture_numbers(html: &str) {
    let current = expected_case("2026-W45");
    let previous = expected_case("2026-W44");
    assert_eq!(current.len(), Builtin::ALL.len());
    for (key, value) in &current {
        let unit = unit_of(key);
        let html = card(html, key);
        let v = value.as_f64();
        let p = previous[key].as_f64();
        let shown = shown_value(key, v);
        assert!(
            html.contains(&format!(">{shown}</div>")),
            "{key}: expected {shown} in {html}"
        );
        assert!(
            html.contains(&format!("vs {}", shown_value(key, p))),
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

/// Finds a KPI card in a report's JSON.
fn json_card<'v>(report: &'v Value, key: &str) -> Option<&'v Value> {
    report["sections"]
        .as_array()?
        .iter()
        .flat_map(|s| s["kpis"].as_array().into_iter().flatten())
        .find(|c| c["key"] == key)
}
