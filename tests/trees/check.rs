//! The structure check: trees built to break each rule, each finding named; the default tree
//! passes.

use std::collections::BTreeMap;

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, TestApp};

use super::rules;

backend_tests!(the_structure_check_finds_each_broken_rule_and_the_default_tree_passes);

async fn the_structure_check_finds_each_broken_rule_and_the_default_tree_passes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, token) = app.team("acme", "UTC", Role::Editor).await;
    let (_, other) = app.team("other", "UTC", Role::Editor).await;

    let (status, check) = app.get(Some(&token), "/api/v1/trees/default/check").await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["passes"], true, "{check}");
    assert_eq!(check["findings"], json!([]));

    // CPA is the same formula as CAC: a custom script saying so is a duplicate.
    let (status, body) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/kpis/custom/cpa",
            Some(&json!({"name": "Cost per acquisition", "unit": "currency",
                         "direction": "lower_is_better", "category": "Cost efficiency",
                         "kind": "trailing",
                         "script": "// cost per acquisition\nmetric(\"total_spend\") / metric(\"customers_won\")"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, check) = app.get(Some(&token), "/api/v1/trees/default/check").await;
    let found = rules(&check);
    assert_eq!(found.len(), 1, "{check}");
    assert_eq!(found[0].0, "duplicate");
    assert_eq!(found[0].1["kpis"], json!(["cac", "cpa"]));
    assert!(
        found[0].1["message"]
            .as_str()
            .unwrap()
            .contains("cac and cpa")
    );

    // A tree breaking every other rule, built from the default one.
    let (status, default) = app.get(Some(&token), "/api/v1/trees/default").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(default["source"]["type"], "builtin");
    let mut branches = default["branches"].as_array().unwrap().clone();
    assert_eq!(
        branches[3]["kpis"].as_array().unwrap().last().unwrap(),
        "cpa"
    );
    branches[2]["branches"] = json!([{"title": "Top", "kpis": ["leads", "nonsense"]}]);
    let retention: Vec<Value> = branches[4]["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| *k != "nps")
        .cloned()
        .collect();
    branches[4]["kpis"] = json!(retention);
    branches.push(json!({"title": "Later", "branches": [{"title": "Someday"}]}));
    let (status, saved) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/trees/broken",
            Some(&json!({"title": "Broken on purpose", "branches": branches})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["check"]["passes"], false);

    let (status, check) = app.get(Some(&token), "/api/v1/trees/broken/check").await;
    assert_eq!(status, StatusCode::OK);
    let found: BTreeMap<String, Value> = rules(&check).into_iter().collect();
    assert_eq!(found.len(), 5, "{check}");
    assert_eq!(found["overlap"]["kpi"], "leads");
    assert_eq!(
        found["overlap"]["branches"],
        json!(["Lead volume & quality", "Conversion / Top"])
    );
    assert_eq!(found["unknown_kpi"]["kpi"], "nonsense");
    assert_eq!(found["unknown_kpi"]["branch"], "Conversion / Top");
    assert_eq!(found["gap"]["kpi"], "nps");
    assert_eq!(found["duplicate"]["kpis"], json!(["cac", "cpa"]));
    assert_eq!(found["empty_branch"]["branch"], "Later");
    for f in found.values() {
        assert!(!f["message"].as_str().unwrap().is_empty());
    }

    // The same tree checked without saving it (as the editor does) finds the same, and
    // saves nothing.
    let draft = json!({"title": "Broken, not saved", "branches": branches});
    let (status, unsaved) = app
        .send("POST", Some(&token), "/api/v1/trees/check", Some(&draft))
        .await;
    assert_eq!(status, StatusCode::OK, "{unsaved}");
    assert_eq!(unsaved["findings"], check["findings"]);
    assert_eq!(unsaved["source"], json!({"type": "draft"}));
    assert_eq!(unsaved["passes"], false);
    let (_, list) = app.get(Some(&token), "/api/v1/trees").await;
    assert_eq!(list["trees"].as_array().unwrap().len(), 2, "{list}");
    // Each team's own KPIs: the other team has no `cpa`, so no duplicate there.
    let (_, theirs) = app
        .send("POST", Some(&other), "/api/v1/trees/check", Some(&draft))
        .await;
    let theirs: BTreeMap<String, Value> = rules(&theirs).into_iter().collect();
    assert!(!theirs.contains_key("duplicate"), "{theirs:?}");
    let (status, bad) = app
        .send(
            "POST",
            Some(&token),
            "/api/v1/trees/check",
            Some(&json!({"title": " ", "branches": []})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(bad["field"], "title", "{bad}");
    let (status, bad) = app
        .send(
            "POST",
            Some(&token),
            "/api/v1/trees/check",
            Some(&json!({"title": "x", "branches": [{"title": "A", "kpis": ["leads"], "colour": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    // Listing, replacing, tenancy, deleting.
    let (_, list) = app.get(Some(&token), "/api/v1/trees").await;
    let slugs: Vec<&str> = list["trees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["default", "broken"]);
    let (status, again) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/trees/broken",
            Some(&json!({"title": "Still broken", "branches": [{"title": "All", "kpis": ["leads"]}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["version"], 2);
    let (status, _) = app.get(Some(&other), "/api/v1/trees/broken").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .send("DELETE", Some(&other), "/api/v1/trees/broken", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, bad) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/trees/Bad%20Slug",
            Some(&json!({"title": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (status, bad) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/trees/blank",
            Some(&json!({"title": "x", "branches": [{"title": " "}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (status, _) = app
        .send("DELETE", Some(&token), "/api/v1/trees/broken", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(Some(&token), "/api/v1/trees/broken/check").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .send("DELETE", Some(&token), "/api/v1/trees/default", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
