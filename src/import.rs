//! `lodestar import`: a file into a team through `lodestar_import`, with a progress bar that
//! counts the rows written, and a summary for people (or the JSON report behind `--json`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use lodestar_import::{Report, Request, Table};
use lodestar_script::{PackSet, ScriptEngine};
use lodestar_store::Db;

/// How `lodestar import` was asked to run.
pub struct ImportOptions {
    pub mapping: Option<String>,
    pub skip_invalid: Option<PathBuf>,
    pub dry_run: bool,
    /// Show a progress bar (not for `--json` or the benchmark).
    pub progress: bool,
}

/// Imports `path` into `team_id`'s `table`; the report says what happened, whether or not the
/// file was refused.
pub async fn import_file(
    db: &Db,
    team_id: i32,
    table: Table,
    path: &Path,
    packs: &PackSet,
    engine: Arc<ScriptEngine>,
    options: ImportOptions,
) -> anyhow::Result<Report> {
    let json = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => true,
        Some(e)
            if ["csv", "tsv", "txt"]
                .iter()
                .any(|x| e.eq_ignore_ascii_case(x)) =>
        {
            false
        }
        _ => bail!(
            "{}: expected a .csv (or .tsv, .txt) or .json file",
            path.display()
        ),
    };
    let mapping = match &options.mapping {
        None => None,
        Some(name) => match packs.mapping(name) {
            Some(m) => Some(m.clone()),
            None => {
                let names: Vec<&str> = packs.mappings().map(|m| m.name.as_str()).collect();
                bail!(
                    "no mapping `{name}`; the mappings are: {}",
                    if names.is_empty() {
                        "(none: no packs loaded)".to_owned()
                    } else {
                        names.join(", ")
                    }
                );
            }
        },
    };
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let rejects: Option<Box<dyn std::io::Write + Send>> = match &options.skip_invalid {
        Some(out) => Some(Box::new(
            File::create(out).with_context(|| format!("creating {}", out.display()))?,
        )),
        None => None,
    };
    let bar = if options.progress {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}: {pos} rows written ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(format!("importing {}", table.name()));
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Some(bar)
    } else {
        None
    };
    let progress_bar = bar.clone();
    let request = Request {
        table,
        input: Box::new(file),
        json,
        mapping,
        mappings: packs.mappings().cloned().collect(),
        engine,
        dry_run: options.dry_run,
        skip_invalid: options.skip_invalid.is_some(),
        rejects,
        progress: progress_bar.map(|bar| {
            Box::new(move |rows: u64| bar.set_position(rows)) as Box<dyn Fn(u64) + Send + Sync>
        }),
    };
    let report = lodestar_import::run(db, team_id, request).await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(report)
}

/// The summary people read.
pub fn summary(report: &Report, path: &Path, rejects: Option<&Path>) -> String {
    let mut out = String::new();
    let through = report
        .mapping
        .as_deref()
        .map(|m| format!(" through mapping `{m}`"))
        .unwrap_or_default();
    let issues = |out: &mut String, list: &[lodestar_import::Issue]| {
        for issue in list.iter().take(20) {
            out.push_str(&format!("  {issue}\n"));
        }
        if list.len() > 20 {
            out.push_str(&format!("  … and {} more\n", list.len() - 20));
        }
    };
    if !report.header_errors.is_empty() {
        out.push_str(&format!(
            "{}: nothing was imported: the header is not usable{through}:\n",
            path.display()
        ));
        issues(&mut out, &report.header_errors);
        if !report.matching_mappings.is_empty() {
            out.push_str(&format!(
                "  mappings that fit this file: {} (use --mapping NAME)\n",
                report.matching_mappings.join(", ")
            ));
        }
        return out;
    }
    let verb = if report.dry_run {
        "would import"
    } else {
        "imported"
    };
    if report.stored || report.dry_run {
        out.push_str(&format!(
            "{}: {verb} {} {} from {} records{through} in {:.1} s",
            path.display(),
            report.rows,
            report.table,
            report.records,
            report.seconds
        ));
        if report.stored {
            out.push_str(&format!(
                " ({} new, {} updated)",
                report.inserted, report.updated
            ));
        }
        out.push('\n');
        if report.invalid > 0 {
            out.push_str(&format!(
                "{} invalid record(s) {}:\n",
                report.invalid,
                match (rejects, report.dry_run) {
                    (_, true) => "would stop the import".to_owned(),
                    (Some(file), _) => format!("left out, written to {}", file.display()),
                    (None, _) => "left out".to_owned(),
                }
            ));
            issues(&mut out, &report.errors);
        }
    } else {
        out.push_str(&format!(
            "{}: nothing was imported: {} invalid record(s) of {}{through} (fix them, or load the others with --skip-invalid REJECTS.csv):\n",
            path.display(),
            report.invalid,
            report.records
        ));
        issues(&mut out, &report.errors);
    }
    out
}
