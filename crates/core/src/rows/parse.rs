//! Field readers shared by the three tables and by both input formats, and the two row drivers.
//!
//! A cell is either a JSON value or CSV text. Every reader accepts both, so JSON and CSV agree by
//! construction: text is trimmed and an empty cell is a missing value; in JSON, `null` (and an
//! empty string) is a missing value too.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::{FieldError, MAX_TEXT_CHARS, is_valid_attr_key};
use crate::money::{self, Micros};

/// One input value.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cell<'a> {
    Json(&'a Value),
    Text(&'a str),
}

/// `Ok(None)` is a missing value.
pub(super) type Parsed<T> = Result<Option<T>, String>;

const EXPECTED_STRING: &str = "expected a string";
const EXPECTED_NUMBER: &str = "expected a number";
const EXPECTED_INTEGER: &str = "expected an integer";

/// The trimmed text of a string cell.
fn text(cell: Cell<'_>) -> Parsed<&str> {
    let raw = match cell {
        Cell::Text(s) => s,
        Cell::Json(Value::String(s)) => s.as_str(),
        Cell::Json(Value::Null) => return Ok(None),
        Cell::Json(_) => return Err(EXPECTED_STRING.to_owned()),
    };
    // PostgreSQL cannot store it and SQLite would: refuse it on both.
    if raw.contains('\0') {
        return Err("contains a NUL character".to_owned());
    }
    let trimmed = raw.trim();
    Ok((!trimmed.is_empty()).then_some(trimmed))
}

fn check_length(s: &str) -> Result<(), String> {
    // Bytes bound characters from above, so most values skip the count.
    if s.len() > MAX_TEXT_CHARS && s.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("at most {MAX_TEXT_CHARS} characters"));
    }
    Ok(())
}

/// An id, a kind or a dimension value: trimmed, empty is missing, at most 200 characters.
pub(super) fn short_text(cell: Cell<'_>) -> Parsed<String> {
    let Some(s) = text(cell)? else {
        return Ok(None);
    };
    check_length(s)?;
    Ok(Some(s.to_owned()))
}

/// An RFC 3339 timestamp with any offset, as a UTC instant.
pub(super) fn timestamp(cell: Cell<'_>) -> Parsed<DateTime<Utc>> {
    let Some(s) = text(cell)? else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(s)
        .map(|at| Some(at.with_timezone(&Utc)))
        .map_err(|_| {
            format!(
                "expected an RFC 3339 timestamp such as 2026-11-03T14:30:00Z or 2026-11-03T09:30:00-05:00, got `{}`",
                shown(s)
            )
        })
}

/// A calendar date, exactly `YYYY-MM-DD`.
pub(super) fn date(cell: Cell<'_>) -> Parsed<NaiveDate> {
    let Some(s) = text(cell)? else {
        return Ok(None);
    };
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .map(|d| d.iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0')))
    };
    let parsed = if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        match (digits(0..4), digits(5..7), digits(8..10)) {
            (Some(y), Some(m), Some(d)) => i32::try_from(y)
                .ok()
                .and_then(|y| NaiveDate::from_ymd_opt(y, m, d)),
            _ => None,
        }
    } else {
        None
    };
    parsed.map(Some).ok_or_else(|| {
        format!(
            "expected a date YYYY-MM-DD such as 2026-11-03, got `{}`",
            shown(s)
        )
    })
}

/// An amount: a JSON number, or decimal text in CSV.
pub(super) fn amount(cell: Cell<'_>) -> Parsed<Micros> {
    match cell {
        Cell::Json(Value::Number(n)) => {
            let micros = match n.as_i64() {
                Some(units) => Micros::from_units(units),
                None => Micros::from_f64(n.as_f64().unwrap_or(f64::INFINITY)),
            };
            micros.map(Some)
        }
        Cell::Json(Value::Null) => Ok(None),
        Cell::Json(_) => Err(EXPECTED_NUMBER.to_owned()),
        Cell::Text(s) if s.trim().is_empty() => Ok(None),
        Cell::Text(s) => Micros::parse_str(s).map(Some),
    }
}

/// An amount that cannot be below zero (a lead's estimated value, a deal's value).
pub(super) fn non_negative_amount(cell: Cell<'_>) -> Parsed<Micros> {
    match amount(cell)? {
        Some(m) if m.0 < 0 => Err("must not be negative".to_owned()),
        other => Ok(other),
    }
}

/// A whole number. `860.0` is accepted (spreadsheets and data frames write integers that way),
/// `860.5` is not.
pub(super) fn integer(cell: Cell<'_>) -> Parsed<i64> {
    let scaled = match cell {
        Cell::Json(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            if n.is_u64() {
                return Err("too large".to_owned());
            }
            money::scaled_from_f64(n.as_f64().unwrap_or(f64::INFINITY), 0)
        }
        Cell::Json(Value::Null) => return Ok(None),
        Cell::Json(_) => return Err(EXPECTED_INTEGER.to_owned()),
        Cell::Text(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            if let Ok(i) = s.parse::<i64>() {
                return Ok(Some(i));
            }
            money::parse_scaled(s, 0)
        }
    };
    match scaled {
        Ok(scaled) if scaled.exact => Ok(Some(scaled.value)),
        Ok(_) | Err(money::DecimalError::Syntax | money::DecimalError::NotFinite) => {
            Err(EXPECTED_INTEGER.to_owned())
        }
        Err(money::DecimalError::OutOfRange) => Err("too large".to_owned()),
    }
}

/// An integer of at least 0.
pub(super) fn count(cell: Cell<'_>) -> Parsed<i64> {
    match integer(cell)? {
        Some(n) if n < 0 => Err("must be an integer of at least 0".to_owned()),
        n => Ok(n),
    }
}

/// A lead score: an integer from 0 to 100.
pub(super) fn score(cell: Cell<'_>) -> Parsed<i32> {
    match integer(cell)? {
        None => Ok(None),
        Some(n) => i32::try_from(n)
            .ok()
            .filter(|n| (0..=100).contains(n))
            .map(Some)
            .ok_or_else(|| "must be an integer from 0 to 100".to_owned()),
    }
}

/// `value` when present; otherwise `None` and a "required" error, unless the field already has an
/// error (a malformed value is reported once, as malformed).
pub(super) fn required<T>(
    value: Option<T>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    if value.is_none() && !errors.iter().any(|e| e.field == field) {
        errors.push(FieldError::new(field, "required"));
    }
    value
}

/// A long input cut for an error message.
fn shown(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// The fields of one table, by name.
pub(super) trait Field: Copy {
    fn from_name(name: &str) -> Option<Self>;
    fn name(self) -> &'static str;
    /// A distinct number below 64 per field.
    fn index(self) -> u32;
}

/// Defines a table's field enum from `Variant = "name"` pairs.
macro_rules! fields {
    ($name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum $name {
            $($variant),*
        }

        impl $name {
            #[cfg(test)]
            pub(super) const ALL: &'static [$name] = &[$($name::$variant),*];
            pub(super) const NAMES: &'static [&'static str] = &[$($text),*];
        }

        impl $crate::rows::parse::Field for $name {
            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }

            fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            fn index(self) -> u32 {
                self as u32
            }
        }
    };
}
pub(super) use fields;

/// A row being read: fields arrive in input order, `finish` checks what is required.
pub(super) trait Draft: Default {
    type Row;
    type Field: Field;

    fn set(&mut self, field: Self::Field, cell: Cell<'_>) -> Result<(), String>;

    /// The attributes read so far, or `None` when the table has no `attrs`.
    fn attrs_mut(&mut self) -> Option<&mut BTreeMap<String, String>>;

    /// The row, or `None` after pushing an error for each missing required field.
    fn finish(self, errors: &mut Vec<FieldError>) -> Option<Self::Row>;
}

fn unknown(name: &str) -> FieldError {
    FieldError::new(name, format!("unknown field `{}`", shown(name)))
}

fn complete<D: Draft>(draft: D, mut errors: Vec<FieldError>) -> Result<D::Row, Vec<FieldError>> {
    match draft.finish(&mut errors) {
        Some(row) if errors.is_empty() => Ok(row),
        _ => Err(errors),
    }
}

pub(super) fn from_json<D: Draft>(value: &Value) -> Result<D::Row, Vec<FieldError>> {
    let Value::Object(map) = value else {
        return Err(vec![FieldError::new(
            "",
            "expected an object with the row's fields",
        )]);
    };
    let mut draft = D::default();
    let mut errors = Vec::new();
    for (name, value) in map {
        if let Some(field) = D::Field::from_name(name) {
            if let Err(message) = draft.set(field, Cell::Json(value)) {
                errors.push(FieldError::new(field.name(), message));
            }
        } else if name == "attrs"
            && let Some(attrs) = draft.attrs_mut()
        {
            match value {
                Value::Object(object) => {
                    for (key, value) in object {
                        json_attr(attrs, key, value, &mut errors);
                    }
                }
                Value::Null => {}
                _ => errors.push(FieldError::new("attrs", EXPECTED_ATTRS)),
            }
        } else {
            errors.push(unknown(name));
        }
    }
    complete(draft, errors)
}

pub(super) fn from_csv<D: Draft>(
    headers: &[String],
    values: &[&str],
) -> Result<D::Row, Vec<FieldError>> {
    let mut draft = D::default();
    let mut errors = Vec::new();
    if headers.len() != values.len() {
        errors.push(FieldError::new(
            "",
            format!(
                "the row has {} cells but the header has {} columns",
                values.len(),
                headers.len()
            ),
        ));
    }
    let mut seen: u64 = 0;
    for (header, value) in headers.iter().zip(values) {
        // Spreadsheets save a byte order mark before the first header.
        let name = header.trim_start_matches('\u{feff}').trim();
        if let Some(field) = D::Field::from_name(name) {
            let bit = 1u64 << field.index();
            if seen & bit != 0 {
                errors.push(FieldError::new(name, "column given twice"));
                continue;
            }
            seen |= bit;
            if let Err(message) = draft.set(field, Cell::Text(value)) {
                errors.push(FieldError::new(name, message));
            }
        } else if name.starts_with("attrs")
            && let Some(attrs) = draft.attrs_mut()
        {
            if name == "attrs" {
                csv_attrs_object(attrs, value, &mut errors);
            } else if name.starts_with("attrs.") {
                csv_attr(attrs, name, value, &mut errors);
            } else {
                errors.push(unknown(name));
            }
        } else {
            errors.push(unknown(name));
        }
    }
    complete(draft, errors)
}

const EXPECTED_ATTRS: &str = "expected a flat object such as {\"region\":\"EMEA\"}";
const BAD_ATTR_KEY: &str = "attribute keys are 1 to 64 letters, digits, `_` or `-`";

/// Adds one attribute from a JSON value: strings are kept (trimmed; empty is missing), numbers and
/// booleans become their text, `null` is missing, anything nested is an error.
fn json_attr(
    attrs: &mut BTreeMap<String, String>,
    key: &str,
    value: &Value,
    errors: &mut Vec<FieldError>,
) {
    let field = || format!("attrs.{key}");
    if !is_valid_attr_key(key) {
        errors.push(FieldError::new(field(), BAD_ATTR_KEY));
        return;
    }
    let text = match value {
        Value::Null => return,
        Value::String(_) => match short_text(Cell::Json(value)) {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(message) => return errors.push(FieldError::new(field(), message)),
        },
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(_) | Value::Object(_) => {
            return errors.push(FieldError::new(
                field(),
                "expected a string, number or boolean: attrs are flat",
            ));
        }
    };
    insert_attr(attrs, key, text, errors);
}

/// Adds one attribute from an `attrs.<key>` column.
fn csv_attr(
    attrs: &mut BTreeMap<String, String>,
    column: &str,
    value: &str,
    errors: &mut Vec<FieldError>,
) {
    let key = &column["attrs.".len()..];
    if !is_valid_attr_key(key) {
        return errors.push(FieldError::new(column, BAD_ATTR_KEY));
    }
    match short_text(Cell::Text(value)) {
        Ok(Some(text)) => insert_attr(attrs, key, text, errors),
        Ok(None) => {}
        Err(message) => errors.push(FieldError::new(column, message)),
    }
}

/// Adds the attributes of an `attrs` column holding a JSON object.
fn csv_attrs_object(
    attrs: &mut BTreeMap<String, String>,
    value: &str,
    errors: &mut Vec<FieldError>,
) {
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    match serde_json::from_str::<serde_json::Map<String, Value>>(value) {
        Ok(object) => {
            for (key, value) in &object {
                json_attr(attrs, key, value, errors);
            }
        }
        Err(_) => errors.push(FieldError::new("attrs", EXPECTED_ATTRS)),
    }
}

fn insert_attr(
    attrs: &mut BTreeMap<String, String>,
    key: &str,
    text: String,
    errors: &mut Vec<FieldError>,
) {
    if attrs.contains_key(key) {
        errors.push(FieldError::new(format!("attrs.{key}"), "given twice"));
    } else {
        attrs.insert(key.to_owned(), text);
    }
}

#[cfg(test)]
mod tests;
