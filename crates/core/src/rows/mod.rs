//! The rows a team loads (spec/KPIS.md, "Data model"), parsed and validated one at a time from a
//! JSON value or a CSV record. Both paths read the same fields with the same rules, so a file gives
//! the same rows whichever format it comes in, and every error of a row is reported at once.

mod event;
mod lead;
mod parse;
mod spend;
pub mod suggest;

use serde::{Deserialize, Serialize};

pub use event::EventRow;
pub use lead::LeadRow;
pub use spend::{SpendCategory, SpendRow};

/// What is wrong with one field of one row. `field` is the input's field name (`created_at`,
/// `attrs.region`), or empty when the row as a whole is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// A row of one of the three tables.
pub trait InputRow: Sized + Send {
    /// `leads`, `spend` or `events`.
    const TABLE_NAME: &'static str;

    /// Reads a row from a JSON object. Unknown fields are errors, so a typo never loses data.
    fn from_json(value: &serde_json::Value) -> Result<Self, Vec<FieldError>>;

    /// Reads a row from a CSV record under `headers` (as in the file). An empty cell is a missing
    /// value; attributes come as `attrs.<key>` columns, or as a JSON object in an `attrs` column.
    fn from_csv(headers: &[String], values: &[&str]) -> Result<Self, Vec<FieldError>>;

    /// The upsert key as one string: rows with equal keys are the same row.
    fn key(&self) -> String;

    /// The names of the row's fields, as columns and JSON keys (besides `attrs`).
    fn field_names() -> &'static [&'static str];

    /// Checks a CSV header once, before any row: each unknown column, with the closest field
    /// name when it looks like a typo, and each column given twice.
    fn check_header(headers: &[String]) -> Vec<FieldError> {
        let fields = Self::field_names();
        let mut errors = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for header in headers {
            let name = header.trim_start_matches('\u{feff}').trim();
            if !seen.insert(name) {
                errors.push(FieldError::new(name, "column given twice"));
            } else if fields.contains(&name)
                || ((name == "attrs" || name.starts_with("attrs.")) && Self::TABLE_NAME != "spend")
            {
                continue;
            } else {
                let hint = suggest::closest(name, fields.iter().copied())
                    .map(|f| format!("; did you mean `{f}`?"))
                    .unwrap_or_else(|| format!("; the columns are {}", fields.join(", ")));
                errors.push(FieldError::new(
                    name,
                    format!("unknown column `{name}`{hint}"),
                ));
            }
        }
        errors
    }
}

/// Longest accepted id, kind or dimension value, in characters.
pub const MAX_TEXT_CHARS: usize = 200;
/// Longest accepted attribute key, in bytes (keys are ASCII).
pub const MAX_ATTR_KEY_LEN: usize = 64;

/// Whether `key` is a valid attribute key: 1 to 64 ASCII letters, digits, `_` or `-`.
pub fn is_valid_attr_key(key: &str) -> bool {
    (1..=MAX_ATTR_KEY_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;
    use std::fmt::Debug;

    use serde_json::Value;

    use super::*;

    fn fixture(table: &str) -> Vec<Value> {
        let path = format!(
            "{}/../../../shared/fixtures/small/{table}.json",
            // Read at run time: `env!` bakes in the checkout that compiled the test binary.
            std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("the small fixtures are readable");
        serde_json::from_str(&text).expect("the fixture is a JSON array")
    }

    fn parse_all<R: InputRow + Debug>(rows: &[Value]) -> Vec<R> {
        rows.iter()
            .enumerate()
            .map(|(i, row)| R::from_json(row).unwrap_or_else(|e| panic!("row {i}: {e:?}")))
            .collect()
    }

    /// The same rows as a CSV file would carry them: one column per field, `attrs.<key>` columns,
    /// numbers as a JSON writer prints them, empty cells where a field is missing.
    fn as_csv(rows: &[Value]) -> (Vec<String>, Vec<Vec<String>>) {
        let mut headers = BTreeSet::new();
        for row in rows {
            for (key, value) in row.as_object().unwrap() {
                match value {
                    Value::Object(attrs) => {
                        headers.extend(attrs.keys().map(|k| format!("{key}.{k}")));
                    }
                    _ => {
                        headers.insert(key.clone());
                    }
                }
            }
        }
        let headers: Vec<String> = headers.into_iter().collect();
        let cell = |value: Option<&Value>| match value {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let records = rows
            .iter()
            .map(|row| {
                headers
                    .iter()
                    .map(|header| match header.split_once('.') {
                        Some((object, key)) => cell(row.get(object).and_then(|o| o.get(key))),
                        None => cell(row.get(header)),
                    })
                    .collect()
            })
            .collect();
        (headers, records)
    }

    fn same_from_csv<R: InputRow + Debug + PartialEq>(table: &str) -> usize {
        let rows = fixture(table);
        let from_json: Vec<R> = parse_all(&rows);
        let (headers, records) = as_csv(&rows);
        for (i, (record, expected)) in records.iter().zip(&from_json).enumerate() {
            let values: Vec<&str> = record.iter().map(String::as_str).collect();
            let from_csv =
                R::from_csv(&headers, &values).unwrap_or_else(|e| panic!("row {i}: {e:?}"));
            assert_eq!(&from_csv, expected, "{table} row {i}");
        }
        records.len()
    }

    fn round_trips<R: InputRow + Debug + PartialEq + Serialize>(table: &str) {
        for (i, row) in parse_all::<R>(&fixture(table)).into_iter().enumerate() {
            let json = serde_json::to_value(&row).unwrap();
            assert_eq!(R::from_json(&json).unwrap(), row, "{table} row {i}");
        }
    }

    #[test]
    fn every_row_of_the_small_fixtures_parses() {
        let leads: Vec<LeadRow> = parse_all(&fixture("leads"));
        let spend: Vec<SpendRow> = parse_all(&fixture("spend"));
        let events: Vec<EventRow> = parse_all(&fixture("events"));
        assert_eq!((leads.len(), spend.len(), events.len()), (212, 234, 600));

        assert_eq!(leads[0].id, "L7-0000");
        assert_eq!(leads[1].value, Some(crate::money::Micros(237_920_000)));
        assert_eq!(leads[1].attrs["region"], "EMEA");
        assert_eq!(spend[0].key(), "2026-10-01|paid_search|brand|advertising");
        assert_eq!(spend[1].amount, crate::money::Micros(126_930_000));
        assert_eq!(events[0].kind, "revenue");
        assert_eq!(events[1].attrs["action"], "email_click");
    }

    #[test]
    fn csv_gives_the_same_rows_as_json_for_the_fixtures() {
        assert_eq!(same_from_csv::<LeadRow>("leads"), 212);
        assert_eq!(same_from_csv::<SpendRow>("spend"), 234);
        assert_eq!(same_from_csv::<EventRow>("events"), 600);
    }

    #[test]
    fn a_serialized_row_reads_back_as_the_same_row() {
        round_trips::<LeadRow>("leads");
        round_trips::<SpendRow>("spend");
        round_trips::<EventRow>("events");
    }

    #[test]
    fn table_names_are_the_spec_names() {
        assert_eq!(
            [
                LeadRow::TABLE_NAME,
                SpendRow::TABLE_NAME,
                EventRow::TABLE_NAME
            ],
            ["leads", "spend", "events"]
        );
    }

    #[test]
    fn field_errors_serialize_with_field_and_message() {
        let error = FieldError::new("created_at", "required");
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            serde_json::json!({"field": "created_at", "message": "required"})
        );
        assert_eq!(error.to_string(), "created_at: required");
    }
}
