//! The daily rollups against the rows they summarise: after loading the fixture and then
//! rewriting part of it (leads moved between channels, wins taken back, leads closed before they
//! were created, churn, events changing kind and day), every measure the engine reads from the
//! rollups equals the same measure computed from the rows, for every period kind and every
//! segmentation the rollups keep; and rebuilding the rollups from scratch gives the same table.

use std::collections::BTreeSet;

use lodestar_core::dimension::Dimension;
use lodestar_core::measure::Measure;
use lodestar_core::period::{Buckets, Compare, PeriodKey, Timezone};
use lodestar_store::measures::{self, MeasureQuery};
use lodestar_store::rollup;
use lodestar_store::tokens::Role;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, TestApp, read_fixture};

backend_tests!(
    rollups_agree_with_the_rows_after_updates,
    rebuilding_the_rollups_gives_the_same_rows,
    a_long_load_that_repeats_keys_across_chunks_counts_and_rolls_up_exactly,
    a_bulk_load_of_prepared_chunks_counts_and_rolls_up_exactly,
    a_failed_bulk_load_leaves_nothing_behind,
);

fn shift(ts: &str, days: i64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(ts).unwrap();
    (t + chrono::TimeDelta::days(days))
        .to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Rewrites about a third of the fixture's leads and a quarter of its events.
fn rewritten() -> (Vec<Value>, Vec<Value>) {
    let leads: Vec<Value> = read_fixture("leads.json").as_array().unwrap().clone();
    let events: Vec<Value> = read_fixture("events.json").as_array().unwrap().clone();
    let mut new_leads = Vec::new();
    for (i, lead) in leads.iter().enumerate() {
        let mut l = lead.as_object().unwrap().clone();
        let created = l["created_at"].as_str().unwrap().to_owned();
        match i % 9 {
            0 => {
                l.insert("channel".into(), json!("moved"));
                l.insert("source".into(), json!(""));
                // A score added, changed or taken away moves the score sums and counts.
                match l.get("score").and_then(Value::as_i64) {
                    Some(s) if s % 2 == 0 => l.remove("score"),
                    Some(s) => l.insert("score".into(), json!((s * 7 + 3) % 101)),
                    None => l.insert("score".into(), json!(88)),
                };
            }
            1 => {
                l.remove("won_at");
            }
            2 => {
                // Won before it was created: reach must not count it in the weeks between.
                l.insert("won_at".into(), json!(shift(&created, -10)));
                l.insert("deal_value".into(), json!(120.25));
            }
            3 => {
                l.insert("lost_at".into(), json!(shift(&created, -1)));
            }
            4 => {
                l.insert("won_at".into(), json!(shift(&created, 3)));
                l.insert("churned_at".into(), json!(shift(&created, 40)));
                l.insert("campaign".into(), json!("retarget"));
            }
            5 => {
                // Churned before won: ends on the day of the win.
                l.insert("won_at".into(), json!(shift(&created, 20)));
                l.insert("churned_at".into(), json!(shift(&created, 12)));
            }
            _ => continue,
        }
        new_leads.push(Value::Object(l));
    }
    let mut new_events = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let mut e = event.as_object().unwrap().clone();
        let at = e["occurred_at"].as_str().unwrap().to_owned();
        match i % 8 {
            0 => {
                e.insert("kind".into(), json!("engagement"));
            }
            1 => {
                e.insert("occurred_at".into(), json!(shift(&at, 9)));
                e.insert("channel".into(), json!("moved"));
            }
            2 => {
                e.insert("kind".into(), json!("nps"));
                e.insert("value".into(), json!((i % 11) as f64));
            }
            _ => continue,
        }
        new_events.push(Value::Object(e));
    }
    (new_leads, new_events)
}

async fn loaded_and_rewritten(backend: Backend) -> (TestApp, i32) {
    let app = TestApp::spawn(backend).await;
    let (team_id, token) = app.team("rolled", "America/New_York", Role::Admin).await;
    app.load_fixture(&token).await;
    let (leads, events) = rewritten();
    let (status, body) = app
        .post_json(Some(&token), "/api/v1/leads", &json!(leads))
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert!(body["updated"].as_u64().unwrap() > 0, "{body}");
    let (status, body) = app
        .post_json(Some(&token), "/api/v1/events", &json!(events))
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
    (app, team_id)
}

async fn rollups_agree_with_the_rows_after_updates(backend: Backend) {
    let (app, team_id) = loaded_and_rewritten(backend).await;
    let tz = Timezone::parse("America/New_York").unwrap();
    let all: BTreeSet<Measure> = Measure::ALL.iter().copied().collect();
    let cases = [
        ("2026-W50", 48),
        ("2026-12", 12),
        ("2026-Q4", 5),
        ("2026", 2),
        ("2026-11-30", 40),
    ];
    let key = |k: &str| PeriodKey::parse(k).unwrap();
    let mut layouts: Vec<(String, Buckets)> = cases
        .iter()
        .map(|(last, len)| (last.to_string(), Buckets::of(&key(last).trend(*len), tz.0)))
        .collect();
    // Spans with gaps between them: a year-over-year window, a month to date and the days so
    // far of a week, each with its comparisons.
    layouts.push((
        "2026-W50 against a year earlier".into(),
        Buckets::compared(&Compare::Year.chain(key("2026-W50"), 3), None, tz.0),
    ));
    layouts.push((
        "2026-12 to day 18".into(),
        Buckets::compared(&Compare::Previous.chain(key("2026-12"), 3), Some(18), tz.0),
    ));
    layouts.push((
        "2026-W49 days 1-3".into(),
        Buckets::compared(&key("2026-W49").trend(3), Some(3), tz.0),
    ));
    let mut compared = 0;
    for (last, bounds) in &layouts {
        for dimension in [
            None,
            Some(Dimension::Channel),
            Some(Dimension::Campaign),
            Some(Dimension::Source),
        ] {
            let q = MeasureQuery {
                team_id,
                bounds,
                dimension: dimension.as_ref(),
                measures: &all,
            };
            let rolled = measures::compute(app.db(), &q).await.unwrap();
            let rows = measures::compute_from_rows(app.db(), &q).await.unwrap();
            let every: Vec<usize> = (0..bounds.len()).collect();
            assert_eq!(
                rolled.segments(every.clone()),
                rows.segments(every.clone()),
                "segments of {last} by {dimension:?}"
            );
            for b in every.clone() {
                for segment in rows.segments([b]) {
                    for &m in Measure::ALL {
                        let (a, e) = (rolled.get(b, &segment).get(m), rows.get(b, &segment).get(m));
                        assert_eq!(
                            a, e,
                            "{m:?} in bucket {b} ({}) of {last} segment {segment:?} by {dimension:?}",
                            bounds.periods[b].key
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    // The comparison covered real data: every period kind, thousands of values.
    assert!(compared > 10_000, "only {compared} values compared");

    // The stage distribution at every local midnight from September to January, from the
    // rollups' stage entries, against the leads' own timestamps counted here.
    let mut day = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let mut nonzero = 0;
    while day < chrono::NaiveDate::from_ymd_opt(2027, 2, 1).unwrap() {
        let end = lodestar_core::period::local_midnight(day, tz.0).timestamp_millis();
        let rolled = lodestar_store::stages::distribution(
            app.db(),
            team_id,
            lodestar_core::period::day_number(day),
        )
        .await
        .unwrap();
        let rolled: Vec<(&str, u64)> = rolled.iter().map(|(s, n)| (s.key(), *n)).collect();
        let counted = stages_from_rows(&app, team_id, end).await;
        assert_eq!(rolled, counted, "stages at the start of {day}");
        nonzero += rolled.iter().filter(|(_, n)| *n > 0).count();
        day = day.succ_opt().unwrap();
    }
    assert!(nonzero > 500, "the distribution had data: {nonzero}");
}

/// Leads created before `end` in each stage at `end` (spec/KPIS.md, "Stage distribution"), in
/// `Stage::ALL` order, straight from the rows.
async fn stages_from_rows(app: &TestApp, team_id: i32, end: i64) -> Vec<(&'static str, u64)> {
    let sql = format!(
        "SELECT CASE WHEN churned_at < {end} THEN 'churned' WHEN won_at < {end} THEN 'customer' \
         WHEN lost_at < {end} THEN 'lost' WHEN opportunity_at < {end} THEN 'opportunity' \
         WHEN sql_at < {end} THEN 'sql' WHEN sal_at < {end} THEN 'sal' \
         WHEN mql_at < {end} THEN 'mql' ELSE 'lead' END AS stage, COUNT(*) FROM leads \
         WHERE team_id = {team_id} AND created_at < {end} GROUP BY 1"
    );
    let rows = app
        .db()
        .conn()
        .query_all_raw(sea_orm::Statement::from_string(app.db().backend(), sql))
        .await
        .unwrap();
    let counts: std::collections::HashMap<String, i64> = rows
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
            )
        })
        .collect();
    lodestar_core::stage::Stage::ALL
        .iter()
        .map(|s| (s.key(), counts.get(s.key()).copied().unwrap_or(0) as u64))
        .collect()
}

pub(crate) async fn rollup_rows(app: &TestApp, team_id: i32) -> Vec<String> {
    let mut out = Vec::new();
    for (table, cols) in [
        ("lead_days", rollup::LEAD_COLUMNS.join(", ")),
        ("event_days", rollup::EVENT_COLUMNS.join(", ")),
        ("engaged_periods", "leads".to_owned()),
    ] {
        let sql = format!(
            "SELECT * FROM {table} WHERE team_id = {team_id} AND NOT ({}) ORDER BY 1, 2, 3, 4, 5",
            cols.split(", ")
                .map(|c| format!("{c} = 0"))
                .collect::<Vec<_>>()
                .join(" AND ")
        );
        let rows = app
            .db()
            .conn()
            .query_all_raw(sea_orm::Statement::from_string(app.db().backend(), sql))
            .await
            .unwrap();
        for row in rows {
            // The key columns, then the counters.
            let width = match table {
                "lead_days" => 5 + rollup::LEAD_COLUMNS.len(),
                "event_days" => 5 + rollup::EVENT_COLUMNS.len(),
                _ => 7,
            };
            let mut line = vec![table.to_owned()];
            for i in 0..width {
                let text = if let Ok(v) = row.try_get_by_index::<i64>(i) {
                    v.to_string()
                } else if let Ok(v) = row.try_get_by_index::<i32>(i) {
                    v.to_string()
                } else {
                    row.try_get_by_index::<String>(i).unwrap()
                };
                line.push(text);
            }
            out.push(line.join("|"));
        }
    }
    out
}

async fn rebuilding_the_rollups_gives_the_same_rows(backend: Backend) {
    let (app, team_id) = loaded_and_rewritten(backend).await;
    let kept = rollup_rows(&app, team_id).await;
    assert!(kept.len() > 300, "{} rollup rows", kept.len());
    assert!(kept.iter().any(|r| r.starts_with("event_days")));
    assert!(kept.iter().any(|r| r.starts_with("engaged_periods")));
    // A database from before the rollups: the version is reset and migrating rebuilds them.
    app.db()
        .conn()
        .execute_unprepared(&format!(
            "UPDATE teams SET rollup_version = 0 WHERE id = {team_id}; \
             DELETE FROM lead_days WHERE team_id = {team_id}; \
             DELETE FROM engaged_periods WHERE team_id = {team_id}"
        ))
        .await
        .unwrap();
    assert_ne!(rollup_rows(&app, team_id).await, kept);
    app.db().migrate().await.unwrap();
    assert_eq!(rollup_rows(&app, team_id).await, kept);
    let version = app
        .db()
        .conn()
        .query_one_raw(sea_orm::Statement::from_string(
            app.db().backend(),
            format!("SELECT rollup_version FROM teams WHERE id = {team_id}"),
        ))
        .await
        .unwrap()
        .unwrap();
    let v: i32 = version.try_get_by_index(0).unwrap();
    assert_eq!(v, rollup::VERSION);

    // A database from before the score and lifetime sums (rollup version 1, the columns added
    // by migration 000008 at 0): start-up fills them once.
    app.db()
        .conn()
        .execute_unprepared(&format!(
            "UPDATE teams SET rollup_version = 1 WHERE id = {team_id}; \
             UPDATE lead_days SET score_sum = 0, score_n = 0, lifetime_ms = 0 \
             WHERE team_id = {team_id}"
        ))
        .await
        .unwrap();
    assert_ne!(rollup_rows(&app, team_id).await, kept);
    app.db().migrate().await.unwrap();
    assert_eq!(rollup_rows(&app, team_id).await, kept);
}

/// A streamed load (many chunks, one transaction, rollup writes deferred) whose later chunks
/// rewrite rows of earlier ones: the counts say so and the rollups still equal the rows.
async fn a_long_load_that_repeats_keys_across_chunks_counts_and_rolls_up_exactly(backend: Backend) {
    long_load(backend, Load::Upsert).await
}

/// The same load as `lodestar import` runs it: a bulk transaction (on SQLite its own connection,
/// with inserts bound ahead) and chunks prepared on another thread.
async fn a_bulk_load_of_prepared_chunks_counts_and_rolls_up_exactly(backend: Backend) {
    long_load(backend, Load::Prepared).await
}

#[derive(Clone, Copy, PartialEq)]
enum Load {
    Upsert,
    Prepared,
}

async fn load_chunks(
    app: &TestApp,
    team_id: i32,
    how: Load,
    chunks: &[&Vec<lodestar_core::rows::LeadRow>],
) -> lodestar_store::ingest::UpsertCounts {
    use lodestar_store::ingest::{self, Loader, UpsertCounts};
    let mut counts = UpsertCounts::default();
    if how == Load::Upsert {
        let tx = app.db().begin_write().await.unwrap();
        let mut loader = Loader::new(&tx, team_id).await.unwrap();
        for chunk in chunks {
            counts += loader.upsert(chunk).await.unwrap();
        }
        loader.finish().await.unwrap();
        tx.commit().await.unwrap();
        return counts;
    }
    let tx = app.db().begin_bulk().await.unwrap();
    let form = tx.writer().form();
    let mut loader = Loader::new(tx.writer(), team_id).await.unwrap();
    for chunk in chunks {
        // `prepare` takes at most a statement's worth of rows, as the import sends them.
        for rows in chunk.chunks(1000) {
            let prepared = std::thread::scope(|s| {
                s.spawn(|| ingest::prepare(form, team_id, rows))
                    .join()
                    .unwrap()
            });
            let mut prepared = prepared;
            counts += loader.upsert_prepared(rows, &mut prepared).await.unwrap();
        }
    }
    loader.finish().await.unwrap();
    tx.commit().await.unwrap();
    counts
}

async fn long_load(backend: Backend, how: Load) {
    use lodestar_core::rows::{InputRow, LeadRow};
    let app = TestApp::spawn(backend).await;
    let (team_id, _) = app.team("streamed", "Asia/Kolkata", Role::Admin).await;
    let lead = |i: usize, channel: &str, won: bool| {
        let mut v = json!({
            "id": format!("S-{i}"),
            "created_at": format!("2026-10-{:02}T{:02}:30:00Z", 1 + i % 28, i % 24),
            "channel": channel,
        });
        if won {
            v["won_at"] = json!("2026-11-20T10:00:00Z");
            v["deal_value"] = json!(10.5);
        }
        LeadRow::from_json(&v).unwrap()
    };
    let first: Vec<LeadRow> = (0..1500).map(|i| lead(i, "ads", false)).collect();
    let second: Vec<LeadRow> = (1500..2500).map(|i| lead(i, "seo", false)).collect();
    // Rewrites 700 leads of the first chunk: new channel, now won.
    let third: Vec<LeadRow> = (800..1500).map(|i| lead(i, "moved", true)).collect();
    let counts = load_chunks(&app, team_id, how, &[&first, &second, &third]).await;
    assert_eq!((counts.inserted, counts.updated), (2500, 700));

    let tz = Timezone::parse("Asia/Kolkata").unwrap();
    let all: BTreeSet<Measure> = Measure::ALL.iter().copied().collect();
    let periods = PeriodKey::parse("2026-11").unwrap().trend(3);
    let bounds = Buckets::of(&periods, tz.0);
    let channel = Dimension::Channel;
    let q = MeasureQuery {
        team_id,
        bounds: &bounds,
        dimension: Some(&channel),
        measures: &all,
    };
    let rolled = measures::compute(app.db(), &q).await.unwrap();
    let rows = measures::compute_from_rows(app.db(), &q).await.unwrap();
    for b in 0..bounds.len() {
        for segment in rows.segments([b]) {
            assert_eq!(
                rolled.get(b, &segment),
                rows.get(b, &segment),
                "{segment} in {b}"
            );
        }
    }
    // October's leads by channel: 800 still ads, 1000 seo, 700 moved.
    assert_eq!(rolled.get(1, "ads").get(Measure::Leads), Some(800.0));
    assert_eq!(rolled.get(1, "moved").get(Measure::Leads), Some(700.0));
    assert_eq!(
        rolled.get(2, "moved").get(Measure::CustomersWon),
        Some(700.0)
    );
}

/// A bulk load that stops half-way, dropped or rolled back, stores nothing, not even rollups,
/// and the connection it held goes back to the pool fit for the next write.
async fn a_failed_bulk_load_leaves_nothing_behind(backend: Backend) {
    use lodestar_core::rows::{InputRow, LeadRow};
    use lodestar_store::ingest::Loader;
    use lodestar_store::loaded::table_counts;
    let app = TestApp::spawn(backend).await;
    let (team_id, token) = app.team("halted", "Europe/Paris", Role::Admin).await;
    let rows: Vec<LeadRow> = (0..1500)
        .map(|i| {
            LeadRow::from_json(&json!({
                "id": format!("H-{i}"),
                "created_at": "2026-11-03T09:00:00Z",
                "channel": "ads",
            }))
            .unwrap()
        })
        .collect();
    for rolled_back in [false, true] {
        let tx = app.db().begin_bulk().await.unwrap();
        let mut loader = Loader::new(tx.writer(), team_id).await.unwrap();
        let counts = loader.upsert(&rows).await.unwrap();
        assert_eq!(counts.inserted, 1500);
        // The rollups are written too, inside the transaction.
        loader.finish().await.unwrap();
        if rolled_back {
            tx.rollback().await.unwrap();
        } else {
            drop(tx);
        }
        let counts = table_counts(app.db(), team_id).await.unwrap();
        assert_eq!(counts[0].1, 0, "rolled back: {rolled_back}");
        assert!(rollup_rows(&app, team_id).await.is_empty());
    }
    // Every pooled connection, the bulk load's among them, takes the next writes.
    for _ in 0..3 {
        app.load_fixture(&token).await;
    }
    let counts = table_counts(app.db(), team_id).await.unwrap();
    assert!(counts[0].1 > 0);
}
