//! Trees on the pages: the tree page with values, findings and explanations, and a report
//! organised by a tree (its branches as sections; an unknown tree named).

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp, close};

use super::expected;

backend_tests!(
    the_tree_page_shows_values_findings_and_explanations,
    a_report_organised_by_a_tree_follows_its_branches_and_names_an_unknown_tree,
);

async fn the_tree_page_shows_values_findings_and_explanations(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    // Sign in through the form, as a browser does.
    let mut browser = Browser::new(&app);
    browser.sign_in(&token, "/trees/default").await;
    let (status, html) = browser
        .get("/trees/default?period=2026-W44")
        .await
        .status_and_body();
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Passes: every KPI"), "{html}");
    let row = &html[html.find("data-kpi=\"leads\"").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("data-label=\"Value\">17</td>")
            && row.contains("data-label=\"Previous\">18</td>")
            && row.contains("-5.6%"),
        "{row}"
    );
    assert!(
        html.contains("Won revenue "),
        "the driver sentences are on the page"
    );

    let (status, _) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/trees/small",
            Some(&json!({"title": "Small <tree>", "branches": [{"title": "Only", "kpis": ["leads", "leads"]}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, html) = browser
        .get("/trees/small?period=2026-W44")
        .await
        .status_and_body();
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Small &#60;tree&#62;"), "titles are escaped");
    assert!(
        html.contains("data-rule=\"overlap\"") && html.contains("data-rule=\"gap\""),
        "{html}"
    );
    let (status, _) = browser.get("/trees/nope").await.status_and_body();
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// (section title, KPI keys) of a report's JSON.
fn sections_of(report: &Value) -> Vec<(String, Vec<String>)> {
    report["sections"]
        .as_array()
        .unwrap_or_else(|| panic!("no sections in {report}"))
        .iter()
        .map(|s| {
            (
                s["title"].as_str().unwrap().to_owned(),
                s["kpis"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["key"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

async fn a_report_organised_by_a_tree_follows_its_branches_and_names_an_unknown_tree(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let money = json!({"title": "Money", "branches": [
        {"title": "Revenue", "kpis": ["revenue"], "branches": [
            {"title": "Won", "kpis": ["won_revenue", "avg_deal_size"]}
        ]},
        {"title": "Spend", "branches": [{"title": "Cost", "kpis": ["cac", "cpl"]}]}
    ]});
    let (status, body) = app
        .send("PUT", Some(&token), "/api/v1/trees/money", Some(&money))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A stored definition names the tree; its sections follow the branches, at any depth, and
    // every KPI the tree leaves out is under "Other".
    let (status, def) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/reports/by-money",
            Some(&json!({"title": "By money", "tree": "money"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{def}");
    assert_eq!(def["tree"], "money");
    let (status, report) = app
        .get(Some(&token), "/api/v1/reports/by-money?period=2026-W45")
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["definition"]["tree"], "money");
    let sections = sections_of(&report);
    let titles: Vec<&str> = sections.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        ["Revenue", "Revenue / Won", "Spend / Cost", "Other"]
    );
    assert_eq!(sections[0].1, ["revenue"]);
    assert_eq!(sections[1].1, ["won_revenue", "avg_deal_size"]);
    assert_eq!(sections[2].1, ["cac", "cpl"]);
    let mut all: Vec<&str> = sections
        .iter()
        .flat_map(|(_, keys)| keys.iter().map(String::as_str))
        .collect();
    let builtins = lodestar_core::catalog::Builtin::ALL.len();
    assert_eq!(sections[3].1.len(), builtins - 5);
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), builtins, "each KPI exactly once, none hidden");
    assert!(close(
        report["sections"][1]["kpis"][0]["value"].as_f64().unwrap(),
        expected("2026-W45", "won_revenue")
    ));

    // `?tree=` organises any report so, on the page and as JSON; the links keep it.
    let (status, weekly) = app
        .get(
            Some(&token),
            "/api/v1/reports/weekly?period=2026-W45&tree=money",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{weekly}");
    assert_eq!(sections_of(&weekly), sections);
    let (_, plain) = app
        .get(Some(&token), "/api/v1/reports/weekly?period=2026-W45")
        .await;
    assert_eq!(
        sections_of(&plain)[0].0,
        "Reach & activity",
        "the cached report without a tree is a report of its own"
    );
    let mut browser = Browser::new(&app);
    let home = browser.sign_in(&token, "/").await.body;
    assert!(home.contains("all KPIs · tree money"), "{home}");
    let (status, html) = browser
        .get("/reports/weekly?period=2026-W45&tree=money")
        .await
        .status_and_body();
    assert_eq!(status, StatusCode::OK, "{html}");
    let mut at = 0;
    for heading in [
        "Revenue <span",
        "Revenue / Won <span",
        "Spend / Cost <span",
        "Other <span",
    ] {
        at += html[at..]
            .find(heading)
            .unwrap_or_else(|| panic!("{heading} missing or out of order"));
    }
    assert!(
        html.contains("href=\"/reports/weekly?period=2026-W44&amp;tree=money\"")
            || html.contains("href=\"/reports/weekly?period=2026-W44&#38;tree=money\""),
        "{html}"
    );
    assert!(html.contains("name=\"tree\" value=\"money\""), "{html}");

    // Unknown trees are named: in the query (400), in a definition (422), and a stored
    // definition whose tree was deleted (404).
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/reports/weekly?period=2026-W45&tree=nope",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("`nope`"),
        "{body}"
    );
    let (status, html) = browser
        .get("/reports/weekly?period=2026-W45&tree=nope")
        .await
        .status_and_body();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("nope"), "{html}");
    let (status, body) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/reports/by-nothing",
            Some(&json!({"tree": "nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "tree");
    assert!(
        body["message"].as_str().unwrap().contains("`nope`"),
        "{body}"
    );

    // Replacing the tree changes the report at once (the cache keys on the data version).
    let (status, _) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/trees/money",
            Some(
                &json!({"title": "Money", "branches": [{"title": "Takings", "kpis": ["revenue"]}]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, report) = app
        .get(Some(&token), "/api/v1/reports/by-money?period=2026-W45")
        .await;
    let titles: Vec<String> = sections_of(&report).into_iter().map(|(t, _)| t).collect();
    assert_eq!(titles, ["Takings", "Other"]);

    let (status, _) = app
        .send("DELETE", Some(&token), "/api/v1/trees/money", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .get(Some(&token), "/api/v1/reports/by-money?period=2026-W45")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("`by-money`") && message.contains("`money`"),
        "{body}"
    );
    let (status, html) = browser
        .get("/reports/by-money?period=2026-W45")
        .await
        .status_and_body();
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("money"), "{html}");
}
