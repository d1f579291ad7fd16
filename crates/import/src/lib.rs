//! Imports: a file (CSV in any of the shapes spreadsheets and exporting tools write, or a JSON
//! array) into one team's table, straight or through a pack's mapping, in one transaction.
//!
//! - `decode`: encodings and delimiters;
//! - `parse`: the parser thread (header, mapping, rows, problems, rejects);
//! - `report`: what an import says;
//! - [`run`]: the writer side, all-or-nothing unless asked to skip invalid rows; a dry run
//!   reads the whole file and stores nothing.

mod decode;
mod parse;
mod report;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Instant;

use lodestar_core::rows::{EventRow, LeadRow, SpendRow};
use lodestar_script::ScriptEngine;
use lodestar_script::mapping::{Mapping, import_budget};
use lodestar_store::Db;
use lodestar_store::ingest::{self, StoredRow};
use serde::Serialize;
use tokio::sync::mpsc;

pub use decode::{Decoded, decode, guess_delimiter};
pub use report::{Issue, Report};

use parse::{Msg, Parser};

/// Rows per chunk handed to the writer.
const CHUNK: usize = 1000;
/// Problems listed in a report; the count of invalid rows stays exact beyond it.
pub const MAX_ISSUES: usize = 10_000;
/// Rows shown in a report's preview.
pub const PREVIEW_ROWS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Leads,
    Spend,
    Events,
}

impl Table {
    pub fn parse(name: &str) -> Option<Table> {
        match name {
            "leads" => Some(Table::Leads),
            "spend" => Some(Table::Spend),
            "events" => Some(Table::Events),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Table::Leads => "leads",
            Table::Spend => "spend",
            Table::Events => "events",
        }
    }
}

/// What to import and how.
pub struct Request {
    pub table: Table,
    pub input: Box<dyn Read + Send>,
    /// A JSON array rather than CSV.
    pub json: bool,
    /// The mapping to read the file through (CSV only).
    pub mapping: Option<Mapping>,
    /// Every mapping, to say which ones the file's header matches.
    pub mappings: Vec<Mapping>,
    pub engine: Arc<ScriptEngine>,
    pub dry_run: bool,
    /// Store the good rows and leave out the bad ones (listed, and written to `rejects`).
    pub skip_invalid: bool,
    /// Where the bad records go, as CSV: `line`, the record's cells, `errors`.
    pub rejects: Option<Box<dyn Write + Send>>,
    /// Called with the count of rows written so far, after each chunk.
    pub progress: Option<Box<dyn Fn(u64) + Send + Sync>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the mapping `{mapping}` loads {expected}, not {table}")]
    WrongTable {
        mapping: String,
        expected: String,
        table: &'static str,
    },
    #[error("mappings read CSV files, not JSON")]
    MappingOnJson,
    #[error(transparent)]
    Store(#[from] lodestar_store::error::StoreError),
}

/// Imports a file into `team_id`'s table (see [`Request`]).
pub async fn run(db: &Db, team_id: i32, request: Request) -> Result<Report, ImportError> {
    if let Some(m) = &request.mapping {
        if m.table != request.table.name() {
            return Err(ImportError::WrongTable {
                mapping: m.name.clone(),
                expected: m.table.clone(),
                table: request.table.name(),
            });
        }
        if request.json {
            return Err(ImportError::MappingOnJson);
        }
    }
    match request.table {
        Table::Leads => run_table::<LeadRow>(db, team_id, request).await,
        Table::Spend => run_table::<SpendRow>(db, team_id, request).await,
        Table::Events => run_table::<EventRow>(db, team_id, request).await,
    }
}

async fn run_table<R: StoredRow + Serialize + 'static>(
    db: &Db,
    team_id: i32,
    request: Request,
) -> Result<Report, ImportError> {
    let started = Instant::now();
    let txn = if request.dry_run {
        None
    } else {
        Some(db.begin_bulk().await?)
    };
    let (tx, mut rx) = mpsc::channel::<Msg<R>>(8);
    let (spent_tx, spent_rx) = std::sync::mpsc::channel();
    let parser = Parser::<R> {
        tx,
        spent: spent_rx,
        form: txn.as_ref().map(|t| t.writer().form()),
        team_id,
        skip_invalid: request.skip_invalid,
        rejects: request
            .rejects
            .map(|w| csv::WriterBuilder::new().flexible(true).from_writer(w)),
        engine: request.engine,
        budget: import_budget(),
        chunk: Vec::with_capacity(CHUNK),
        report: Report {
            table: R::TABLE_NAME,
            mapping: request.mapping.as_ref().map(|m| m.name.clone()),
            dry_run: request.dry_run,
            ..Report::default()
        },
        aborted: false,
    };
    let (input, json, mapping, mappings) = (
        request.input,
        request.json,
        request.mapping,
        request.mappings,
    );
    let thread = std::thread::spawn(move || parser.run(input, json, mapping, mappings));

    let mut written = 0u64;
    let mut counts = ingest::UpsertCounts::default();
    let mut aborted = false;
    let mut report = None;
    let mut loader = None;
    if let Some(txn) = &txn {
        lodestar_store::teams::bump_data_version(&txn.writer(), team_id).await?;
        loader = Some(ingest::Loader::new(txn.writer(), team_id).await?);
    }
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Rows(chunk, prepared) => {
                if let (Some(loader), Some(mut prepared)) = (loader.as_mut(), prepared)
                    && !aborted
                {
                    counts += loader.upsert_prepared(&chunk, &mut prepared).await?;
                    written += chunk.len() as u64;
                    if let Some(progress) = &request.progress {
                        progress(written);
                    }
                    let _ = spent_tx.send((chunk, Some(prepared)));
                }
            }
            Msg::Abort => aborted = true,
            Msg::Done(r) => {
                report = Some(*r);
                break;
            }
        }
    }
    drop(rx);
    let _ = thread.join();
    let mut report = report.unwrap_or_default();
    let keep = report.header_errors.is_empty() && (report.invalid == 0 || request.skip_invalid);
    let commit = keep && !aborted;
    match loader {
        Some(loader) if commit => loader.finish().await?,
        other => drop(other),
    }
    if let Some(txn) = txn {
        if commit {
            txn.commit().await?;
            report.stored = true;
            report.inserted = counts.inserted;
            report.updated = counts.updated;
        } else {
            txn.rollback().await?;
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
