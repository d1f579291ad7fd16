//! Driver attribution: the drivers' contributions add up to the change on the fixture.

use std::collections::BTreeSet;

use awc::http::StatusCode;

use crate::backend_tests;
use crate::common::{Backend, FixtureTeam, TestApp, close};

backend_tests!(driver_attribution_adds_up_to_the_change_on_the_fixture);

async fn driver_attribution_adds_up_to_the_change_on_the_fixture(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let (status, e) = app
        .get(Some(&token), "/api/v1/drivers/won_revenue?period=2026-W44")
        .await;
    assert_eq!(status, StatusCode::OK, "{e}");
    // The identity leads × conversion_rate / 100 × avg_deal_size = won_revenue holds for the
    // built-in definitions, so nothing blocks the attribution.
    assert!(e["error"].is_null(), "{e}");
    assert!(close(e["value"].as_f64().unwrap(), 19567.76));
    let change = e["change"].as_f64().unwrap();
    assert!(close(
        change,
        e["value"].as_f64().unwrap() - e["previous"].as_f64().unwrap()
    ));
    let parts = e["parts"].as_array().unwrap();
    let mut keys: Vec<&str> = parts.iter().map(|p| p["kpi"].as_str().unwrap()).collect();
    // Largest effect first.
    let sizes: Vec<f64> = parts
        .iter()
        .map(|p| p["contribution"].as_f64().unwrap().abs())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    keys.sort_unstable();
    assert_eq!(keys, ["avg_deal_size", "conversion_rate", "leads"]);
    let sum: f64 = parts
        .iter()
        .map(|p| p["contribution"].as_f64().unwrap())
        .sum();
    assert!(
        (sum - change).abs() <= 1e-9 * change.abs().max(1.0),
        "{sum} vs {change}"
    );
    let pct: f64 = parts
        .iter()
        .map(|p| p["contribution_pct"].as_f64().unwrap())
        .sum();
    assert!((pct - e["change_pct"].as_f64().unwrap()).abs() < 1e-9);
    let leads = parts.iter().find(|p| p["kpi"] == "leads").unwrap();
    assert_eq!(leads["value"], 17);
    assert_eq!(leads["previous"], 18);
    // The driver's own change is its card's text; its effect follows the arrow.
    assert_eq!(leads["change_display"], "-5.6%");
    let sentence = e["sentence"].as_str().unwrap();
    assert!(sentence.starts_with("Won revenue "), "{sentence}");
    assert!(
        sentence.contains("leads -5.6% (→\u{a0}-")
            && sentence.contains("conversion")
            && sentence.contains("deal size"),
        "{sentence}"
    );

    // Every driver tree of every week of the fixture: attributed ones add up, blocked ones say why.
    let mut attributed = BTreeSet::new();
    for week in 38..=48 {
        let (status, all) = app
            .get(
                Some(&token),
                &format!("/api/v1/drivers?period=2026-W{week}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        for e in all["explanations"].as_array().unwrap() {
            match e["error"].as_str() {
                None => {
                    let change = e["change"].as_f64().unwrap();
                    let sum: f64 = e["parts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["contribution"].as_f64().unwrap())
                        .sum();
                    assert!((sum - change).abs() <= 1e-9 * change.abs().max(1.0), "{e}");
                    attributed.insert(e["kpi"].as_str().unwrap().to_owned());
                }
                Some(why) => {
                    assert!(why.starts_with("cannot attribute: "), "{e}");
                    assert!(e["sentence"].as_str().unwrap().contains(why));
                }
            }
        }
    }
    for kpi in [
        "won_revenue",
        "revenue",
        "customers_won",
        "cac",
        "roas",
        "leads",
    ] {
        assert!(
            attributed.contains(kpi),
            "{kpi} never attributed: {attributed:?}"
        );
    }
    let (status, _) = app
        .get(Some(&token), "/api/v1/drivers/nps?period=2026-W44")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
