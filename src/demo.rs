//! The demo team, and loading generated data into a team (the bench loads the same way).

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use lodestar_core::period::Timezone;
use lodestar_store::Db;
use lodestar_store::ingest::{Loader, StoredRow};
use lodestar_store::loaded;
use lodestar_store::teams::{self, Team};

use crate::generate::{Chunk, GenSpec, generate};

pub const DEMO_SLUG: &str = "demo";
/// The demo person, who signs in through the one-time link `lodestar demo` prints.
pub const DEMO_EMAIL: &str = "demo@example.com";

/// Team `demo`: reused as it is when it has data, else created (or refilled) with about nine
/// months of generated data ending now.
pub async fn ensure_demo_team(db: &Db) -> anyhow::Result<Team> {
    let team = match teams::find_by_slug(db, DEMO_SLUG).await? {
        Some(team) => {
            let counts = loaded::table_counts(db, team.id).await?;
            if counts.iter().any(|(_, n)| *n > 0) {
                eprintln!("demo: reusing team `{DEMO_SLUG}` and its data");
                return Ok(team);
            }
            // An earlier run stopped before its data was in: upserts make filling it again safe.
            team
        }
        None => {
            let tz = Timezone::parse("Europe/Berlin")?;
            teams::create(db, DEMO_SLUG, "Demo team", &tz).await?
        }
    };
    let spec = GenSpec::demo(Utc::now());
    eprintln!(
        "demo: generating {} to {} (about {:.0} leads) for team `{DEMO_SLUG}`",
        spec.start,
        spec.as_of.date_naive(),
        spec.expected_leads()
    );
    let stats = load(db, team.id, &spec, usize::MAX, |rows| {
        eprintln!("demo: {rows} rows loaded");
    })
    .await?;
    eprintln!(
        "demo: loaded {} leads, {} events, {} spend rows in {:.1} s",
        stats.leads.rows, stats.events.rows, stats.spend.rows, stats.seconds
    );
    // The data version was bumped while loading; callers want the team as it is now.
    teams::find_by_id(db, team.id)
        .await?
        .context("the demo team disappeared while loading")
}

/// Rows of one table and the time spent writing them (excluding generation, which overlaps).
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct TableLoad {
    pub rows: u64,
    pub write_seconds: f64,
}

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct LoadStats {
    pub leads: TableLoad,
    pub spend: TableLoad,
    pub events: TableLoad,
    /// Wall time from the first generated row to the last commit.
    pub seconds: f64,
}

impl LoadStats {
    pub fn rows(&self) -> u64 {
        self.leads.rows + self.spend.rows + self.events.rows
    }
}

/// Generates `spec` on a thread of its own and upserts it into the team as it comes, committing
/// after about `commit_rows` rows (and at the end), so both cores work and memory stays flat.
/// `progress` hears the running row count about every 100,000 rows.
pub async fn load(
    db: &Db,
    team_id: i32,
    spec: &GenSpec,
    commit_rows: usize,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<LoadStats> {
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    let gen_spec = spec.clone();
    let producer = tokio::task::spawn_blocking(move || {
        generate(&gen_spec, |chunk| {
            tx.blocking_send(chunk)
                .map_err(|_| anyhow::anyhow!("the loader stopped"))
        })
    });

    let mut stats = LoadStats::default();
    let mut reported = 0u64;
    let written: anyhow::Result<()> = async {
        let mut more = true;
        // One transaction per `commit_rows` rows, with one loader: the rollups' changes of all
        // its chunks are written once, before the commit.
        while more {
            let txn = db.begin_write().await?;
            teams::bump_data_version(&txn, team_id).await?;
            let mut loader = Loader::new(&txn, team_id).await?;
            let mut in_txn = 0usize;
            while in_txn < commit_rows {
                let Some(chunk) = rx.recv().await else {
                    more = false;
                    break;
                };
                if chunk.is_empty() {
                    continue;
                }
                let n = chunk.len();
                let t0 = Instant::now();
                let table = match &chunk {
                    Chunk::Leads(rows) => write(&mut loader, rows, &mut stats.leads).await?,
                    Chunk::Spend(rows) => write(&mut loader, rows, &mut stats.spend).await?,
                    Chunk::Events(rows) => write(&mut loader, rows, &mut stats.events).await?,
                };
                table.write_seconds += t0.elapsed().as_secs_f64();
                in_txn += n;
                let total = stats.rows();
                if total >= reported + 100_000 {
                    reported = total;
                    progress(total);
                }
            }
            let t0 = Instant::now();
            loader.finish().await?;
            txn.commit().await?;
            // The rollup write and the commit belong to every table; count them with leads.
            stats.leads.write_seconds += t0.elapsed().as_secs_f64();
        }
        Ok(())
    }
    .await;
    drop(rx);
    let generated = producer.await.context("the generator panicked")?;
    written?;
    generated?;
    stats.seconds = started
        .elapsed()
        .as_secs_f64()
        .max(Duration::from_micros(1).as_secs_f64());
    Ok(stats)
}

async fn write<'a, R: StoredRow>(
    loader: &mut Loader<'_>,
    rows: &[R],
    stats: &'a mut TableLoad,
) -> anyhow::Result<&'a mut TableLoad> {
    loader.upsert(rows).await?;
    stats.rows += rows.len() as u64;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate};

    use super::*;

    async fn fresh_db(dir: &tempfile::TempDir) -> Db {
        let url = format!("sqlite://{}/lodestar.db?mode=rwc", dir.path().display());
        let db = Db::connect(&url).await.expect("connects");
        db.migrate().await.expect("migrates");
        db
    }

    #[tokio::test]
    async fn the_demo_team_is_created_once_and_then_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = fresh_db(&dir).await;
        let team = ensure_demo_team(&db).await.expect("demo team");
        assert_eq!(
            (team.slug.as_str(), team.name.as_str()),
            ("demo", "Demo team")
        );
        assert_eq!(team.timezone.to_string(), "Europe/Berlin");
        let counts = loaded::table_counts(&db, team.id).await.expect("counts");
        let [leads, spend, events] = counts.clone().map(|(_, n)| n);
        assert!(
            leads > 8_000 && spend > 1_000 && events > 40_000,
            "{counts:?}"
        );

        let again = ensure_demo_team(&db).await.expect("demo team again");
        assert_eq!(again, team, "reused as it was, not loaded again");
        assert_eq!(
            loaded::table_counts(&db, team.id).await.expect("counts"),
            counts
        );
    }

    #[tokio::test]
    async fn loading_in_several_transactions_stores_every_generated_row() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = fresh_db(&dir).await;
        let tz = Timezone::parse("UTC").expect("tz");
        let team = teams::create(&db, "t", "T", &tz).await.expect("team");
        let start = NaiveDate::from_ymd_opt(2025, 1, 6).expect("date");
        let spec = GenSpec {
            start,
            days: 21,
            as_of: crate::generate::GenSpec::bench().as_of,
            ..GenSpec::demo(
                start.and_hms_opt(0, 0, 0).expect("time").and_utc() + Duration::days(21),
            )
        };
        let mut generated = [0u64; 3];
        generate(&spec, |chunk| {
            match chunk {
                Chunk::Leads(r) => generated[0] += r.len() as u64,
                Chunk::Spend(r) => generated[1] += r.len() as u64,
                Chunk::Events(r) => generated[2] += r.len() as u64,
            }
            Ok(())
        })
        .expect("generated");
        let stats = load(&db, team.id, &spec, 500, |_| {})
            .await
            .expect("loaded");
        assert_eq!(
            [stats.leads.rows, stats.spend.rows, stats.events.rows],
            generated
        );
        let stored = loaded::table_counts(&db, team.id)
            .await
            .expect("counts")
            .map(|(_, n)| n);
        assert_eq!(stored, generated);
        let team = teams::find_by_id(&db, team.id)
            .await
            .expect("query")
            .expect("team");
        assert!(
            team.data_version > 1,
            "each transaction bumps the data version"
        );
    }
}
