//! Each shipped mapping loads its sample export (in the tool's own shape), and the KPIs computed
//! from what it stored equal the values computed here from the sample's rows.

use awc::http::StatusCode;
use serde_json::json;

use super::{app_with_packs, editor, fixture, import, kpi};
use crate::backend_tests;
use crate::common::{Backend, close};

backend_tests!(
    every_shipped_mapping_is_listed,
    hubspot_contacts_give_the_lifecycle_kpis,
    salesforce_leads_and_opportunities_give_leads_sqls_wins_and_revenue,
    google_ads_meta_and_linkedin_exports_give_ad_spend_impressions_and_clicks,
    ga4_sessions_become_visits_with_ids_that_a_second_import_replaces,
);

/// The sample's records as maps from header to cell, past `skip` title lines.
fn records(
    text: &str,
    delimiter: u8,
    skip: usize,
) -> Vec<std::collections::BTreeMap<String, String>> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(skip)
        .map(|l| format!("{l}\n"))
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            headers
                .iter()
                .map(str::to_owned)
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn number(text: &str) -> f64 {
    let plain: String = text.chars().filter(|c| *c != ',').collect();
    if plain.is_empty() {
        0.0
    } else {
        plain.parse().unwrap()
    }
}

fn text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

async fn assert_kpi(app: &crate::common::TestApp, token: &str, key: &str, expected: f64) {
    let actual = kpi(app, token, "2026-11", key).await.unwrap_or(f64::NAN);
    assert!(
        close(actual, expected),
        "{key}: {actual} stored, {expected} in the sample"
    );
}

async fn every_shipped_mapping_is_listed(b: Backend) {
    let app = app_with_packs(b).await;
    let (_, token) = editor(&app).await;
    let (status, body) = app.get(Some(&token), "/api/v1/mappings").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for name in [
        "hubspot-contacts",
        "salesforce-leads",
        "salesforce-opportunities",
        "google-ads-campaigns",
        "meta-ads",
        "linkedin-campaigns",
        "ga4-sessions",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let ga4 = body["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "ga4-sessions")
        .unwrap();
    assert_eq!(ga4["table"], "events");
    assert_eq!(ga4["pack"], "connectors");
}

async fn hubspot_contacts_give_the_lifecycle_kpis(b: Backend) {
    let app = app_with_packs(b).await;
    let (_, token) = editor(&app).await;
    let (status, body) = import(
        &app,
        &token,
        "table=leads&mapping=hubspot-contacts",
        fixture("hubspot-contacts.csv"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = records(&text("hubspot-contacts.csv"), b',', 0);
    assert_eq!(body["rows"], json!(rows.len()));
    assert_eq!(body["inserted"], json!(rows.len()));
    let in_november = |column: &str| {
        rows.iter()
            .filter(|r| r[column].starts_with("2026-11"))
            .count() as f64
    };
    assert_kpi(&app, &token, "leads", in_november("Create Date")).await;
    assert_kpi(
        &app,
        &token,
        "mqls",
        in_november("Became a Marketing Qualified Lead Date"),
    )
    .await;
    assert_kpi(
        &app,
        &token,
        "sqls",
        in_november("Became a Sales Qualified Lead Date"),
    )
    .await;
    assert_kpi(
        &app,
        &token,
        "opportunities",
        in_november("Became an Opportunity Date"),
    )
    .await;
    assert_kpi(
        &app,
        &token,
        "customers_won",
        in_november("Became a Customer Date"),
    )
    .await;
    let won: f64 = rows
        .iter()
        .filter(|r| r["Became a Customer Date"].starts_with("2026-11"))
        .map(|r| number(&r["Recent Deal Amount"]))
        .sum();
    assert_kpi(&app, &token, "won_revenue", won).await;
}

async fn salesforce_leads_and_opportunities_give_leads_sqls_wins_and_revenue(b: Backend) {
    let app = app_with_packs(b).await;
    let (_, token) = editor(&app).await;
    for (mapping, file) in [
        ("salesforce-leads", "salesforce-leads.csv"),
        ("salesforce-opportunities", "salesforce-opportunities.csv"),
    ] {
        let (status, body) = import(
            &app,
            &token,
            &format!("table=leads&mapping={mapping}"),
            fixture(file),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{mapping}: {body}");
    }
    // Salesforce writes US dates, M/D/YYYY.
    let november = |date: &str| date.starts_with("11/") && date.ends_with("/2026");
    let leads = records(&text("salesforce-leads.csv"), b',', 0);
    let opps = records(&text("salesforce-opportunities.csv"), b',', 0);
    let created = leads.iter().filter(|r| november(&r["Create Date"])).count()
        + opps.iter().filter(|r| november(&r["Created Date"])).count();
    assert_kpi(&app, &token, "leads", created as f64).await;
    let converted = leads
        .iter()
        .filter(|r| november(&r["Converted Date"]))
        .count();
    assert_kpi(&app, &token, "sqls", converted as f64).await;
    let opened = opps.iter().filter(|r| november(&r["Created Date"])).count();
    assert_kpi(&app, &token, "opportunities", opened as f64).await;
    let closed = |stage: &str| {
        opps.iter()
            .filter(|r| r["Stage"] == stage && november(&r["Close Date"]))
            .collect::<Vec<_>>()
    };
    assert_kpi(
        &app,
        &token,
        "customers_won",
        closed("Closed Won").len() as f64,
    )
    .await;
    assert_kpi(
        &app,
        &token,
        "deals_lost",
        closed("Closed Lost").len() as f64,
    )
    .await;
    let won: f64 = closed("Closed Won")
        .iter()
        .map(|r| number(&r["Amount"]))
        .sum();
    assert_kpi(&app, &token, "won_revenue", won).await;
}

async fn google_ads_meta_and_linkedin_exports_give_ad_spend_impressions_and_clicks(b: Backend) {
    let app = app_with_packs(b).await;
    let (_, token) = editor(&app).await;
    let linkedin_bytes = fixture("linkedin-campaigns.csv");
    // LinkedIn's export is UTF-16 text with tabs.
    assert_eq!(&linkedin_bytes[..2], &[0xFF, 0xFE]);
    let units: Vec<u16> = linkedin_bytes[2..]
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    let linkedin_text = String::from_utf16(&units).unwrap().replace('\r', "");

    let mut spend = 0.0;
    let mut impressions = 0.0;
    let mut clicks = 0.0;
    let google = records(&text("google-ads-campaigns.csv"), b',', 2);
    for r in google.iter().filter(|r| r["Day"].starts_with("2026-11")) {
        spend += number(&r["Cost"]);
        impressions += number(&r["Impr."]);
        clicks += number(&r["Clicks"]);
    }
    let meta = records(&text("meta-ads.csv"), b',', 0);
    for r in meta.iter().filter(|r| r["Day"].starts_with("2026-11")) {
        spend += number(&r["Amount spent (EUR)"]);
        impressions += number(&r["Impressions"]);
        clicks += number(&r["Link clicks"]);
    }
    let linkedin = records(&linkedin_text, b'\t', 4);
    for r in linkedin
        .iter()
        .filter(|r| r["Start Date (in UTC)"].starts_with("11/"))
    {
        spend += number(&r["Total Spent"]);
        impressions += number(&r["Impressions"]);
        clicks += number(&r["Clicks"]);
    }

    for (mapping, bytes, rows) in [
        (
            "google-ads-campaigns",
            fixture("google-ads-campaigns.csv"),
            google.len() - 2,
        ),
        ("meta-ads", fixture("meta-ads.csv"), meta.len()),
        ("linkedin-campaigns", linkedin_bytes, linkedin.len()),
    ] {
        let (status, body) = import(
            &app,
            &token,
            &format!("table=spend&mapping={mapping}"),
            bytes,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{mapping}: {body}");
        // Google's two "Total: …" rows are read and skipped.
        assert_eq!(body["rows"], json!(rows), "{mapping}: {body}");
    }
    assert_kpi(&app, &token, "ad_spend", spend).await;
    assert_kpi(&app, &token, "impressions", impressions).await;
    assert_kpi(&app, &token, "clicks", clicks).await;
}

async fn ga4_sessions_become_visits_with_ids_that_a_second_import_replaces(b: Backend) {
    let app = app_with_packs(b).await;
    let (team, token) = editor(&app).await;
    let rows = records(&text("ga4-sessions.csv"), b',', 0);
    let sessions: u64 = rows
        .iter()
        .map(|r| r["Sessions"].parse::<u64>().unwrap())
        .sum();
    let november: f64 = rows
        .iter()
        .filter(|r| r["Date"].starts_with("202611"))
        .map(|r| number(&r["Sessions"]))
        .sum();
    for (inserted, updated) in [(sessions, 0), (0, sessions)] {
        let (status, body) = import(
            &app,
            &token,
            "table=events&mapping=ga4-sessions",
            fixture("ga4-sessions.csv"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (body["inserted"].as_u64(), body["updated"].as_u64()),
            (Some(inserted), Some(updated)),
            "{body}"
        );
    }
    assert_eq!(app.counts(team).await[2].1, sessions);
    assert_kpi(&app, &token, "visits", november).await;
}
