//! Loading packs from a folder: broken packs and bad declarations reported at their line while
//! good packs still load, duplicate keys, names and tree slugs, folders that are not packs, reserved
//! and malformed keys, and trees and driver trees from their sections.

use std::path::Path;

use super::*;

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
