//! A KPI's unit, direction and kind in plugin.toml: every value of the catalog parses, and a bad
//! one is reported with the names it accepts.

use std::path::Path;

use super::*;

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
