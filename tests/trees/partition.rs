//! The partition check of segment sets on the small fixture: rows, gaps, overlaps and sums, with
//! the expected counts computed here from the fixture files, not through SQL.

use std::collections::BTreeMap;

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, FixtureTeam, TestApp, close};

use super::{Fixture, W44_END, W44_START, field};

backend_tests!(the_partition_check_counts_gaps_overlaps_and_sums_as_the_fixture_says);

/// (rows, gap, overlap, gap ids) of `rows` for segments given as predicates.
fn by_hand(
    rows: &[&Value],
    id: impl Fn(&Value) -> String,
    segments: &[&dyn Fn(&Value) -> bool],
) -> (u64, u64, u64, Vec<String>) {
    let mut gap = 0;
    let mut overlap = 0;
    let mut gap_ids = Vec::new();
    for row in rows {
        let n = segments.iter().filter(|s| s(row)).count();
        if n == 0 {
            gap += 1;
            gap_ids.push(id(row));
        }
        if n > 1 {
            overlap += 1;
        }
    }
    gap_ids.sort();
    (rows.len() as u64, gap, overlap, gap_ids)
}

fn table<'a>(check: &'a Value, name: &str) -> &'a Value {
    check["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == name)
        .unwrap_or_else(|| panic!("no table {name} in {check}"))
}

fn counts(t: &Value) -> (u64, u64, u64) {
    (
        t["rows"].as_u64().unwrap(),
        t["gap"].as_u64().unwrap(),
        t["overlap"].as_u64().unwrap(),
    )
}

async fn the_partition_check_counts_gaps_overlaps_and_sums_as_the_fixture_says(b: Backend) {
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(b).await;
    let fx = Fixture::load();
    let ext_id = |r: &Value| r["id"].as_str().unwrap().to_owned();

    // Overlapping: EMEA leads from paid channels that were not imported are in both segments.
    let mixed = json!({"segments": [
        {"name": "EU", "filter": {"attrs.region": {"in": ["EMEA", "EU"]}}},
        {"name": "Paid", "filter": {"channel": {"in": ["paid_search", "social"]}, "source": {"ne": "import"}}}
    ]});
    let (status, body) = app
        .send("PUT", Some(&token), "/api/v1/segments/mixed", Some(&mixed))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let eu = |r: &Value| matches!(field(r, "attrs.region"), Some("EMEA" | "EU"));
    let paid = |r: &Value| {
        matches!(field(r, "channel"), Some("paid_search" | "social"))
            && field(r, "source") != Some("import")
    };
    let (status, check) = app
        .get(Some(&token), "/api/v1/segments/mixed/check?period=2026-W44")
        .await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["period"]["start"], W44_START);
    assert_eq!(check["period"]["end"], W44_END);
    let want = by_hand(&fx.leads_in(), ext_id, &[&eu, &paid]);
    let leads = table(&check, "leads");
    assert_eq!(counts(leads), (want.0, want.1, want.2));
    assert!(
        want.1 > 0 && want.2 > 0,
        "the fixture must exercise both: {want:?}"
    );
    let shown: Vec<String> = leads["gap_examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shown, want.3[..want.3.len().min(5)]);
    for e in leads["overlap_examples"].as_array().unwrap() {
        assert_eq!(e["segments"], json!(["EU", "Paid"]));
    }
    // Events have no source, spend no region: both unsupported, and the reason says why.
    let unsupported: BTreeMap<&str, &str> = check["unsupported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["table"].as_str().unwrap(), u["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(unsupported["events"], "events has no dimension source");
    assert_eq!(unsupported["spend"], "spend has no dimension attrs.region");
    let created = fx.leads_created();
    let total = created.len() as f64;
    let sum = created.iter().filter(|r| eu(r)).count() as f64
        + created.iter().filter(|r| paid(r)).count() as f64;
    let leads_sum = check["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["measure"] == "leads")
        .unwrap();
    assert_eq!(leads_sum["total"].as_f64().unwrap(), total);
    assert_eq!(leads_sum["segments_sum"].as_f64().unwrap(), sum);
    assert_eq!(leads_sum["sums_match"], json!(sum == total));
    assert_eq!(check["partition"], false);

    // Gapped: two channels of five, on every table (channel is everywhere).
    let gapped = json!({"segments": [
        {"name": "Email", "filter": {"channel": "email"}},
        {"name": "Social", "filter": {"channel": {"in": ["social"]}}}
    ]});
    let (status, _) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/segments/gapped",
            Some(&gapped),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let email = |r: &Value| field(r, "channel") == Some("email");
    let social = |r: &Value| field(r, "channel") == Some("social");
    let (_, check) = app
        .get(
            Some(&token),
            "/api/v1/segments/gapped/check?period=2026-W44",
        )
        .await;
    assert_eq!(check["unsupported"], json!([]));
    let want = by_hand(&fx.leads_in(), ext_id, &[&email, &social]);
    assert_eq!(counts(table(&check, "leads")), (want.0, want.1, 0));
    let want = by_hand(&fx.events_in(), ext_id, &[&email, &social]);
    assert_eq!(counts(table(&check, "events")), (want.0, want.1, 0));
    let shown: Vec<&str> = table(&check, "events")["gap_examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(shown, want.3[..5]);
    // Each example names the values that leave it out.
    for e in table(&check, "events")["gap_examples"].as_array().unwrap() {
        let row = fx.events.iter().find(|r| r["id"] == e["id"]).unwrap();
        match field(row, "channel") {
            Some(c) => assert_eq!(e["values"], json!({"channel": c}), "{e}"),
            None => assert_eq!(e["values"], json!({}), "{e}"),
        }
    }
    // Checked without saving (the editor's draft check): the same answer, nothing stored.
    let (status, draft) = app
        .send(
            "POST",
            Some(&token),
            "/api/v1/segments/check?period=2026-W44&name=gapped",
            Some(&gapped),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    assert_eq!(draft, check);
    let (status, bad) = app
        .send(
            "POST",
            Some(&token),
            "/api/v1/segments/check",
            Some(&json!({"segments": [{"name": "A", "filter": {"colour": "red"}}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(bad["field"], "segments[0].filter.colour", "{bad}");
    let spend_key = |r: &Value| r["day"].as_str().unwrap().to_owned();
    let want = by_hand(&fx.spend_in(), spend_key, &[&email, &social]);
    assert_eq!(counts(table(&check, "spend")), (want.0, want.1, 0));
    assert!(want.1 > 0);
    assert_eq!(check["partition"], false);

    // A true partition: every channel value, and the missing one.
    let mut segments: Vec<Value> = ["email", "social", "organic", "paid_search", "events"]
        .iter()
        .map(|c| json!({"name": c, "filter": {"channel": c}}))
        .collect();
    segments.push(json!({"name": "No channel", "filter": {"channel": {"is_missing": true}}}));
    let (status, _) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/segments/channels",
            Some(&json!({ "segments": segments })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, check) = app
        .get(
            Some(&token),
            "/api/v1/segments/channels/check?period=2026-W44",
        )
        .await;
    assert_eq!(check["partition"], true, "{check}");
    for (name, rows) in [
        ("leads", fx.leads_in().len()),
        ("events", fx.events_in().len()),
        ("spend", fx.spend_in().len()),
    ] {
        assert_eq!(counts(table(&check, name)), (rows as u64, 0, 0), "{name}");
    }
    let measures = check["measures"].as_array().unwrap();
    assert!(measures.len() >= 15, "{check}");
    for m in measures {
        assert_eq!(m["sums_match"], true, "{m}");
    }
    let spend_total: f64 = fx
        .spend_in()
        .iter()
        .map(|s| s["amount"].as_f64().unwrap())
        .sum();
    let total_spend = measures
        .iter()
        .find(|m| m["measure"] == "total_spend")
        .unwrap();
    assert!(close(total_spend["total"].as_f64().unwrap(), spend_total));

    // Definitions are validated, listed, scoped to the team and deletable.
    let (status, bad) = app
        .send(
            "PUT",
            Some(&token),
            "/api/v1/segments/bad",
            Some(&json!({"segments": [{"name": "x", "filter": {"attrs.a'b": "y"}}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["field"], "segments[0].filter.attrs.a'b");
    let (_, list) = app.get(Some(&token), "/api/v1/segments").await;
    assert_eq!(list["sets"].as_array().unwrap().len(), 3);
    let (_, stored) = app.get(Some(&token), "/api/v1/segments/mixed").await;
    assert_eq!(stored["segments"], mixed["segments"]);
    let (_, stranger) = app.team("stranger", "UTC", Role::Editor).await;
    let (status, _) = app
        .get(
            Some(&stranger),
            "/api/v1/segments/mixed/check?period=2026-W44",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .send("DELETE", Some(&token), "/api/v1/segments/gapped", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(Some(&token), "/api/v1/segments/gapped").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
