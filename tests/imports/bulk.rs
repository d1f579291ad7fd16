//! The bulk path under failure: on PostgreSQL rows go in through `COPY` (straight into a table
//! the import started empty, through a staging table and a merge otherwise), in one
//! transaction: a bad row after many written chunks, or the process killed half-way, leaves
//! nothing behind, rollups included.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use sea_orm::ConnectionTrait;

use super::{editor, import};
use crate::backend_tests;
use crate::cli::{json_out, lodestar};
use crate::common::{Backend, TestApp, TestDb};
use crate::rollups::rollup_rows;

backend_tests!(
    a_bad_row_after_many_written_chunks_stores_nothing,
    dimension_values_with_quotes_backslashes_and_braces_roll_up_exactly,
);

fn leads_csv(n: usize, prefix: &str) -> String {
    let mut csv = String::from("id,created_at,channel,mql_at\n");
    for i in 0..n {
        csv.push_str(&format!(
            "{prefix}{i},2026-11-{:02}T10:00:00Z,ch{},2026-11-{:02}T12:00:00Z\n",
            1 + i % 28,
            i % 7,
            1 + i % 28
        ));
    }
    csv
}

async fn a_bad_row_after_many_written_chunks_stores_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (team, token) = editor(&app).await;
    // A first import, so that the second one upserts (staging and merge on PostgreSQL)…
    let (status, body) = import(&app, &token, "table=leads", leads_csv(1500, "A").into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = rollup_rows(&app, team).await;
    // …of 3,500 good rows (some of them rewrites) and one bad one at the end.
    let mut csv = leads_csv(3500, "A");
    csv.push_str("A-bad,2026-11-31T10:00:00Z,ch0,\n");
    let (status, body) = import(&app, &token, "table=leads", csv.into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["rows"][0]["line"], 3502);
    assert_eq!(app.counts(team).await[0].1, 1500);
    assert_eq!(
        rollup_rows(&app, team).await,
        before,
        "the rollups did not move"
    );

    // The same into an empty team (COPY straight into the table on PostgreSQL).
    let (other, other_token) = app
        .team("empty", "UTC", lodestar_store::tokens::Role::Editor)
        .await;
    let mut csv = leads_csv(3500, "B");
    csv.push_str("B-bad,soon,ch0,\n");
    let (status, _) = import(&app, &other_token, "table=leads", csv.into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.counts(other).await[0].1, 0);
    assert!(rollup_rows(&app, other).await.is_empty());
}

/// The rollups are written as arrays on PostgreSQL: values that need quoting there survive.
async fn dimension_values_with_quotes_backslashes_and_braces_roll_up_exactly(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, token) = editor(&app).await;
    let odd = ["a\"b", "back\\slash", "{braces}", "com,ma", "NULL", ""];
    let mut csv = String::from("id,created_at,channel\n");
    for (i, channel) in odd.iter().enumerate() {
        for j in 0..=i {
            let quoted = channel.replace('"', "\"\"");
            csv.push_str(&format!(
                "L{i}-{j},2026-11-0{}T10:00:00Z,\"{quoted}\"\n",
                1 + j
            ));
        }
    }
    let (status, body) = import(&app, &token, "table=leads", csv.into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-11&keys=leads&segment_by=channel",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let segments = body["kpis"][0]["segments"].as_array().unwrap();
    for (i, channel) in odd.iter().enumerate() {
        let name = if channel.is_empty() {
            "(none)"
        } else {
            channel
        };
        let seg = segments
            .iter()
            .find(|s| s["segment"] == *name)
            .unwrap_or_else(|| panic!("no segment {name}: {body}"));
        assert_eq!(seg["value"].as_f64(), Some((i + 1) as f64), "{name}");
    }
}

/// `lodestar import` killed while it copies rows into PostgreSQL: the server rolls the
/// transaction back, so not one row (nor a rollup) of the file is stored.
#[actix_web::test]
async fn an_import_killed_mid_copy_stores_nothing() {
    let Some(b) = Backend::postgres() else {
        return;
    };
    let tdb = TestDb::new(&b).await;
    json_out(lodestar(&tdb.url, &["team", "create", "acme"]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leads.csv");
    std::fs::write(&file, leads_csv(200_000, "K")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(["import", "leads", file.to_str().unwrap(), "--team", "acme"])
        .env("LODESTAR_DATABASE__URL", &tdb.url)
        .env("LODESTAR_LOG__FILTER", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it is copying rows in (its transaction holds some), then kill it.
    let started = Instant::now();
    let copying = "SELECT count(*) FROM pg_stat_activity \
                   WHERE datname = current_database() AND query LIKE 'COPY leads%'";
    loop {
        let row = tdb
            .db
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(tdb.db.backend(), copying))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get_by_index(0).unwrap();
        if n > 0 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it was seen copying"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "never seen copying"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    let team = lodestar_store::teams::find_by_slug(&tdb.db, "acme")
        .await
        .unwrap()
        .unwrap();
    let rollups = |db: lodestar_store::Db| async move {
        db.conn()
            .query_one_raw(sea_orm::Statement::from_string(
                db.backend(),
                format!("SELECT count(*) FROM lead_days WHERE team_id = {}", team.id),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
    };
    let counts = lodestar_store::loaded::table_counts(&tdb.db, team.id)
        .await
        .unwrap();
    assert_eq!(counts[0].1, 0);
    assert_eq!(rollups(tdb.db.clone()).await, 0);
    // The next import waits for the server to end the dead one's transaction (it held the
    // team's row), then stores its own rows and nothing of the killed one's.
    let small = dir.path().join("small.csv");
    std::fs::write(&small, leads_csv(10, "S")).unwrap();
    let report = json_out(lodestar(
        &tdb.url,
        &[
            "import",
            "leads",
            small.to_str().unwrap(),
            "--team",
            "acme",
            "--json",
        ],
    ));
    assert_eq!(report["inserted"], 10);
    let counts = lodestar_store::loaded::table_counts(&tdb.db, team.id)
        .await
        .unwrap();
    assert_eq!(counts[0].1, 10);
    assert!(rollups(tdb.db.clone()).await > 0);
}
