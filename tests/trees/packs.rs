//! Trees and driver trees shipped in a KPI pack reach the API.

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::json;

use crate::backend_tests;
use crate::common::{Backend, TestApp};

use super::rules;

backend_tests!(trees_and_driver_trees_of_a_pack_reach_the_api);

async fn trees_and_driver_trees_of_a_pack_reach_the_api(b: Backend) {
    let packs = tempfile::tempdir().unwrap();
    let dir = packs.path().join("per-lead");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("plugin.toml"),
        r#"[pack]
name = "per-lead"
version = "1.0.0"

[[kpi]]
key = "rpl"
name = "Revenue per lead"
unit = "currency"
direction = "higher_is_better"
kind = "trailing"
category = "Per lead"
script = "rpl.rhai"

[[tree]]
slug = "per-lead"
title = "Per lead"
[[tree.branch]]
title = "Inputs"
kpis = ["revenue", "leads"]
[[tree.branch.branch]]
title = "Result"
kpis = ["rpl"]

[[driver]]
kpi = "rpl"
factors = [{ kpi = "revenue" }, { kpi = "leads", power = -1, label = "lead count" }]
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("rpl.rhai"),
        "ratio(metric(\"revenue\"), metric(\"leads\"))\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(b, |s| {
        s.scripts.packs_dir = Some(packs.path().to_path_buf());
    })
    .await;
    let (_, token) = app.team("nyc", "America/New_York", Role::Editor).await;
    app.load_fixture(&token).await;

    let (_, list) = app.get(Some(&token), "/api/v1/trees").await;
    let trees = list["trees"].as_array().unwrap();
    assert_eq!(trees.len(), 2, "{list}");
    assert_eq!(trees[1]["slug"], "per-lead");
    assert_eq!(
        trees[1]["source"],
        json!({"type": "pack", "pack": "per-lead"})
    );
    // The default tree gives the pack's KPI a branch of its category, so it still passes.
    let default_branches = trees[0]["branches"].as_array().unwrap();
    assert_eq!(default_branches.last().unwrap()["title"], "Per lead");
    assert_eq!(default_branches.last().unwrap()["kpis"], json!(["rpl"]));
    let (_, check) = app.get(Some(&token), "/api/v1/trees/default/check").await;
    assert_eq!(check["passes"], true, "{check}");
    let (_, check) = app.get(Some(&token), "/api/v1/trees/per-lead/check").await;
    assert_eq!(check["source"]["type"], "pack");
    let gaps = rules(&check)
        .into_iter()
        .filter(|(r, _)| r == "gap")
        .count();
    let builtins = lodestar_core::catalog::Builtin::ALL.len();
    assert_eq!(
        gaps,
        builtins + 1 - 3,
        "every KPI but the three in it: {check}"
    );
    let (_, tree) = app.get(Some(&token), "/api/v1/trees/per-lead").await;
    assert_eq!(
        tree["sections"],
        json!([
            {"path": "Inputs", "title": "Inputs", "depth": 0, "kind": null, "kpis": ["revenue", "leads"]},
            {"path": "Inputs / Result", "title": "Result", "depth": 1, "kind": null, "kpis": ["rpl"]}
        ])
    );

    let (status, e) = app
        .get(Some(&token), "/api/v1/drivers/rpl?period=2026-W44")
        .await;
    assert_eq!(status, StatusCode::OK, "{e}");
    assert!(e["error"].is_null(), "{e}");
    assert_eq!(e["parts"][1]["label"], "lead count");
    assert_eq!(e["parts"][1]["power"], -1);
    let sum: f64 = e["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["contribution"].as_f64().unwrap())
        .sum();
    let change = e["change"].as_f64().unwrap();
    assert!((sum - change).abs() <= 1e-9 * change.abs().max(1.0), "{e}");
    // Fewer leads (18 → 17) raise revenue per lead: that part is positive.
    assert!(e["parts"][1]["contribution"].as_f64().unwrap() > 0.0, "{e}");
}
