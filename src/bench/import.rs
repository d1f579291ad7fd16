//! `lodestar bench --import-csv N`: writes N leads of the bench data set as CSV and times
//! `lodestar import` on them (the same function the command runs), with its peak memory. On
//! PostgreSQL it also times the floor in the same run: `psql \copy` of the same CSV into an
//! empty table shaped like the CSV with the leads table's indexes, before and after the import.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::SecondsFormat;
use lodestar_core::period::Timezone;
use lodestar_core::rows::LeadRow;
use lodestar_store::Db;
use lodestar_store::teams::{self, Team};
use serde_json::json;

use super::{MB, TIMEZONE, fmt_mb, peak_rss, print_all, reset_peak_rss};
use crate::generate::{Chunk, GenSpec, generate};

pub(super) async fn import_bench(
    db: &Db,
    url: &str,
    backend: &str,
    n: u64,
    dir: &Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("leads-{n}.csv"));
    eprintln!("bench: writing {n} generated leads to {}", path.display());
    let t0 = Instant::now();
    let csv_path = path.clone();
    tokio::task::spawn_blocking(move || write_leads_csv(&csv_path, n))
        .await
        .context("the CSV writer panicked")??;
    let write_seconds = t0.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

    let team = fresh_team(db, "bench-import").await?;
    let floor_before = if backend == "postgres" {
        Some(copy_floor(db, url, &path).await?)
    } else {
        None
    };
    reset_peak_rss();
    let engine = std::sync::Arc::new(lodestar_script::ScriptEngine::default());
    let options = crate::import::ImportOptions {
        mapping: None,
        skip_invalid: None,
        dry_run: false,
        progress: false,
    };
    let packs = lodestar_script::PackSet::default();
    let summary = crate::import::import_file(
        db,
        team.id,
        lodestar_import::Table::Leads,
        &path,
        &packs,
        engine,
        options,
    )
    .await?;
    if !summary.stored {
        bail!(
            "the bench import stored nothing: {:?}",
            summary.errors.first()
        );
    }
    let rows_per_second = summary.rows as f64 / summary.seconds.max(1e-9);
    let rss = peak_rss();
    let floor_after = match floor_before {
        Some(_) => Some(copy_floor(db, url, &path).await?),
        None => None,
    };
    let floor = floor_before.zip(floor_after).map(|(a, b)| a.min(b));
    let rate_ok = rows_per_second >= 100_000.0;
    let rss_ok = rss.is_some_and(|b| (b as f64) < 200.0 * MB);
    let report = vec![
        format!(
            "lodestar bench --import-csv {n}: {backend}, team `{}`; CSV {:.1} MB written in {:.1} s",
            team.slug,
            bytes as f64 / MB,
            write_seconds
        ),
        format!(
            "import: {} rows ({} inserted, {} updated) in {:.2} s: {:.0} rows/s (target >= 100000: {})",
            summary.rows,
            summary.inserted,
            summary.updated,
            summary.seconds,
            rows_per_second,
            if rate_ok { "ok" } else { "MISSED" }
        ),
        format!(
            "peak RSS while importing: {} (target < 200 MB: {})",
            fmt_mb(rss),
            if rss_ok { "ok" } else { "MISSED" }
        ),
    ];
    let mut report = report;
    if let (Some(floor), Some(a), Some(b)) = (floor, floor_before, floor_after) {
        report.push(format!(
            "psql \\copy floor (same CSV, empty table with the leads indexes): {a:.2} s before, {b:.2} s after; import / floor = {:.2} (target <= 1.5: {})",
            summary.seconds / floor,
            if summary.seconds / floor <= 1.5 { "ok" } else { "MISSED" }
        ));
    }
    let lines = vec![json!({
        "copy_floor_seconds": floor, "import_over_floor": floor.map(|f| summary.seconds / f),
        "bench": "import_csv", "backend": backend, "table": "leads", "rows": summary.rows,
        "inserted": summary.inserted, "updated": summary.updated, "seconds": summary.seconds,
        "rows_per_second": rows_per_second, "csv_mb": bytes as f64 / MB,
        "peak_rss_mb": rss.map(|b| b as f64 / MB), "target_rows_per_second": 100_000,
        "target_rss_mb": 200, "ok": rate_ok && rss_ok,
    })];
    print_all(&report, &lines)
}

/// Seconds `psql \copy` takes to load the CSV at `path` into a fresh table with the CSV's
/// columns (timestamps as `timestamptz`), a `bigserial` primary key and every other index of
/// `leads` (read from `pg_indexes`), the same team id on every row. It needs `psql` on the PATH.
async fn copy_floor(db: &Db, url: &str, path: &Path) -> anyhow::Result<f64> {
    use sea_orm::ConnectionTrait;
    let table = "bench_copy_floor";
    let stamp = |c: &str| format!("{c} timestamptz");
    let mut columns = vec![
        "team_id integer NOT NULL DEFAULT 1".to_owned(),
        "id varchar(200) NOT NULL".to_owned(),
        stamp("created_at"),
        "channel varchar(200)".to_owned(),
        "source varchar(200)".to_owned(),
        "campaign varchar(200)".to_owned(),
        "value numeric".to_owned(),
        "score integer".to_owned(),
        "region text".to_owned(),
    ];
    let stages = [
        "mql_at",
        "sal_at",
        "sql_at",
        "opportunity_at",
        "won_at",
        "lost_at",
        "churned_at",
    ];
    columns.extend(stages.iter().map(|c| stamp(c)));
    columns.push("deal_value numeric".to_owned());
    columns.insert(0, "pk bigserial PRIMARY KEY".to_owned());
    let mut ddl = format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({});",
        columns.join(", ")
    );
    // Every index of `leads` but its primary key, as the migrations made them.
    let indexes = db
        .conn()
        .query_all_raw(sea_orm::Statement::from_string(
            db.backend(),
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'leads' AND indexname <> 'leads_pkey'",
        ))
        .await?;
    for row in indexes {
        let def: String = row.try_get_by_index(0)?;
        let def = def
            .replace("INDEX leads_", &format!("INDEX {table}_"))
            .replace(" ON public.leads ", &format!(" ON {table} "))
            .replace(" ON leads ", &format!(" ON {table} "))
            .replace("ext_id", "id");
        ddl.push_str(&def);
        ddl.push(';');
    }
    db.conn().execute_unprepared(&ddl).await?;
    let names: Vec<&str> = LEAD_COLUMNS
        .iter()
        .map(|c| if *c == "attrs.region" { "region" } else { c })
        .collect();
    let command = format!(
        "\\copy {table} ({}) FROM '{}' WITH (FORMAT csv, HEADER true)",
        names.join(", "),
        path.display()
    );
    let started = Instant::now();
    let out = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", &command])
        .output()
        .context("running psql (is it installed?)")?;
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "psql \\copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    db.conn()
        .execute_unprepared(&format!("DROP TABLE {table}"))
        .await?;
    Ok(seconds)
}

/// `base`, or `base-2`, `base-3`… whichever does not exist yet, so every import inserts.
pub(super) async fn fresh_team(db: &Db, base: &str) -> anyhow::Result<Team> {
    let tz = Timezone::parse(TIMEZONE)?;
    for k in 1..1000 {
        let slug = if k == 1 {
            base.to_owned()
        } else {
            format!("{base}-{k}")
        };
        if teams::find_by_slug(db, &slug).await?.is_none() {
            return Ok(teams::create(db, &slug, "Import benchmark", &tz).await?);
        }
    }
    bail!("teams {base} to {base}-999 all exist: use a fresh database")
}

/// Marks "enough rows" so generation stops early; never reaches the user.
#[derive(Debug)]
pub(super) struct Enough;

impl std::fmt::Display for Enough {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("enough rows")
    }
}

impl std::error::Error for Enough {}

pub(super) const LEAD_COLUMNS: [&str; 16] = [
    "id",
    "created_at",
    "channel",
    "source",
    "campaign",
    "value",
    "score",
    "attrs.region",
    "mql_at",
    "sal_at",
    "sql_at",
    "opportunity_at",
    "won_at",
    "lost_at",
    "churned_at",
    "deal_value",
];

/// Writes exactly `n` leads of the bench data set (scaled to about `n`) as CSV.
pub(super) fn write_leads_csv(path: &Path, n: u64) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
    out.write_record(LEAD_COLUMNS)?;
    let mut written = 0u64;
    // A little more than needed, doubled until there is enough (tiny N are noisy).
    let mut factor = n as f64 / GenSpec::bench().expected_leads() * 1.1;
    while written < n {
        written = 0;
        let result = generate(&GenSpec::bench().scaled(factor), |chunk| {
            if let Chunk::Leads(rows) = chunk {
                for row in rows {
                    if written == n {
                        break;
                    }
                    out.write_record(lead_record(&row))?;
                    written += 1;
                }
                if written == n {
                    return Err(Enough.into());
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(e) if e.is::<Enough>() => {}
            Err(e) => return Err(e),
        }
        if written < n {
            // Start over with more leads per day; the partial file is rewritten.
            factor *= 2.0;
            out = csv::Writer::from_writer(std::io::BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(path)?,
            ));
            out.write_record(LEAD_COLUMNS)?;
        }
    }
    out.flush()?;
    Ok(())
}

pub(super) fn lead_record(l: &LeadRow) -> [String; 16] {
    let ts = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let attr = |k: &str| l.attrs.get(k).cloned().unwrap_or_default();
    [
        l.id.clone(),
        ts(Some(l.created_at)),
        text(&l.channel),
        text(&l.source),
        text(&l.campaign),
        l.value.map(|v| v.to_string()).unwrap_or_default(),
        l.score.map(|s| s.to_string()).unwrap_or_default(),
        attr("region"),
        ts(l.mql_at),
        ts(l.sal_at),
        ts(l.sql_at),
        ts(l.opportunity_at),
        ts(l.won_at),
        ts(l.lost_at),
        ts(l.churned_at),
        l.deal_value.map(|v| v.to_string()).unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_leads_round_trip_through_the_csv_import_format() {
        use lodestar_core::rows::InputRow;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("leads.csv");
        write_leads_csv(&path, 500).expect("CSV written");
        let mut reader = csv::Reader::from_path(&path).expect("CSV readable");
        let headers: Vec<String> = reader
            .headers()
            .expect("headers")
            .iter()
            .map(str::to_owned)
            .collect();
        let mut originals = Vec::new();
        generate(
            &GenSpec::bench().scaled(500.0 / GenSpec::bench().expected_leads() * 1.1),
            |chunk| {
                if let Chunk::Leads(rows) = chunk {
                    originals.extend(rows);
                }
                Ok(())
            },
        )
        .expect("generated");
        let mut n = 0;
        for (record, original) in reader.records().zip(&originals) {
            let record = record.expect("record");
            let values: Vec<&str> = record.iter().collect();
            let row = LeadRow::from_csv(&headers, &values).expect("a valid lead");
            assert_eq!(&row, original);
            n += 1;
        }
        assert_eq!(n, 500);
    }
}
