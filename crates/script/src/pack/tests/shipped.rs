//! The shipped pack and the scripts README: the pack loads with no problems, each KPI gives the
//! hand-computed value (undefined on a zero denominator), and the README's examples run and load.

use std::fs;

use super::*;
use crate::data::ScriptContext;
use crate::testing::FakeData;

#[test]
fn the_shipped_packs_load_with_no_problems() {
    let engine = ScriptEngine::default();
    let set = load_packs(&shipped_dir(), &engine);
    assert_eq!(set.problems, vec![], "{:#?}", set.problems);
    let names: Vec<(&str, &str)> = set
        .packs
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(
        names,
        [("connectors", "1.0.0"), ("lead-gen-extras", "1.0.0")]
    );
    // The connectors pack holds mappings only; its mappings' files are tested end to end.
    assert!(set.packs[0].kpis.is_empty());
    assert_eq!(set.mappings().count(), 7);
    assert_eq!(
        set.keys().into_iter().collect::<Vec<_>>(),
        [
            "cost_per_opportunity",
            "demo_bookings",
            "gross_roi",
            "leads_per_sale",
            "mql_velocity",
            "qualified_lead_ratio",
            "revenue_per_lead",
        ]
    );
    let roi = set.kpi("gross_roi").expect("gross_roi");
    assert_eq!(roi.meta.unit, Unit::Percent);
    assert_eq!(roi.meta.direction, Direction::HigherIsBetter);
    assert_eq!(roi.meta.kind, Kind::Trailing);
    assert_eq!(roi.meta.category, "Cost efficiency");
    assert_eq!(roi.pack, "lead-gen-extras");
    assert!(roi.source.contains("ratio("));
}

#[test]
fn each_shipped_kpi_gives_the_hand_computed_value() {
    let engine = ScriptEngine::default();
    let set = load_packs(&shipped_dir(), &engine);
    let mut data = FakeData::with_metrics(&[
        ("revenue", 12_000.0),
        ("total_spend", 4_000.0),
        ("leads", 48.0),
        ("customers_won", 6.0),
        ("sqls", 18.0),
        ("mqls", 30.0),
        ("opportunities", 10.0),
    ]);
    data.previous.insert("mqls".into(), Some(24.0));
    data.events.insert("demo_booked".into(), (7.0, 0.0));
    let expected = [
        ("gross_roi", 300.0),            // 12,000 / 4,000 × 100
        ("revenue_per_lead", 250.0),     // 12,000 / 48
        ("leads_per_sale", 8.0),         // 48 / 6
        ("qualified_lead_ratio", 37.5),  // 18 / 48 × 100
        ("mql_velocity", 25.0),          // (30 − 24) / 24 × 100
        ("cost_per_opportunity", 400.0), // 4,000 / 10
        ("demo_bookings", 7.0),
    ];
    for (key, value) in expected {
        let kpi = set.kpi(key).expect("shipped");
        let outcome = engine.run(&kpi.script, &week(), &data);
        assert_eq!(outcome.error, None, "{key}");
        let got = outcome.value.expect("a value");
        assert!((got - value).abs() < 1e-9, "{key}: {got} != {value}");
    }
}

#[test]
fn shipped_kpis_are_undefined_on_a_zero_denominator() {
    let engine = ScriptEngine::default();
    let set = load_packs(&shipped_dir(), &engine);
    let mut data = FakeData::with_metrics(&[
        ("revenue", 0.0),
        ("total_spend", 0.0),
        ("leads", 0.0),
        ("customers_won", 0.0),
        ("sqls", 0.0),
        ("mqls", 5.0),
        ("opportunities", 0.0),
    ]);
    data.previous.insert("mqls".into(), Some(0.0));
    for key in [
        "gross_roi",
        "revenue_per_lead",
        "leads_per_sale",
        "qualified_lead_ratio",
        "mql_velocity",
        "cost_per_opportunity",
    ] {
        let outcome = engine.run(&set.kpi(key).expect("shipped").script, &week(), &data);
        assert_eq!((outcome.value, outcome.error), (None, None), "{key}");
    }
    // An undefined previous value (a KPI with no data) is no different.
    data.previous.insert("mqls".into(), None);
    let velocity = set.kpi("mql_velocity").expect("shipped");
    assert_eq!(engine.run(&velocity.script, &week(), &data).value, None);
}

#[test]
fn every_example_in_the_scripts_readme_runs() {
    let readme = fs::read_to_string(shipped_dir().join("README.md")).expect("README");
    let examples: Vec<&str> = readme
        .split("```rust\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    assert!(examples.len() >= 7, "found {} examples", examples.len());
    let engine = ScriptEngine::default();
    let mut data = FakeData::with_metrics(&[
        ("revenue", 12_000.0),
        ("total_spend", 4_000.0),
        ("leads", 48.0),
        ("customers_won", 6.0),
        ("won_revenue", 9_000.0),
        ("mqls", 30.0),
    ]);
    data.previous.insert("mqls".into(), Some(24.0));
    data.events.insert("demo_booked".into(), (4.0, 2_000.0));
    let ctx = ScriptContext {
        segment: Some("email".into()),
        ..week()
    };
    for example in examples {
        let script = engine
            .compile(example)
            .unwrap_or_else(|e| panic!("{e}\n{example}"));
        let outcome = engine.run(&script, &ctx, &data);
        assert_eq!(outcome.error, None, "{example}");
        assert!(outcome.value.is_some(), "{example}");
    }
}

#[test]
fn the_tree_and_driver_examples_in_the_scripts_readme_load() {
    let readme = fs::read_to_string(shipped_dir().join("README.md")).expect("README");
    let example = readme
        .split("```toml\n")
        .filter_map(|rest| rest.split("```").next())
        .find(|block| block.contains("[[tree]]"))
        .expect("a tree example");
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        &dir.path().join("p").join("plugin.toml"),
        &format!("[pack]\nname = \"p\"\nversion = \"1\"\n{example}"),
    );
    let set = load_packs(dir.path(), &ScriptEngine::default());
    assert_eq!(set.problems, vec![]);
    assert_eq!(set.trees().count(), 1);
    assert_eq!(set.drivers().count(), 2);
}

#[test]
fn the_mapping_examples_in_the_scripts_readme_load_and_map() {
    let readme = fs::read_to_string(shipped_dir().join("README.md")).expect("README");
    let block = |fence: &str, needle: &str| {
        readme
            .split(fence)
            .filter_map(|rest| rest.split("```").next())
            .find(|b| b.contains(needle))
            .unwrap_or_else(|| panic!("no {fence} block with {needle}"))
            .to_owned()
    };
    let columns = block("```toml\n", "[[mapping]]");
    let script = block("```rhai\n", "map_row");
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        &dir.path().join("p").join("plugin.toml"),
        &format!(
            "[pack]\nname = \"p\"\nversion = \"1\"\n{columns}\n\
             [[mapping]]\nname = \"ads\"\ntable = \"spend\"\nheader = [\"Day\"]\nscript = \"ads.rhai\"\n"
        ),
    );
    write(&dir.path().join("p").join("ads.rhai"), &script);
    let engine = ScriptEngine::default();
    let set = load_packs(dir.path(), &engine);
    assert_eq!(set.problems, vec![]);
    let budget = crate::mapping::import_budget();
    let headers: Vec<String> = ["Lead ID", "Created", "Amount (EUR)", "Source", "Region"]
        .map(String::from)
        .to_vec();
    let bound = set
        .mapping("crm-leads")
        .expect("crm-leads")
        .bind(&engine, &headers);
    let rows = bound
        .expect("binds")
        .map(
            &engine,
            &["7", "03.11.2026 10:00", "1.234,50", "Paid Search", "EMEA"],
            &budget,
        )
        .expect("maps");
    let row: Vec<(&str, &str)> = rows[0]
        .fields
        .iter()
        .map(String::as_str)
        .zip(rows[0].values.iter().map(String::as_str))
        .collect();
    assert!(row.contains(&("id", "crm-7")), "{row:?}");
    assert!(
        row.contains(&("created_at", "2026-11-03T09:00:00Z")),
        "{row:?}"
    );
    assert!(row.contains(&("value", "1234.50")), "{row:?}");
    assert!(row.contains(&("channel", "paid_search")), "{row:?}");
    let headers: Vec<String> = ["Day", "Campaign", "Cost"].map(String::from).to_vec();
    let ads = set
        .mapping("ads")
        .expect("ads")
        .bind(&engine, &headers)
        .expect("binds");
    assert!(
        ads.map(&engine, &["Total: Account", "", "9"], &budget)
            .expect("skips")
            .is_empty()
    );
    assert_eq!(
        ads.map(&engine, &["2026-11-03", "Brand", "12.5"], &budget)
            .expect("maps")
            .len(),
        1
    );
}
