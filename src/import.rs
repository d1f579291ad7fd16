//! `lodestar import`: streams a CSV or JSON file into a team in one transaction. Parsing runs on
//! its own thread and hands chunks to the writer, so memory stays flat and both cores work.
//! Any invalid row aborts the import and nothing of the file is stored.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use lodestar_core::rows::{EventRow, FieldError, LeadRow, SpendRow};
use lodestar_store::Db;
use lodestar_store::ingest::{self, StoredRow, UpsertCounts};
use lodestar_store::writer::InsertForm;
use serde::Serialize;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use tokio::sync::mpsc;

use crate::cli::Table;

const CHUNK: usize = 1000;
/// Stop collecting after this many bad rows: enough to fix a file, short enough to read.
const MAX_ERRORS: usize = 50;

#[derive(Debug, Serialize)]
pub struct ImportSummary {
    pub table: &'static str,
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
}

enum Msg<R> {
    /// A chunk and its keys, rollup facts and insert statement, prepared on the parser's thread.
    Rows(Vec<R>, ingest::Prepared),
    Failed(Vec<String>),
}

/// A written chunk, going back to the parser's thread to be freed there: glibc frees an
/// allocation fastest on the thread that made it, and the writer's thread is the one SQLite
/// waits for.
type Spent<R> = (Vec<R>, ingest::Prepared);

pub async fn import_file(
    db: &Db,
    team_id: i32,
    table: Table,
    path: &Path,
) -> anyhow::Result<ImportSummary> {
    match table {
        Table::Leads => import::<LeadRow>(db, team_id, path).await,
        Table::Spend => import::<SpendRow>(db, team_id, path).await,
        Table::Events => import::<EventRow>(db, team_id, path).await,
    }
}

async fn import<R: StoredRow + 'static>(
    db: &Db,
    team_id: i32,
    path: &Path,
) -> anyhow::Result<ImportSummary> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let is_csv = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("csv") => true,
        Some(e) if e.eq_ignore_ascii_case("json") => false,
        _ => bail!("{}: expected a .csv or .json file", path.display()),
    };
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(format!("importing {}", R::TABLE_NAME));
    let reader = BufReader::with_capacity(1 << 20, bar.wrap_read(file));

    let started = Instant::now();
    let txn = db.begin_bulk().await?;
    let (tx, mut rx) = mpsc::channel::<Msg<R>>(8);
    let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Spent<R>>();
    let target = Target {
        form: txn.writer().form(),
        team_id,
    };
    let parser = std::thread::spawn(move || {
        let mut batch = Batcher::new(tx, spent_rx, target);
        let result = if is_csv {
            parse_csv::<R, _>(reader, &mut batch)
        } else {
            parse_json::<R, _>(reader, &mut batch)
        };
        match result {
            Ok(()) => batch.finish(),
            Err(e) => batch.fail(vec![e]),
        }
    });

    lodestar_store::teams::bump_data_version(&txn.writer(), team_id).await?;
    let mut loader = ingest::Loader::new(txn.writer(), team_id).await?;
    let mut counts = UpsertCounts::default();
    let mut rows = 0u64;
    let mut failure = None;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Rows(chunk, mut prepared) => {
                rows += chunk.len() as u64;
                counts += loader.upsert_prepared(&chunk, &mut prepared).await?;
                let _ = spent_tx.send((chunk, prepared));
            }
            Msg::Failed(errors) => {
                failure = Some(errors);
                break;
            }
        }
    }
    drop(rx);
    let _ = parser.join();
    if let Some(errors) = failure {
        drop(loader);
        txn.rollback().await?;
        bar.abandon_with_message("import failed");
        bail!(
            "{}: nothing was imported:\n  {}",
            path.display(),
            errors.join("\n  ")
        );
    }
    loader.finish().await?;
    txn.commit().await?;
    bar.finish_with_message(format!("imported {rows} {}", R::TABLE_NAME));
    let seconds = started.elapsed().as_secs_f64();
    Ok(ImportSummary {
        table: R::TABLE_NAME,
        rows,
        inserted: counts.inserted,
        updated: counts.updated,
        seconds,
        rows_per_second: rows as f64 / seconds.max(1e-9),
    })
}

/// Sends full chunks while the file is clean; after the first bad row only collects errors.
struct Batcher<R> {
    tx: mpsc::Sender<Msg<R>>,
    spent: std::sync::mpsc::Receiver<Spent<R>>,
    target: Target,
    chunk: Vec<R>,
    errors: Vec<String>,
    bad_rows: usize,
}

/// Where the rows go, for building their statements ahead.
#[derive(Clone, Copy)]
struct Target {
    form: InsertForm,
    team_id: i32,
}

impl<R: StoredRow> Batcher<R> {
    fn new(
        tx: mpsc::Sender<Msg<R>>,
        spent: std::sync::mpsc::Receiver<Spent<R>>,
        target: Target,
    ) -> Self {
        Batcher {
            tx,
            spent,
            target,
            chunk: Vec::with_capacity(CHUNK),
            errors: Vec::new(),
            bad_rows: 0,
        }
    }

    /// `false` when the writer is gone or there are enough errors to stop reading.
    fn add(&mut self, index: usize, row: Result<R, Vec<FieldError>>) -> bool {
        match row {
            Ok(row) if self.bad_rows == 0 => {
                self.chunk.push(row);
                if self.chunk.len() == CHUNK {
                    let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
                    return self.send(full);
                }
                true
            }
            Ok(_) => true,
            Err(errs) => {
                self.bad_rows += 1;
                self.chunk.clear();
                for e in errs {
                    if self.errors.len() < MAX_ERRORS {
                        self.errors
                            .push(format!("row {index}: {}: {}", e.field, e.message));
                    }
                }
                self.errors.len() < MAX_ERRORS
            }
        }
    }

    fn finish(mut self) {
        if self.bad_rows > 0 {
            let mut errors = std::mem::take(&mut self.errors);
            errors.push(format!("{} invalid row(s) in all", self.bad_rows));
            self.fail(errors);
        } else if !self.chunk.is_empty() {
            let chunk = std::mem::take(&mut self.chunk);
            self.send(chunk);
        }
    }

    fn fail(self, errors: Vec<String>) {
        let _ = self.tx.blocking_send(Msg::Failed(errors));
    }

    fn send(&self, chunk: Vec<R>) -> bool {
        self.spent.try_iter().for_each(drop);
        let prepared = ingest::prepare(self.target.form, self.target.team_id, &chunk);
        self.tx.blocking_send(Msg::Rows(chunk, prepared)).is_ok()
    }
}

fn parse_csv<R: StoredRow, Rd: Read>(reader: Rd, batch: &mut Batcher<R>) -> Result<(), String> {
    let mut csv = csv::ReaderBuilder::new().from_reader(reader);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| format!("malformed CSV header: {e}"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut record = csv::StringRecord::new();
    let mut index = 0;
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let values: Vec<&str> = record.iter().collect();
                if !batch.add(index, R::from_csv(&headers, &values)) {
                    break;
                }
                index += 1;
            }
            Err(e) => return Err(format!("malformed CSV at data row {index}: {e}")),
        }
    }
    Ok(())
}

/// Streams the elements of a top-level JSON array without holding the array in memory.
fn parse_json<R: StoredRow, Rd: Read>(reader: Rd, batch: &mut Batcher<R>) -> Result<(), String> {
    struct Rows<'b, R>(&'b mut Batcher<R>);

    impl<'de, R: StoredRow> DeserializeSeed<'de> for Rows<'_, R> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de, R: StoredRow> Visitor<'de> for Rows<'_, R> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON array of rows")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut index = 0;
            while let Some(value) = seq.next_element::<serde_json::Value>()? {
                if !self.0.add(index, R::from_json(&value)) {
                    // Drain the rest so the parser reaches the end of the array.
                    while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                    break;
                }
                index += 1;
            }
            Ok(())
        }
    }

    let mut de = serde_json::Deserializer::from_reader(reader);
    Rows(batch)
        .deserialize(&mut de)
        .map_err(|e| format!("malformed JSON: {e}"))?;
    de.end().map_err(|e| format!("malformed JSON: {e}"))
}
