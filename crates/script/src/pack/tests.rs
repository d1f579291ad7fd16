use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::data::ScriptContext;
use crate::testing::FakeData;

fn shipped_dir() -> PathBuf {
    Path::new(&manifest_dir()).join("../../scripts")
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create the pack folder");
    }
    fs::write(path, text).expect("write a pack file");
}

const GOOD_KPI: &str = r#"
[[kpi]]
key = "double_leads"
name = "Double leads"
unit = "count"
direction = "higher_is_better"
kind = "leading"
category = "Lead volume & quality"
script = "double.rhai"
"#;

fn good_pack(dir: &Path, folder: &str, pack_name: &str) {
    write(
        &dir.join(folder).join("plugin.toml"),
        &format!("[pack]\nname = \"{pack_name}\"\nversion = \"0.1.0\"\n{GOOD_KPI}"),
    );
    write(
        &dir.join(folder).join("double.rhai"),
        "metric(\"leads\") * 2\n",
    );
}

fn kpi_entry(key: &str, unit: &str, script: &str) -> String {
    format!(
        "[[kpi]]\nkey = \"{key}\"\nname = \"{key}\"\nunit = \"{unit}\"\ndirection = \"lower_is_better\"\nkind = \"trailing\"\ncategory = \"Cost efficiency\"\nscript = \"{script}\"\n"
    )
}

fn week() -> ScriptContext {
    ScriptContext {
        period_key: "2026-11".into(),
        period_days: 30,
        segment: None,
    }
}

#[test]
fn the_shipped_pack_loads_with_no_problems() {
    let engine = ScriptEngine::default();
    let set = load_packs(&shipped_dir(), &engine);
    assert_eq!(set.problems, vec![], "{:#?}", set.problems);
    assert_eq!(set.packs.len(), 1);
    let pack = &set.packs[0];
    assert_eq!(
        (pack.name.as_str(), pack.version.as_str()),
        ("lead-gen-extras", "1.0.0")
    );
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
fn a_broken_pack_is_reported_while_a_good_pack_still_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    good_pack(root, "b-good", "good");
    write(
        &root.join("a-bad-toml/plugin.toml"),
        "[pack]\nname = \"bad\"\nversion = \"1\"\n\n[[kpi]]\nkey = = 3\n",
    );
    // One KPI that does not compile, one fine: the fine one still loads.
    write(
        &root.join("c-mixed/plugin.toml"),
        &format!(
            "[pack]\nname = \"mixed\"\nversion = \"1\"\n{}{}",
            kpi_entry("broken_kpi", "currency", "broken.rhai"),
            kpi_entry("fine_kpi", "currency", "fine.rhai"),
        ),
    );
    write(
        &root.join("c-mixed/broken.rhai"),
        "let spend = metric(\"total_spend\");\nratio(spend, ])\n",
    );
    write(&root.join("c-mixed/fine.rhai"), "metric(\"total_spend\")\n");

    let set = load_packs(root, &ScriptEngine::default());

    assert_eq!(
        set.keys().into_iter().collect::<Vec<_>>(),
        ["double_leads", "fine_kpi"]
    );
    assert_eq!(set.problems.len(), 2, "{:#?}", set.problems);

    let toml = &set.problems[0];
    assert_eq!(toml.pack, "a-bad-toml");
    assert_eq!(toml.file, root.join("a-bad-toml/plugin.toml"));
    assert_eq!(toml.line, Some(6));
    assert!(toml.column.is_some());

    let compile = &set.problems[1];
    assert_eq!(compile.pack, "c-mixed");
    assert_eq!(compile.kpi.as_deref(), Some("broken_kpi"));
    assert_eq!(compile.file, root.join("c-mixed/broken.rhai"));
    assert_eq!((compile.line, compile.column), (Some(2), Some(14)));
    assert_eq!(
        compile.to_string(),
        format!("{}:2:14: {}", compile.file.display(), compile.message)
    );
}

#[test]
fn bad_kpi_declarations_are_reported_at_their_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let plugin = format!(
        "[pack]\nname = \"checks\"\nversion = \"1\"\n\n{}{}{}{}{}{}\n[[tree]]\nname = \"later\"\n",
        kpi_entry("Bad-Key", "count", "x.rhai"),
        kpi_entry("bad_unit", "furlongs", "x.rhai"),
        kpi_entry("missing_file", "count", "nowhere.rhai"),
        kpi_entry("escapes", "count", "../../etc/passwd"),
        kpi_entry("twice", "count", "x.rhai"),
        kpi_entry("twice", "count", "x.rhai"),
    );
    write(&root.join("checks/plugin.toml"), &plugin);
    write(&root.join("checks/x.rhai"), "1\n");
    let set = load_packs(root, &ScriptEngine::default());

    assert_eq!(set.keys().into_iter().collect::<Vec<_>>(), ["twice"]);
    let messages: Vec<(Option<&str>, Option<usize>, &str)> = set
        .problems
        .iter()
        .map(|p| (p.kpi.as_deref(), p.line, p.message.as_str()))
        .collect();
    // The last problem is the `[[tree]]` without slug or title: trees are read, not ignored.
    assert_eq!(messages.len(), 6, "{messages:#?}");
    assert_eq!(messages[5].1, Some(54));
    assert!(
        messages[5].2.contains("unknown field `name`"),
        "{messages:#?}"
    );
    assert_eq!(messages[0].0, Some("Bad-Key"));
    assert_eq!(messages[0].1, Some(5));
    assert!(messages[0].2.contains("must be lowercase"), "{messages:#?}");
    assert_eq!(messages[1].0, Some("bad_unit"));
    assert!(messages[1].2.contains("furlongs"), "{messages:#?}");
    assert_eq!(messages[2].0, Some("missing_file"));
    assert!(messages[2].2.starts_with("cannot read"), "{messages:#?}");
    assert_eq!(messages[3].0, Some("escapes"));
    assert!(
        messages[3].2.contains("inside the pack folder"),
        "{messages:#?}"
    );
    assert_eq!(messages[4].0, Some("twice"));
    assert!(messages[4].2.contains("declared twice"), "{messages:#?}");
}

#[test]
fn a_key_declared_by_two_packs_loads_from_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    good_pack(dir.path(), "one", "one");
    good_pack(dir.path(), "two", "two");
    let set = load_packs(dir.path(), &ScriptEngine::default());
    assert_eq!(set.kpi("double_leads").expect("loaded").pack, "one");
    assert_eq!(set.packs.len(), 2);
    assert!(set.packs[1].kpis.is_empty());
    assert_eq!(set.problems.len(), 1);
    assert_eq!(set.problems[0].pack, "two");
    assert!(
        set.problems[0]
            .message
            .contains("already declared by pack `one`")
    );
}

#[test]
fn two_packs_with_one_name_load_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    good_pack(dir.path(), "one", "same");
    write(
        &dir.path().join("two/plugin.toml"),
        "[pack]\nname = \"same\"\nversion = \"2\"\n",
    );
    let set = load_packs(dir.path(), &ScriptEngine::default());
    assert_eq!(set.packs.len(), 1);
    assert!(set.problems[0].message.contains("already used"));
}

#[test]
fn folders_without_a_plugin_file_are_not_packs() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("notes/readme.txt"), "hello");
    write(&dir.path().join("README.md"), "# packs");
    good_pack(dir.path(), ".hidden", "hidden");
    let set = load_packs(dir.path(), &ScriptEngine::default());
    assert!(set.packs.is_empty() && set.problems.is_empty());
}

#[test]
fn a_missing_packs_folder_is_one_problem() {
    let set = load_packs(Path::new("/nonexistent/scripts"), &ScriptEngine::default());
    assert!(set.packs.is_empty());
    assert_eq!(set.problems.len(), 1);
}

#[test]
fn a_kpi_with_a_built_in_key_is_reported_when_keys_are_reserved() {
    let dir = tempfile::tempdir().expect("tempdir");
    good_pack(dir.path(), "one", "one");
    let reserved = ["double_leads".to_string()].into_iter().collect();
    let set = load_packs(dir.path(), &ScriptEngine::default()).without_reserved(&reserved);
    assert!(set.kpi("double_leads").is_none());
    assert_eq!(set.problems[0].kpi.as_deref(), Some("double_leads"));
    assert!(set.problems[0].message.contains("built-in"));
}

#[test]
fn kpi_keys_follow_their_pattern() {
    assert!(is_valid_kpi_key("gross_roi"));
    assert!(is_valid_kpi_key("a"));
    assert!(is_valid_kpi_key(&format!("a{}", "b".repeat(63))));
    assert!(!is_valid_kpi_key(&format!("a{}", "b".repeat(64))));
    assert!(!is_valid_kpi_key(""));
    assert!(!is_valid_kpi_key("9lives"));
    assert!(!is_valid_kpi_key("_x"));
    assert!(!is_valid_kpi_key("Gross"));
    assert!(!is_valid_kpi_key("gross-roi"));
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
fn trees_and_driver_trees_load_from_their_sections_and_bad_ones_are_reported_at_their_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = format!(
        r#"[pack]
name = "trees"
version = "0.1.0"
{GOOD_KPI}
[[tree]]
slug = "funnel"
title = "Funnel"
[[tree.branch]]
title = "Top"
kpis = ["leads", "double_leads"]
[[tree.branch.branch]]
title = "Quality"
kpis = ["mqls"]

[[tree]]
slug = "Not A Slug"
title = "Broken"

[[driver]]
kpi = "double_leads"
scale = 2.0
factors = [{{ kpi = "leads" }}]

[[driver]]
kpi = "revenue_split"
factors = [{{ kpi = "leads" }}]
terms = [{{ kpi = "mqls" }}]
"#
    );
    write(&dir.path().join("p").join("plugin.toml"), &plugin);
    write(
        &dir.path().join("p").join("double.rhai"),
        "metric(\"leads\") * 2\n",
    );
    let set = load_packs(dir.path(), &ScriptEngine::default());
    let trees: Vec<_> = set.trees().collect();
    assert_eq!(trees.len(), 1);
    assert_eq!(trees[0].slug, "funnel");
    assert_eq!(trees[0].branches[0].branches[0].kpis, ["mqls"]);
    let drivers: Vec<_> = set.drivers().collect();
    assert_eq!(drivers.len(), 1);
    assert_eq!(drivers[0].kpi, "double_leads");
    assert_eq!(drivers[0].scale, 2.0);
    let lines: Vec<_> = set
        .problems
        .iter()
        .map(|p| (p.line, p.message.clone()))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0].0, Some(24));
    assert!(lines[0].1.contains("tree slug `Not A Slug`"), "{lines:?}");
    assert_eq!(lines[1].0, Some(33));
    assert!(lines[1].1.contains("either `factors`"), "{lines:?}");
    // The KPIs of the pack are unaffected by its broken trees.
    assert!(set.kpi("double_leads").is_some());
}

#[test]
fn a_tree_slug_declared_by_two_packs_loads_from_the_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (folder, name) in [("a", "first"), ("b", "second")] {
        write(
            &dir.path().join(folder).join("plugin.toml"),
            &format!(
                "[pack]\nname = \"{name}\"\nversion = \"1\"\n[[tree]]\nslug = \"t\"\ntitle = \"{name}\"\n"
            ),
        );
    }
    let set = load_packs(dir.path(), &ScriptEngine::default());
    let titles: Vec<_> = set.trees().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["first"]);
    assert_eq!(set.problems.len(), 1);
    assert!(
        set.problems[0]
            .message
            .contains("already declared by pack `first`")
    );
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

/// A pack with one `[[kpi]]` per `(key, unit, direction, kind)`, the values written as TOML.
fn declarations(root: &Path, entries: &[(&str, &str, &str, &str)]) -> PackSet {
    let mut plugin = String::from("[pack]\nname = \"p\"\nversion = \"1\"\n");
    for (key, unit, direction, kind) in entries {
        plugin.push_str(&format!(
            "[[kpi]]\nkey = \"{key}\"\nname = \"n\"\nunit = {unit}\ndirection = {direction}\nkind = {kind}\ncategory = \"c\"\nscript = \"x.rhai\"\n"
        ));
    }
    write(&root.join("p/plugin.toml"), &plugin);
    write(&root.join("p/x.rhai"), "1\n");
    load_packs(root, &ScriptEngine::default())
}

#[test]
fn every_unit_direction_and_kind_of_the_catalog_parses_from_plugin_toml() {
    let dir = tempfile::tempdir().expect("tempdir");
    let units = [
        ("count", Unit::Count),
        ("currency", Unit::Currency),
        ("percent", Unit::Percent),
        ("ratio", Unit::Ratio),
        ("days", Unit::Days),
        ("score", Unit::Score),
    ];
    let directions = [
        ("higher_is_better", Direction::HigherIsBetter),
        ("lower_is_better", Direction::LowerIsBetter),
    ];
    let kinds = [("leading", Kind::Leading), ("trailing", Kind::Trailing)];
    let mut expected = Vec::new();
    for (u, (unit_name, unit)) in units.iter().enumerate() {
        for (d, (direction_name, direction)) in directions.iter().enumerate() {
            for (k, (kind_name, kind)) in kinds.iter().enumerate() {
                expected.push((
                    format!("k_{u}_{d}_{k}"),
                    format!("\"{unit_name}\""),
                    format!("\"{direction_name}\""),
                    format!("\"{kind_name}\""),
                    (*unit, *direction, *kind),
                ));
            }
        }
    }
    let entries: Vec<(&str, &str, &str, &str)> = expected
        .iter()
        .map(|(key, u, d, k, _)| (key.as_str(), u.as_str(), d.as_str(), k.as_str()))
        .collect();
    let set = declarations(dir.path(), &entries);

    assert!(set.problems.is_empty(), "{:#?}", set.problems);
    assert_eq!(set.kpis().count(), 24);
    for (key, _, _, _, (unit, direction, kind)) in &expected {
        let meta = &set.kpi(key).expect("declared KPI loaded").meta;
        assert_eq!(
            (meta.unit, meta.direction, meta.kind),
            (*unit, *direction, *kind)
        );
    }
    // The names read are the names the catalog writes (JSON, the catalog page), both ways.
    for (name, unit) in units {
        assert_eq!(toml::Value::try_from(unit).ok(), Some(name.into()));
    }
    for (name, direction) in directions {
        assert_eq!(toml::Value::try_from(direction).ok(), Some(name.into()));
    }
    for (name, kind) in kinds {
        assert_eq!(toml::Value::try_from(kind).ok(), Some(name.into()));
    }
}

#[test]
fn a_bad_unit_direction_or_kind_is_reported_with_the_names_it_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = declarations(
        dir.path(),
        &[
            ("a", "\"furlongs\"", "\"higher_is_better\"", "\"leading\""),
            ("b", "\"count\"", "\"up\"", "\"leading\""),
            ("c", "\"count\"", "\"higher_is_better\"", "\"sideways\""),
            ("d", "3", "\"higher_is_better\"", "\"leading\""),
            ("e", "\"count\"", "true", "\"leading\""),
            ("f", "\"Count\"", "\"higher_is_better\"", "\"leading\""),
            ("g", "\"count\"", "\"lower_is_better\"", "\"trailing\""),
        ],
    );
    let messages: Vec<&str> = set.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "[[kpi]] a: unknown variant `furlongs`, expected one of `count`, `currency`, `percent`, `ratio`, `days`, `score`",
            "[[kpi]] b: unknown variant `up`, expected one of `higher_is_better`, `lower_is_better`, `neutral`",
            "[[kpi]] c: unknown variant `sideways`, expected `leading` or `trailing`",
            "[[kpi]] d: invalid type: integer `3`, expected string or map",
            "[[kpi]] e: invalid type: boolean `true`, expected string or map",
            "[[kpi]] f: unknown variant `Count`, expected one of `count`, `currency`, `percent`, `ratio`, `days`, `score`",
        ]
    );
    assert_eq!(set.keys().into_iter().collect::<Vec<_>>(), ["g"]);
    assert_eq!(set.problems[0].line, Some(4));
}

/// Read at run time: `env!` bakes in the checkout that compiled the test binary.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
}
