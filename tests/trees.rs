//! MECE KPI trees end to end: the structure check on trees built to break each rule, the
//! partition check of segment sets on the small fixture (expected counts computed here from the
//! fixture files, not through SQL), `segment_by=set:…` against filtering by hand, driver
//! attribution that adds up on the fixture, and the tree page.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use awc::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp, close, read_fixture};

backend_tests!(
    the_structure_check_finds_each_broken_rule_and_the_default_tree_passes,
    the_partition_check_counts_gaps_overlaps_and_sums_as_the_fixture_says,
    segmenting_by_a_set_gives_what_filtering_by_hand_gives,
    driver_attribution_adds_up_to_the_change_on_the_fixture,
    the_tree_page_shows_values_findings_and_explanations,
    trees_and_driver_trees_of_a_pack_reach_the_api,
    a_report_organised_by_a_tree_follows_its_branches_and_names_an_unknown_tree,
);

fn rules(check: &Value) -> Vec<(String, Value)> {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap().to_owned(), f.clone()))
        .collect()
}

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

/// The fixture's rows and the instants of 2026-W44 in its timezone, read independently of the
/// server.
struct Fixture {
    leads: Vec<Value>,
    events: Vec<Value>,
    spend: Vec<Value>,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
}

const W44_START: &str = "2026-10-26T04:00:00Z";
const W44_END: &str = "2026-11-02T05:00:00Z";

impl Fixture {
    fn load() -> Fixture {
        let rows = |name: &str| read_fixture(name).as_array().unwrap().clone();
        Fixture {
            leads: rows("leads.json"),
            events: rows("events.json"),
            spend: rows("spend.json"),
            lo: W44_START.parse().unwrap(),
            hi: W44_END.parse().unwrap(),
        }
    }

    fn within(&self, v: &Value) -> bool {
        v.as_str()
            .map(|t| t.parse::<DateTime<Utc>>().unwrap())
            .is_some_and(|t| t >= self.lo && t < self.hi)
    }

    /// Leads with any lifecycle timestamp in the week.
    fn leads_in(&self) -> Vec<&Value> {
        const TIMES: [&str; 8] = [
            "created_at",
            "mql_at",
            "sal_at",
            "sql_at",
            "opportunity_at",
            "won_at",
            "lost_at",
            "churned_at",
        ];
        self.leads
            .iter()
            .filter(|l| TIMES.iter().any(|t| self.within(&l[*t])))
            .collect()
    }

    fn leads_created(&self) -> Vec<&Value> {
        self.leads
            .iter()
            .filter(|l| self.within(&l["created_at"]))
            .collect()
    }

    fn events_in(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| self.within(&e["occurred_at"]))
            .collect()
    }

    fn spend_in(&self) -> Vec<&Value> {
        let first = NaiveDate::from_ymd_opt(2026, 10, 26).unwrap();
        let end = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        self.spend
            .iter()
            .filter(|s| {
                let day: NaiveDate = s["day"].as_str().unwrap().parse().unwrap();
                day >= first && day < end
            })
            .collect()
    }
}

/// A field as the spec reads it: missing or empty is `None`.
fn field<'a>(row: &'a Value, name: &str) -> Option<&'a str> {
    let v = match name.strip_prefix("attrs.") {
        Some(key) => &row["attrs"][key],
        None => &row[name],
    };
    v.as_str().filter(|s| !s.is_empty())
}

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
    let keys: Vec<&str> = parts.iter().map(|p| p["kpi"].as_str().unwrap()).collect();
    assert_eq!(keys, ["leads", "conversion_rate", "avg_deal_size"]);
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
    assert_eq!(parts[0]["value"], 17);
    assert_eq!(parts[0]["previous"], 18);
    let sentence = e["sentence"].as_str().unwrap();
    assert!(sentence.starts_with("Won revenue "), "{sentence}");
    assert!(
        sentence.contains(": leads −")
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
        row.contains("<td>17</td>") && row.contains("<td>18</td>") && row.contains("-5.6%"),
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

/// The fixture's expected value of `key` in `period` (no segmentation).
fn expected(period: &str, key: &str) -> f64 {
    crate::common::expected_kpis(period)[key].as_f64().unwrap()
}

/// `+5.1%`, `−12.0%` (a real minus sign) or `±0.0%`, as sentences write a share.
fn signed_pct(x: f64) -> String {
    let text = format!("{:.1}", x.abs());
    match text.as_str() {
        "0.0" => "±0.0%".to_owned(),
        _ if x < 0.0 => format!("−{text}%"),
        _ => format!("+{text}%"),
    }
}

/// The sentence explaining won revenue from `previous` to `period`, computed here from the
/// fixture's expected values with the LMDI formula (L(v₁, v₀) · ln(x₁ / x₀) per driver, in
/// percent of v₀), not by the server.
pub(crate) fn won_revenue_sentence(period: &str, previous: &str) -> String {
    let (v1, v0) = (
        expected(period, "won_revenue"),
        expected(previous, "won_revenue"),
    );
    let log_mean = (v1 - v0) / (v1 / v0).ln();
    let parts: Vec<String> = [
        ("leads", "leads"),
        ("conversion_rate", "conversion"),
        ("avg_deal_size", "deal size"),
    ]
    .iter()
    .map(|(key, label)| {
        let ratio = expected(period, key) / expected(previous, key);
        let share = log_mean * ratio.ln() / v0 * 100.0;
        format!("{label} {}", signed_pct(share))
    })
    .collect();
    format!(
        "Won revenue {}: {}",
        signed_pct((v1 - v0) / v0 * 100.0),
        parts.join(", ")
    )
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
