//! The parser's side of an import, on its own thread: finds the header (past an export's
//! title lines and `#` comments), binds the mapping, turns each record into rows, and hands
//! full chunks to the writer while it counts, lists and rejects the bad ones.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::Arc;

use lodestar_core::rows::FieldError;
use lodestar_script::mapping::{Bound, Mapping};
use lodestar_script::{Budget, ScriptEngine};
use lodestar_store::ingest::{self, StoredRow};
use lodestar_store::writer::InsertForm;
use serde::Serialize;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use tokio::sync::mpsc;

use crate::decode::decode;
use crate::report::{Issue, Report};
use crate::{CHUNK, MAX_ISSUES, PREVIEW_ROWS};

/// Records read ahead to find the header of an export with title lines.
const LOOK_AHEAD: usize = 20;

pub(crate) enum Msg<R> {
    /// A chunk, prepared for the writer's form when there is one.
    Rows(Vec<R>, Option<ingest::Prepared>),
    /// The first bad row of an all-or-nothing import: stop writing.
    Abort,
    Done(Box<Report>),
}

pub(crate) struct Parser<R> {
    pub(crate) tx: mpsc::Sender<Msg<R>>,
    pub(crate) spent: std::sync::mpsc::Receiver<(Vec<R>, Option<ingest::Prepared>)>,
    pub(crate) form: Option<InsertForm>,
    pub(crate) team_id: i32,
    pub(crate) skip_invalid: bool,
    pub(crate) rejects: Option<csv::Writer<Box<dyn Write + Send>>>,
    pub(crate) engine: Arc<ScriptEngine>,
    pub(crate) budget: Arc<Budget>,
    pub(crate) chunk: Vec<R>,
    pub(crate) report: Report,
    pub(crate) aborted: bool,
}

impl<R: StoredRow + Serialize + 'static> Parser<R> {
    pub(crate) fn run(
        mut self,
        input: Box<dyn Read + Send>,
        json: bool,
        mapping: Option<Mapping>,
        mappings: Vec<Mapping>,
    ) {
        let result = if json {
            self.report.encoding = "utf-8";
            self.json(input)
        } else {
            self.csv(input, mapping.as_ref(), &mappings)
        };
        if let Err(message) = result {
            self.report.header_errors.push(Issue {
                line: None,
                index: None,
                column: None,
                field: String::new(),
                message,
            });
        }
        if !self.chunk.is_empty() && self.writing() {
            let chunk = std::mem::take(&mut self.chunk);
            self.send(chunk);
        }
        if let Some(w) = self.rejects.as_mut() {
            let _ = w.flush();
        }
        let report = std::mem::take(&mut self.report);
        let _ = self.tx.blocking_send(Msg::Done(Box::new(report)));
    }

    fn writing(&self) -> bool {
        !self.aborted && self.report.header_errors.is_empty()
    }

    fn csv(
        &mut self,
        input: Box<dyn Read + Send>,
        mapping: Option<&Mapping>,
        mappings: &[Mapping],
    ) -> Result<(), String> {
        let decoded = decode(input).map_err(|e| format!("cannot read the file: {e}"))?;
        self.report.encoding = decoded.encoding;
        self.report.delimiter = match decoded.delimiter {
            b'\t' => "tab".to_owned(),
            d => (d as char).to_string(),
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(decoded.delimiter)
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .from_reader(decoded.reader);
        let malformed = |e: csv::Error| match e.position() {
            Some(p) => format!("malformed CSV at line {}: {e}", p.line()),
            None => format!("malformed CSV: {e}"),
        };
        let mut ahead: VecDeque<csv::StringRecord> = VecDeque::new();
        for record in reader.records().take(LOOK_AHEAD) {
            ahead.push_back(record.map_err(malformed)?);
        }
        let cells = |r: &csv::StringRecord| -> Vec<String> {
            r.iter().map(|h| h.trim().to_owned()).collect()
        };
        self.report.matching_mappings = mappings
            .iter()
            .filter(|m| ahead.iter().any(|r| m.matches(&cells(r))))
            .map(|m| m.name.clone())
            .collect();
        let skip = mapping
            .and_then(|m| ahead.iter().position(|r| m.matches(&cells(r))))
            .unwrap_or(0);
        ahead.drain(..skip);
        let Some(header) = ahead.pop_front() else {
            return Err("the file is empty: expected a header line".to_owned());
        };
        let header_line = header.position().map(|p| p.line());
        let headers = cells(&header);
        let bound = match mapping {
            Some(m) => match m.bind(&self.engine, &headers) {
                Ok(bound) => Some(bound),
                Err(problems) => {
                    for p in problems {
                        self.header_issue(header_line, Some(p.column), p.message);
                    }
                    return Ok(());
                }
            },
            None => {
                for e in R::check_header(&headers) {
                    self.header_issue(header_line, Some(e.field), e.message);
                }
                if !self.report.header_errors.is_empty() {
                    return Ok(());
                }
                None
            }
        };
        let mut index = 0u64;
        let mut record = csv::StringRecord::new();
        loop {
            let next = match ahead.pop_front() {
                Some(r) => r,
                None => match reader.read_record(&mut record) {
                    Ok(true) => std::mem::take(&mut record),
                    Ok(false) => break,
                    Err(e) => return Err(malformed(e)),
                },
            };
            let line = next.position().map(|p| p.line());
            let values: Vec<&str> = next.iter().collect();
            if values.len() == 1 && values[0].trim().is_empty() {
                continue;
            }
            self.report.records += 1;
            let rows = match &bound {
                Some(bound) => self.mapped(bound, &values),
                None => R::from_csv(&headers, &values)
                    .map(|row| vec![row])
                    .map_err(|errors| errors.into_iter().map(|e| direct(&headers, e)).collect()),
            };
            match rows {
                Ok(rows) => {
                    if !self.accept(rows) {
                        break;
                    }
                }
                Err(issues) => self.reject(line, index, &headers, &values, issues),
            }
            index += 1;
        }
        Ok(())
    }

    fn mapped(&self, bound: &Bound<'_>, values: &[&str]) -> Result<Vec<R>, Vec<Issue>> {
        let mapped = bound
            .map(&self.engine, values, &self.budget)
            .map_err(|errors| {
                errors
                    .into_iter()
                    .map(|e| Issue {
                        line: None,
                        index: None,
                        column: e.column,
                        field: e.field,
                        message: e.message,
                    })
                    .collect::<Vec<_>>()
            })?;
        let mut rows = Vec::with_capacity(mapped.len());
        let mut issues = Vec::new();
        for m in mapped {
            let values: Vec<&str> = m.values.iter().map(String::as_str).collect();
            match R::from_csv(&m.fields, &values) {
                Ok(row) => rows.push(row),
                Err(errors) => issues.extend(errors.into_iter().map(|e| Issue {
                    line: None,
                    index: None,
                    column: bound.column_of(&e.field).map(str::to_owned),
                    field: e.field,
                    message: e.message,
                })),
            }
        }
        if issues.is_empty() {
            Ok(rows)
        } else {
            Err(issues)
        }
    }

    fn header_issue(&mut self, line: Option<u64>, column: Option<String>, message: String) {
        self.report.header_errors.push(Issue {
            line,
            index: None,
            field: String::new(),
            column,
            message,
        });
    }

    /// Takes good rows; `false` when the writer is gone.
    fn accept(&mut self, rows: Vec<R>) -> bool {
        for row in rows {
            self.report.rows += 1;
            if self.report.preview.len() < PREVIEW_ROWS
                && let Ok(value) = serde_json::to_value(&row)
            {
                self.report.preview.push(value);
            }
            if !self.writing() {
                continue;
            }
            self.chunk.push(row);
            if self.chunk.len() == CHUNK {
                let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
                if !self.send(full) {
                    return false;
                }
            }
        }
        true
    }

    fn reject(
        &mut self,
        line: Option<u64>,
        index: u64,
        headers: &[String],
        values: &[&str],
        issues: Vec<Issue>,
    ) {
        self.report.invalid += 1;
        if let Some(w) = self.rejects.as_mut() {
            if self.report.invalid == 1 {
                let mut head = vec!["line".to_owned()];
                head.extend(headers.iter().cloned());
                head.push("errors".to_owned());
                let _ = w.write_record(&head);
            }
            let mut out = vec![line.map_or(String::new(), |l| l.to_string())];
            out.extend(values.iter().map(|v| (*v).to_owned()));
            out.push(
                issues
                    .iter()
                    .map(|i| {
                        let at = i.column.as_deref().unwrap_or(&i.field);
                        if at.is_empty() {
                            i.message.clone()
                        } else {
                            format!("{at}: {}", i.message)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            let _ = w.write_record(&out);
        }
        for issue in issues {
            if self.report.errors.len() >= MAX_ISSUES {
                self.report.errors_truncated = true;
                break;
            }
            self.report.errors.push(Issue {
                line,
                index: Some(index),
                ..issue
            });
        }
        if !self.skip_invalid && !self.aborted {
            self.aborted = true;
            self.chunk.clear();
            let _ = self.tx.blocking_send(Msg::Abort);
        }
    }

    fn send(&self, chunk: Vec<R>) -> bool {
        self.spent.try_iter().for_each(drop);
        let prepared = self
            .form
            .map(|form| ingest::prepare(form, self.team_id, &chunk));
        self.tx.blocking_send(Msg::Rows(chunk, prepared)).is_ok()
    }

    /// Streams the elements of a top-level JSON array without holding the array in memory.
    fn json(&mut self, input: Box<dyn Read + Send>) -> Result<(), String> {
        struct Rows<'p, R>(&'p mut Parser<R>);

        impl<'de, R: StoredRow + Serialize + 'static> DeserializeSeed<'de> for Rows<'_, R> {
            type Value = ();
            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_seq(self)
            }
        }

        impl<'de, R: StoredRow + Serialize + 'static> Visitor<'de> for Rows<'_, R> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON array of rows")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                let mut index = 0;
                while let Some(value) = seq.next_element::<serde_json::Value>()? {
                    self.0.report.records += 1;
                    match R::from_json(&value) {
                        Ok(row) => {
                            if !self.0.accept(vec![row]) {
                                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                                break;
                            }
                        }
                        Err(errors) => {
                            let issues = errors.into_iter().map(|e| direct(&[], e)).collect();
                            self.0.reject(None, index, &[], &[], issues);
                        }
                    }
                    index += 1;
                }
                Ok(())
            }
        }

        let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(input));
        Rows(self)
            .deserialize(&mut de)
            .map_err(|e| format!("malformed JSON: {e}"))?;
        de.end().map_err(|e| format!("malformed JSON: {e}"))
    }
}

/// A field error of a row read straight from the file: its field is its column.
fn direct(headers: &[String], e: FieldError) -> Issue {
    let column = headers
        .iter()
        .find(|h| h.trim_start_matches('\u{feff}') == e.field)
        .cloned();
    Issue {
        line: None,
        index: None,
        column,
        field: e.field,
        message: e.message,
    }
}
