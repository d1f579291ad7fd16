//! The real `lodestar` binary: team and token creation, listing and revocation, and a streamed
//! import.

use std::process::Command;

use crate::backend_tests;
use crate::common::{Backend, TestDb};

backend_tests!(replicas_migrating_one_new_database_at_once_all_come_up,);

/// N replicas starting together each run the migrations: every one must come up (exit 0), and
/// the schema must be whole.
async fn replicas_migrating_one_new_database_at_once_all_come_up(b: Backend) {
    let (url, _dir) = TestDb::unmigrated(&b).await;
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_lodestar"))
                .arg("migrate")
                .env("LODESTAR_DATABASE__URL", &url)
                .env("LODESTAR_LOG__FILTER", "warn")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("starting lodestar migrate")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("lodestar migrate");
        assert!(
            out.status.success(),
            "a replica failed to migrate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = json_out(lodestar(&url, &["team", "create", "acme"]));
    assert_eq!(line["team"], "acme");
}

pub(crate) fn lodestar(db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(args)
        .env("LODESTAR_DATABASE__URL", db_url)
        .env("LODESTAR_LOG__FILTER", "warn")
        .output()
        .expect("running lodestar")
}

/// The JSON a command printed, once it is known to have succeeded (else its stderr fails the test).
pub(crate) fn json_out(out: std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[actix_web::test]
async fn team_create_prints_a_token_and_import_loads_a_csv_file_atomically() {
    let tdb = TestDb::new(&Backend::Sqlite).await;
    let line = json_out(lodestar(
        &tdb.url,
        &["team", "create", "acme", "--timezone", "Europe/Berlin"],
    ));
    assert_eq!(line["team"], "acme");
    assert!(line["token"].as_str().unwrap().starts_with("lsk_"));

    // A currency at creation, changed later; a code that is not ISO 4217's shape is refused.
    let line = json_out(lodestar(
        &tdb.url,
        &["team", "create", "bistro", "--currency", "EUR"],
    ));
    assert_eq!(line["team"], "bistro");
    let line = json_out(lodestar(
        &tdb.url,
        &["team", "update", "bistro", "--currency", "gbp"],
    ));
    assert_eq!(
        line,
        serde_json::json!({"team": "bistro", "currency": "GBP"})
    );
    let out = lodestar(
        &tdb.url,
        &["team", "update", "bistro", "--currency", "pounds"],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown currency `pounds`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = lodestar(&tdb.url, &["team", "create", "cafe", "--currency", "€"]);
    assert!(!out.status.success(), "no team without a valid currency");
    let out = lodestar(&tdb.url, &["team", "update", "cafe", "--currency", "EUR"]);
    assert!(!out.status.success(), "and so no team `cafe` to update");

    let out = lodestar(&tdb.url, &["token", "create", "acme", "--role", "viewer"]);
    assert!(out.status.success());
    let out = lodestar(&tdb.url, &["token", "create", "acme", "--role", "boss"]);
    assert!(!out.status.success());
    // clap refuses it, listing the allowed values.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("possible values: admin, editor, viewer")
    );

    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("leads.csv");
    let mut csv = String::from("id,created_at,channel,attrs.region\n");
    for i in 0..2500 {
        csv.push_str(&format!(
            "L{i},2026-11-0{}T10:00:00Z,email,EMEA\n",
            2 + i % 5
        ));
    }
    std::fs::write(&good, &csv).unwrap();
    let summary = json_out(lodestar(
        &tdb.url,
        &[
            "import",
            "leads",
            good.to_str().unwrap(),
            "--team",
            "acme",
            "--json",
        ],
    ));
    assert_eq!(summary["rows"], 2500);
    assert_eq!(summary["inserted"], 2500);

    // A file with one bad row far down imports nothing.
    let bad = dir.path().join("bad.csv");
    csv.push_str("L-bad,not-a-time,email,EMEA\n");
    csv = csv.replace("L0,", "N0,");
    std::fs::write(&bad, &csv).unwrap();
    let out = lodestar(
        &tdb.url,
        &["import", "leads", bad.to_str().unwrap(), "--team", "acme"],
    );
    assert!(!out.status.success());
    // The summary names the line as a spreadsheet shows it: the header is line 1.
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("line 2502, column `created_at`") && summary.contains("1 invalid record"),
        "{summary}"
    );
    let team = lodestar_store::teams::find_by_slug(&tdb.db, "acme")
        .await
        .unwrap()
        .unwrap();
    let counts = lodestar_store::loaded::table_counts(&tdb.db, team.id)
        .await
        .unwrap();
    assert_eq!(counts[0].1, 2500, "the bad file changed nothing");

    // Spend has no rollups: its inserted/updated counts come from a lookup in the same bulk
    // transaction. A second import of the same file updates every row and adds none.
    let spend = dir.path().join("spend.csv");
    std::fs::write(
        &spend,
        "day,channel,campaign,category,amount,impressions,clicks\n\
         2026-11-02,email,nov,advertising,12.50,1000,40\n\
         2026-11-02,email,nov,tools,3,0,0\n\
         2026-11-03,seo,,content,7.25,,\n",
    )
    .unwrap();
    for (inserted, updated) in [(3, 0), (0, 3)] {
        let summary = json_out(lodestar(
            &tdb.url,
            &[
                "import",
                "spend",
                spend.to_str().unwrap(),
                "--team",
                "acme",
                "--json",
            ],
        ));
        assert_eq!(
            (summary["inserted"].as_u64(), summary["updated"].as_u64()),
            (Some(inserted), Some(updated))
        );
    }
    let counts = lodestar_store::loaded::table_counts(&tdb.db, team.id)
        .await
        .unwrap();
    assert_eq!(counts[1].1, 3);

    let json = dir.path().join("events.json");
    std::fs::write(
        &json,
        r#"[{"id":"e1","kind":"visit","occurred_at":"2026-11-02T10:00:00Z"},
            {"id":"e2","kind":"demo_booked","occurred_at":"2026-11-02T11:00:00Z","lead_id":"L1"}]"#,
    )
    .unwrap();
    // Twice: the second import reads back the events it replaces, in the same transaction.
    for (inserted, updated) in [(2, 0), (0, 2)] {
        let summary = json_out(lodestar(
            &tdb.url,
            &[
                "import",
                "events",
                json.to_str().unwrap(),
                "--team",
                "acme",
                "--json",
            ],
        ));
        assert_eq!(
            (summary["inserted"].as_u64(), summary["updated"].as_u64()),
            (Some(inserted), Some(updated))
        );
    }
    let out = lodestar(
        &tdb.url,
        &[
            "import",
            "events",
            json.to_str().unwrap(),
            "--team",
            "nobody",
        ],
    );
    assert!(!out.status.success());
}

#[actix_web::test]
async fn token_list_shows_a_teams_tokens_and_token_revoke_ends_one() {
    let tdb = TestDb::new(&Backend::Sqlite).await;
    let admin = json_out(lodestar(&tdb.url, &["team", "create", "acme"]))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ci = json_out(lodestar(
        &tdb.url,
        &[
            "token",
            "create",
            "acme",
            "--role",
            "viewer",
            "--label",
            "CI dashboard",
        ],
    ))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    json_out(lodestar(&tdb.url, &["team", "create", "other"]));

    let out = lodestar(&tdb.url, &["token", "list", "acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("LAST USED"),
        "{table}"
    );
    assert!(
        lines[1].contains("admin") && lines[1].contains("never"),
        "{table}"
    );
    assert!(
        lines[2].contains("viewer")
            && lines[2].contains("active")
            && lines[2].contains("CI dashboard"),
        "{table}"
    );
    for secret in [&admin, &ci] {
        assert!(!table.contains(secret.as_str()));
        assert!(!table.contains(&lodestar_store::tokens::hash_token(secret)));
    }

    let listed = json_out(lodestar(&tdb.url, &["token", "list", "acme", "--json"]));
    assert_eq!(listed["team"], "acme");
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[1]["label"], "CI dashboard");
    assert_eq!(tokens[1]["revoked"], false);
    let id = tokens[1]["id"].as_i64().unwrap();
    assert!(!listed.to_string().contains(&ci));

    assert!(
        lodestar_store::tokens::authenticate(&tdb.db, &ci)
            .await
            .unwrap()
            .is_some()
    );
    let revoked = json_out(lodestar(
        &tdb.url,
        &["token", "revoke", "acme", &id.to_string()],
    ));
    assert_eq!(revoked["token"]["id"], id);
    assert_eq!(revoked["token"]["revoked"], true);
    assert!(
        lodestar_store::tokens::authenticate(&tdb.db, &ci)
            .await
            .unwrap()
            .is_none(),
        "a revoked token opens nothing"
    );
    let listed = json_out(lodestar(&tdb.url, &["token", "list", "acme", "--json"]));
    assert_eq!(listed["tokens"][1]["revoked"], true);
    let table = String::from_utf8(lodestar(&tdb.url, &["token", "list", "acme"]).stdout).unwrap();
    assert!(table.contains("revoked 20"), "{table}");

    // Another team's token, an unknown id or team: refused, naming what is wrong.
    for (args, says) in [
        (
            vec!["token", "revoke", "other", &id.to_string()],
            "no token",
        ),
        (vec!["token", "revoke", "acme", "999999"], "no token"),
        (vec!["token", "list", "nobody"], "no team `nobody`"),
    ] {
        let out = lodestar(&tdb.url, &args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn a_bad_configuration_value_stops_start_up_naming_the_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(["migrate"])
        .env("LODESTAR_SERVER__BIND", "not-an-address")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LODESTAR_SERVER__BIND"), "{err}");
}

#[test]
fn kpi_check_reports_errors_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.rhai");
    std::fs::write(&good, "ratio(metric(\"sqls\"), metric(\"leads\")) * 100\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(["kpi", "check", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = dir.path().join("bad.rhai");
    std::fs::write(&bad, "let a = 1;\nlet b = (a + ;\nb\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(["kpi", "check", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2:", bad.display())), "{err}");
}
