//! What an import (or its dry run) says: counts, every problem at its line and column, a
//! preview of the rows as they would be stored, and the mappings whose header the file has.

use serde::Serialize;

/// One problem: a header problem (line 1 or where the header is) or one field of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// The file's line, 1-based as a spreadsheet shows it (the header is line 1); absent for
    /// JSON input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The row's 0-based position among the data rows; absent for the header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The file's column at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The Lodestar field at fault (empty for the row as a whole).
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.index) {
            (Some(line), _) => write!(f, "line {line}")?,
            (None, Some(index)) => write!(f, "row {index}")?,
            (None, None) => f.write_str("file")?,
        }
        match (&self.column, self.field.is_empty()) {
            (Some(column), _) => write!(f, ", column `{column}`")?,
            (None, false) => write!(f, ", {}", self.field)?,
            (None, true) => {}
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub table: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<String>,
    pub dry_run: bool,
    /// Whether anything was stored (false for a dry run and a refused file).
    pub stored: bool,
    /// Data records read from the file (not counting the header and what precedes it).
    pub records: u64,
    /// Rows that are (or would be) stored; a mapping may make several of one record, or none.
    pub rows: u64,
    /// Records with at least one problem: exact, however many problems are listed.
    pub invalid: u64,
    pub inserted: u64,
    pub updated: u64,
    /// Problems with the header, reported once (no row is read after one).
    pub header_errors: Vec<Issue>,
    /// Problems of rows, in file order (at most [`crate::MAX_ISSUES`]).
    pub errors: Vec<Issue>,
    /// Whether more problems were found than listed.
    pub errors_truncated: bool,
    /// The first rows as they will be stored.
    pub preview: Vec<serde_json::Value>,
    /// The mappings whose required columns the file has.
    pub matching_mappings: Vec<String>,
    pub delimiter: String,
    pub encoding: &'static str,
    pub seconds: f64,
}

impl Report {
    /// Whether an import (not a dry run) stored nothing: header problems, or bad rows
    /// without `--skip-invalid`.
    pub fn refused(&self) -> bool {
        !self.dry_run && !self.stored
    }
}
