//! Why KPIs changed: the driver explanations on the report page and in its JSON.

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp, close};

use super::W45;

backend_tests!(the_report_says_why_kpis_changed_by_driver_on_the_page_and_in_json);

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
        sentence.starts_with("Won revenue -29.2%: conversion -"),
        "{sentence}"
    );
    let won = explanation_html(html, "won_revenue");
    assert!(won.contains(&sentence), "{sentence} not in {won}");
    // A bar per part, right of the axis and green for more leads, left and red for the
    // conversion that fell (won revenue is better higher).
    let rows: Vec<&str> = won.split("<tr").skip(2).collect();
    assert_eq!(rows.len(), 4, "the change and three drivers: {won}");
    assert!(rows[0].contains("Won revenue") && rows[0].contains("fill=\"#c8312b\""));
    // Largest effect first: the conversion that fell, then the leads that rose.
    assert!(
        rows[2].contains("leads")
            && rows[2].contains("x=\"100.0\"")
            && rows[2].contains("fill=\"#137a3a\""),
        "{}",
        rows[2]
    );
    assert!(
        rows[1].contains("conversion")
            && !rows[1].contains("x=\"100.0\"")
            && rows[1].contains("fill=\"#c8312b\""),
        "{}",
        rows[1]
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

    // Each driver's own change is the text of its card; the sentence says it, then the
    // driver's effect on the KPI.
    let cards: Vec<&Value> = json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["kpis"].as_array().unwrap())
        .collect();
    assert!(cards.len() > 20, "{json}");
    let card = |key: &str| {
        cards
            .iter()
            .find(|k| k["key"] == key || k["meta"]["key"] == key)
            .map(|k| k["change_display"].as_str().unwrap().to_owned())
    };
    for d in drivers {
        let said = d["sentence"].as_str().unwrap();
        for p in d["parts"].as_array().unwrap() {
            let own = p["change_display"].as_str().unwrap();
            if let Some(card) = card(p["kpi"].as_str().unwrap()) {
                assert_eq!(own, card, "{p}");
            }
            if d["error"].is_null() {
                let part = format!(
                    "{} {own} (→\u{a0}{})",
                    p["label"].as_str().unwrap(),
                    p["effect_display"].as_str().unwrap()
                );
                assert!(said.contains(&part), "{part} not in {said}");
            }
        }
    }
    let cac = drivers.iter().find(|d| d["kpi"] == "cac").unwrap();
    // Fewer customers won (−33.3% on their card) made each one dearer; less spend cheaper.
    assert_eq!(card("customers_won").as_deref(), Some("-33.3%"));
    assert_eq!(card("total_spend").as_deref(), Some("-19.9%"));
    assert_eq!(
        cac["sentence"],
        "Customer acquisition cost +20.2%: customers won -33.3% (→\u{a0}+44.5%), \
         spend -19.9% (→\u{a0}-24.3%)"
    );
    let customers = drivers
        .iter()
        .find(|d| d["kpi"] == "customers_won")
        .unwrap();
    assert!(
        customers["sentence"]
            .as_str()
            .unwrap()
            .starts_with("Customers won -33.3%: MQL→SAL -61.9 pp (→\u{a0}-79.3%), "),
        "{customers}"
    );
    // Six funnel steps: the three largest effects show, the rest fold away.
    let funnel = explanation_html(html, "customers_won");
    assert!(
        funnel.contains("<summary>3 more drivers</summary>"),
        "{funnel}"
    );
    let won_html = explanation_html(html, "won_revenue");
    assert!(!won_html.contains("more driver"), "{won_html}");

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
