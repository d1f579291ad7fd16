//! `segment_by=set:…`: segmenting by a set gives what filtering the fixture by hand gives.

use std::collections::{BTreeMap, HashMap};

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, FixtureTeam, TestApp, close};

use super::{Fixture, field};

backend_tests!(segmenting_by_a_set_gives_what_filtering_by_hand_gives);

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn same(a: &Value, b: &Value) -> bool {
    match (num(a), num(b)) {
        (Some(x), Some(y)) => close(x, y),
        (None, None) => a.is_null() && b.is_null(),
        _ => false,
    }
}

async fn segmenting_by_a_set_gives_what_filtering_by_hand_gives(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let fx = Fixture::load();
    let one = json!({"segments": [{"name": "Email", "filter": {"channel": "email"}}]});
    let (status, _) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/segments/email-only",
            Some(&one),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, by_set) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W44&segment_by=set:email-only",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{by_set}");
    assert_eq!(by_set["segment_by"], "set:email-only");
    let (_, by_channel) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W44&segment_by=channel",
        )
        .await;
    let channel: HashMap<&str, &Value> = by_channel["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["key"].as_str().unwrap(), k))
        .collect();
    let mut compared = 0;
    for k in by_set["kpis"].as_array().unwrap() {
        let key = k["key"].as_str().unwrap();
        let segs = k["segments"]
            .as_array()
            .unwrap_or_else(|| panic!("{key}: {k}"));
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0]["segment"], "Email");
        let email = channel[key]["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["segment"] == "email")
            .unwrap();
        assert!(
            same(&segs[0]["value"], &email["value"]),
            "{key}: {} vs {}",
            segs[0],
            email
        );
        assert!(
            same(&segs[0]["previous"], &email["previous"]),
            "{key}: {} vs {}",
            segs[0],
            email
        );
        assert!(same(&k["value"], &channel[key]["value"]), "{key} total");
        compared += 1;
    }
    assert_eq!(compared, lodestar_core::catalog::Builtin::ALL.len());

    // An overlapping set: each segment counts its own rows; spend KPIs cannot be split by it.
    let mixed = json!({"segments": [
        {"name": "EU", "filter": {"attrs.region": "EMEA"}},
        {"name": "Not imported", "filter": {"source": {"ne": "import"}}}
    ]});
    let (status, _) = app
        .send("PUT", Some(&token), "/api/v1/segments/mixed", Some(&mixed))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, result) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W44&segment_by=set:mixed&keys=leads,customers_won,cpl",
        )
        .await;
    let created = fx.leads_created();
    let won: Vec<&Value> = fx
        .leads
        .iter()
        .filter(|l| fx.within(&l["won_at"]))
        .collect();
    let count =
        |rows: &[&Value], f: &dyn Fn(&Value) -> bool| rows.iter().filter(|r| f(r)).count() as f64;
    let emea = |r: &Value| field(r, "attrs.region") == Some("EMEA");
    let not_imported = |r: &Value| field(r, "source") != Some("import");
    let segs = |k: usize| -> BTreeMap<String, f64> {
        result["kpis"][k]["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["segment"].as_str().unwrap().to_owned(),
                    s["value"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        segs(0),
        BTreeMap::from([
            ("EU".to_owned(), count(&created, &emea)),
            ("Not imported".to_owned(), count(&created, &not_imported)),
        ])
    );
    assert_eq!(
        segs(1),
        BTreeMap::from([
            ("EU".to_owned(), count(&won, &emea)),
            ("Not imported".to_owned(), count(&won, &not_imported)),
        ])
    );
    assert!(result["kpis"][2]["segments"].is_null());
    assert_eq!(
        result["kpis"][2]["unsupported"],
        "cpl needs spend, which has no dimension attrs.region (read by segment set mixed)"
    );

    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W44&segment_by=set:nope",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no segment set `nope`"),
        "{body}"
    );
}
