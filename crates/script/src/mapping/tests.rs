#![allow(clippy::unwrap_used)]

use std::fs;

use super::*;
use crate::pack::load_packs;

fn pack_with(plugin: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, crate::PackSet) {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("p");
    fs::create_dir_all(&pack).unwrap();
    fs::write(
        pack.join("plugin.toml"),
        format!("[pack]\nname = \"p\"\nversion = \"1\"\n{plugin}"),
    )
    .unwrap();
    for (name, text) in files {
        fs::write(pack.join(name), text).unwrap();
    }
    let engine = ScriptEngine::default();
    let set = load_packs(dir.path(), &engine);
    (dir, set)
}

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|h| (*h).to_owned()).collect()
}

#[test]
fn a_column_map_converts_dates_numbers_and_values() {
    let (_dir, set) = pack_with(
        r#"
[[mapping]]
name = "crm"
table = "leads"
header = ["Lead ID", "Created", "Amount (*)"]
timezone = "Europe/Berlin"
formats = ["%d.%m.%Y %H:%M", "%d.%m.%Y"]
decimal = ","
[mapping.columns]
id = "Lead ID"
created_at = "Created"
value = "Amount (*)"
channel = { column = "Source", values = { "Paid Search" = "paid_search" } }
campaign = { value = "import" }
"attrs.origin" = { template = "crm-{Lead ID}" }
"#,
        &[],
    );
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    let mapping = set.mapping("crm").unwrap();
    let file = headers(&["Lead ID", "Created", "Amount (EUR)", "Source"]);
    assert!(mapping.matches(&file));
    let engine = ScriptEngine::default();
    let bound = mapping.bind(&engine, &file).unwrap();
    let budget = import_budget();
    let rows = bound
        .map(
            &engine,
            &["L-1", "03.11.2026 10:00", "1.234,50", "Paid Search"],
            &budget,
        )
        .unwrap();
    let row: BTreeMap<_, _> = rows[0].fields.iter().zip(&rows[0].values).collect();
    assert_eq!(row[&"created_at".to_owned()], "2026-11-03T09:00:00Z");
    assert_eq!(row[&"value".to_owned()], "1234.50");
    assert_eq!(row[&"channel".to_owned()], "paid_search");
    assert_eq!(row[&"campaign".to_owned()], "import");
    assert_eq!(row[&"attrs.origin".to_owned()], "crm-L-1");

    let errors = bound
        .map(&engine, &["L-2", "yesterday", "12", ""], &budget)
        .unwrap_err();
    assert_eq!(errors[0].column.as_deref(), Some("Created"));
    assert_eq!(errors[0].field, "created_at");

    let problems = mapping
        .bind(&engine, &headers(&["Lead ID", "Creatd", "Amount (USD)"]))
        .err()
        .unwrap();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].message.contains("did you mean `Creatd`"),
        "{problems:?}"
    );
}

#[test]
fn a_script_mapping_may_skip_split_or_fail_a_row_and_loops_stop_at_their_line() {
    let script = r#"
fn map_row(row) {
    if row["Kind"] == "total" { return (); }
    if row["Kind"] == "split" {
        return [#{ id: "a", kind: "visit", occurred_at: row.Day },
                #{ id: "b", kind: "visit", occurred_at: row.Day }];
    }
    if row["Kind"] == "loop" {
        let n = 0;
        loop { n += 1; }
    }
    if row["Kind"] == "throw" { throw "bad row"; }
    #{ id: row.Day, kind: "visit", occurred_at: row.Day }
}
"#;
    let (_dir, set) = pack_with(
        r#"
[[mapping]]
name = "s"
table = "events"
header = ["Day", "Kind"]
formats = ["%Y%m%d"]
script = "s.rhai"
"#,
        &[("s.rhai", script)],
    );
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    let engine = ScriptEngine::default();
    let bound = set
        .mapping("s")
        .unwrap()
        .bind(&engine, &headers(&["Day", "Kind"]))
        .unwrap();
    let budget = import_budget();
    assert!(
        bound
            .map(&engine, &["20261103", "total"], &budget)
            .unwrap()
            .is_empty()
    );
    let split = bound.map(&engine, &["20261103", "split"], &budget).unwrap();
    assert_eq!(split.len(), 2);
    assert!(split[0].values.contains(&"2026-11-03T00:00:00Z".to_owned()));
    let looped = bound
        .map(&engine, &["20261103", "loop"], &budget)
        .unwrap_err();
    // Stopped by the operation limit, or by the time limit on a busy machine.
    assert!(
        looped[0].message.contains("map_row (line 2): stopped"),
        "{looped:?}"
    );
    let thrown = bound
        .map(&engine, &["20261103", "throw"], &budget)
        .unwrap_err();
    assert!(thrown[0].message.contains("line 12"), "{thrown:?}");
}

#[test]
fn broken_mapping_declarations_are_reported_at_their_line() {
    let (_dir, set) = pack_with(
        r#"
[[mapping]]
name = "no-table"
table = "deals"
header = ["A"]
columns = { id = "A" }

[[mapping]]
name = "typo"
table = "leads"
header = ["A"]
columns = { crated_at = "A" }

[[mapping]]
name = "no-fn"
table = "leads"
header = ["A"]
script = "x.rhai"
"#,
        &[("x.rhai", "1 + 1")],
    );
    assert_eq!(set.mappings().count(), 0);
    let text: Vec<String> = set.problems.iter().map(|p| p.to_string()).collect();
    assert!(
        text[0].contains(":5:1: [[mapping]] no-table: table `deals`"),
        "{text:?}"
    );
    assert!(text[1].contains("did you mean `created_at`"), "{text:?}");
    assert!(
        text[2].contains("x.rhai: a mapping script must define fn map_row(row)"),
        "{text:?}"
    );
}
