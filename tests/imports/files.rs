//! Files as people have them: semicolons and decimal commas, byte order marks, Excel's UTF-16;
//! dry runs that store nothing; problems at their line and column; rejects; failing scripts.

use awc::http::StatusCode;
use serde_json::json;

use super::{app_with_packs, editor, import, kpi};
use crate::backend_tests;
use crate::cli::{json_out, lodestar};
use crate::common::{Backend, TestApp, TestDb, close};

backend_tests!(
    semicolons_decimal_commas_boms_and_utf16_all_load,
    a_dry_run_stores_nothing_and_shows_rows_problems_and_matching_mappings,
    a_bad_header_is_reported_once_with_did_you_mean,
    a_bad_row_stores_nothing_and_the_loading_api_names_its_line,
    skip_invalid_loads_the_good_rows_and_writes_exactly_the_bad_ones,
    a_looping_or_failing_mapping_script_is_stopped_with_its_line,
);

fn utf16(text: &str, little: bool) -> Vec<u8> {
    let mut out = if little {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for unit in text.encode_utf16() {
        out.extend(if little {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    out
}

async fn semicolons_decimal_commas_boms_and_utf16_all_load(b: Backend) {
    let app = app_with_packs(b).await;
    let (team, token) = editor(&app).await;
    // A Meta export saved by a German spreadsheet: semicolons, decimal commas, thousands points.
    let meta = "Campaign name;Day;Amount spent (EUR);Impressions;Link clicks\n\
                Herbst;2026-11-02;1.234,56;18.230;212\n\
                Herbst;2026-11-03;0,44;1.000;3\n";
    let (status, body) = import(&app, &token, "table=spend&mapping=meta-ads", meta.into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["delimiter"], ";");
    assert!(close(
        kpi(&app, &token, "2026-11", "ad_spend").await.unwrap(),
        1235.0
    ));
    assert!(close(
        kpi(&app, &token, "2026-11", "impressions").await.unwrap(),
        19230.0
    ));

    // Lodestar's own columns with a UTF-8 byte order mark, then as UTF-16 (both byte orders),
    // tab separated as Excel's "Unicode text" is.
    let bom = "\u{feff}id,created_at,channel\nB1,2026-11-02T10:00:00Z,email\n";
    let (status, body) = import(&app, &token, "table=leads", bom.into()).await;
    assert_eq!(
        (status, &body["encoding"]),
        (StatusCode::OK, &json!("utf-8 with BOM")),
        "{body}"
    );
    let tabbed = "id\tcreated_at\tchannel\nU1\t2026-11-03T10:00:00Z\tseo\n";
    for (little, encoding) in [(true, "utf-16le"), (false, "utf-16be")] {
        let (status, body) = import(&app, &token, "table=leads", utf16(tabbed, little)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (&body["encoding"], &body["delimiter"]),
            (&json!(encoding), &json!("tab"))
        );
    }
    assert_eq!(
        app.counts(team).await[0].1,
        2,
        "B1 and U1 (stored twice, one row)"
    );
}

async fn a_dry_run_stores_nothing_and_shows_rows_problems_and_matching_mappings(b: Backend) {
    let app = app_with_packs(b).await;
    let (team, token) = editor(&app).await;
    let file = "\"Record ID\",\"Create Date\",\"Lifecycle Stage\",\"Became a Customer Date\",\"Recent Deal Amount\"\n\
                \"1\",\"2026-11-02 10:00\",\"Lead\",\"\",\"\"\n\
                \"2\",\"yesterday\",\"Lead\",\"\",\"\"\n\
                \"3\",\"2026-11-04 10:00\",\"Customer\",\"2026-11-20 10:00\",\"1.5k\"\n\
                \"4\",\"2026-11-05 10:00\",\"Lead\",\"\",\"\"\n";
    let (status, body) = import(
        &app,
        &token,
        "table=leads&mapping=hubspot-contacts&dry_run=true",
        file.into(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stored"], false);
    assert_eq!(
        (body["records"].as_u64(), body["rows"].as_u64()),
        (Some(4), Some(2))
    );
    assert_eq!(body["invalid"], 2);
    assert_eq!(body["matching_mappings"], json!(["hubspot-contacts"]));
    assert_eq!(body["preview"][0]["id"], "hubspot-1");
    assert_eq!(body["preview"][0]["created_at"], "2026-11-02T10:00:00Z");
    assert_eq!(body["preview"][1]["id"], "hubspot-4");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors[0]["line"], 3);
    assert_eq!(errors[0]["index"], 1);
    assert_eq!(errors[0]["column"], "Create Date");
    assert_eq!(errors[1]["line"], 4);
    assert_eq!(errors[1]["column"], "Recent Deal Amount");
    assert_eq!(app.counts(team).await[0].1, 0, "a dry run stores nothing");

    // Without a mapping, the dry run says which mappings fit the file.
    let (status, body) = import(&app, &token, "table=leads&dry_run=true", file.into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matching_mappings"], json!(["hubspot-contacts"]));
    assert!(!body["header_errors"].as_array().unwrap().is_empty());
    assert_eq!(app.counts(team).await[0].1, 0);
}

async fn a_bad_header_is_reported_once_with_did_you_mean(b: Backend) {
    let app = app_with_packs(b).await;
    let (team, token) = editor(&app).await;
    let file = "id,crated_at,channel\nA,2026-11-02T10:00:00Z,x\nB,2026-11-03T10:00:00Z,y\n";
    let (status, body) = import(&app, &token, "table=leads", file.into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "once, not per row: {body}");
    assert_eq!(rows[0]["line"], 1);
    assert_eq!(rows[0]["column"], "crated_at");
    assert!(
        rows[0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `created_at`?")
    );
    assert_eq!(body["invalid"], 0);

    // A mapping's missing column, with the file's closest one.
    let file = "Record ID,Created Date\n1,2026-11-02 10:00\n";
    let (status, body) = import(
        &app,
        &token,
        "table=leads&mapping=hubspot-contacts",
        file.into(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["rows"].as_array().unwrap().len(), 1);
    assert!(
        body["rows"][0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `Created Date`?"),
        "{body}"
    );
    assert_eq!(app.counts(team).await[0].1, 0);
}

async fn a_bad_row_stores_nothing_and_the_loading_api_names_its_line(b: Backend) {
    let app = app_with_packs(b).await;
    let (team, token) = editor(&app).await;
    // A quoted cell over two lines: line numbers are the file's, not the record count.
    let file = "id,created_at,attrs.note\n\
                A,2026-11-02T10:00:00Z,\"two\nlines\"\n\
                B,soon,\n\
                C,2026-11-03T10:00:00Z,\n";
    let (status, body) = import(&app, &token, "table=leads", file.into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["invalid"], 1);
    assert_eq!(body["rows"][0]["line"], 4);
    assert_eq!(body["rows"][0]["index"], 1);
    assert_eq!(app.counts(team).await[0].1, 0, "all or nothing");

    let (status, body) = app
        .post_raw(Some(&token), "/api/v1/leads", "text/csv", file.into())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["rows"],
        json!([{"index": 1, "line": 4, "field": "created_at",
        "message": body["rows"][0]["message"]}])
    );
    assert_eq!(app.counts(team).await[0].1, 0);
}

async fn skip_invalid_loads_the_good_rows_and_writes_exactly_the_bad_ones(b: Backend) {
    let tdb = TestDb::new(&b).await;
    json_out(lodestar(&tdb.url, &["team", "create", "acme"]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spend.csv");
    std::fs::write(
        &file,
        "day;channel;category;amount\n\
         2026-11-02;email;advertising;12.5\n\
         2026-11-31;email;advertising;3\n\
         2026-11-03;seo;content;7\n\
         2026-11-04;seo;snacks;1\n\
         2026-11-05;seo;content;-2\n",
    )
    .unwrap();
    let rejects = dir.path().join("rejects.csv");
    let path = file.to_str().unwrap();
    let out = lodestar(&tdb.url, &["import", "spend", path, "--team", "acme"]);
    assert!(!out.status.success(), "all or nothing by default");
    let report = json_out(lodestar(
        &tdb.url,
        &[
            "import",
            "spend",
            path,
            "--team",
            "acme",
            "--skip-invalid",
            rejects.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(
        (report["rows"].as_u64(), report["invalid"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(report["stored"], true);
    let written = std::fs::read_to_string(&rejects).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines[0], "line,day,channel,category,amount,errors");
    assert_eq!(lines.len(), 4, "{written}");
    for (i, (start, problem)) in [
        ("3,2026-11-31,email,advertising,3,", "day:"),
        ("5,2026-11-04,seo,snacks,1,", "category:"),
        ("6,2026-11-05,seo,content,-2,", "amount:"),
    ]
    .into_iter()
    .enumerate()
    {
        let line = lines[i + 1];
        assert!(
            line.starts_with(start) && line.contains(problem),
            "{written}"
        );
    }
    let team = lodestar_store::teams::find_by_slug(&tdb.db, "acme")
        .await
        .unwrap()
        .unwrap();
    let counts = lodestar_store::loaded::table_counts(&tdb.db, team.id)
        .await
        .unwrap();
    assert_eq!(counts[1].1, 2);

    // The human summary says the same.
    let out = lodestar(
        &tdb.url,
        &["import", "spend", path, "--team", "acme", "--dry-run"],
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("would import 2 spend from 5 records"),
        "{summary}"
    );
    assert!(summary.contains("line 5, column `category`"), "{summary}");
}

async fn a_looping_or_failing_mapping_script_is_stopped_with_its_line(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("mine");
    std::fs::create_dir_all(&pack).unwrap();
    std::fs::write(
        pack.join("plugin.toml"),
        "[pack]\nname = \"mine\"\nversion = \"1\"\n\n\
         [[mapping]]\nname = \"spin\"\ntable = \"events\"\nheader = [\"When\"]\nscript = \"spin.rhai\"\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("spin.rhai"),
        "fn map_row(row) {\n    if row.When == \"loop\" {\n        loop { }\n    }\n    throw \"no such day\";\n}\n",
    )
    .unwrap();
    let packs = dir.path().to_path_buf();
    let app = TestApp::spawn_with(b, move |s| s.scripts.packs_dir = Some(packs)).await;
    let (team, token) = editor(&app).await;
    let started = std::time::Instant::now();
    let (status, body) = import(
        &app,
        &token,
        "table=events&mapping=spin",
        "When\nloop\nthrow\n".into(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows[0]["line"], 2);
    let looped = rows[0]["message"].as_str().unwrap();
    assert!(
        looped.contains("(line 1)") && looped.contains("stopped"),
        "{looped}"
    );
    assert_eq!(rows[1]["line"], 3);
    assert!(
        rows[1]["message"]
            .as_str()
            .unwrap()
            .contains("(line 5): no such day"),
        "{body}"
    );
    assert_eq!(app.counts(team).await[2].1, 0);
}
