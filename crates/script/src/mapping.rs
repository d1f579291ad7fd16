//! Import mappings: how a CRM or ad-platform export becomes Lodestar rows. A pack declares them
//! as `[[mapping]]` in its `plugin.toml`: a name, the target table, the header columns the
//! export must have, and either a column map (target field = source column, a constant, or a
//! template) or a Rhai script whose `map_row(row)` returns a row, an array of rows or `()`.
//! Every produced cell then goes through the mapping's conversions ([`Formats`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use lodestar_core::rows::suggest;
use rhai::{Dynamic, Map};
use serde::{Deserialize, Serialize};

use crate::budget::Budget;
use crate::engine::{CompiledScript, MappingCall, ScriptEngine};
use crate::error::ScriptError;

mod convert;
mod declare;
pub use convert::{Decimal, Formats, number};
pub use declare::is_valid_mapping_name;
pub(crate) use declare::{MappingFailure, declare};

/// Most rows one export row may repeat into (`repeat`).
const MAX_REPEAT: i64 = 100_000;

/// A loaded mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub name: String,
    /// The pack that declares it.
    pub pack: String,
    /// `leads`, `spend` or `events`.
    pub table: String,
    pub description: String,
    /// Columns the export must have; `*` matches any text (`Amount spent (*)`).
    pub header: Vec<String>,
    pub formats: Formats,
    pub rule: Rule,
}

#[derive(Debug, Clone)]
pub enum Rule {
    /// Target field → where its text comes from; optionally one row per unit of a count column.
    Columns {
        columns: Vec<(String, Source)>,
        repeat: Option<String>,
    },
    Script {
        path: PathBuf,
        script: Arc<CompiledScript>,
    },
}

/// Where a target field's text comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Source {
    /// A column of the export, by header (`*` as a wildcard).
    Column(String),
    Spec(SourceSpec),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// A column of the export.
    #[serde(default)]
    pub column: Option<String>,
    /// A fixed value.
    #[serde(default)]
    pub value: Option<String>,
    /// Text with `{Column}` placeholders, e.g. `ga4-{Date}-{Session source / medium}`.
    #[serde(default)]
    pub template: Option<String>,
    /// Replaces whole cell values (`"Marketing Qualified Lead" = "mql"`); others pass.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

/// What `GET /api/v1/mappings` shows of a mapping.
#[derive(Debug, Clone, Serialize)]
pub struct MappingInfo {
    pub name: String,
    pub pack: String,
    pub table: String,
    pub description: String,
    pub header: Vec<String>,
    pub kind: &'static str,
}

impl Mapping {
    pub fn info(&self) -> MappingInfo {
        MappingInfo {
            name: self.name.clone(),
            pack: self.pack.clone(),
            table: self.table.clone(),
            description: self.description.clone(),
            header: self.header.clone(),
            kind: match self.rule {
                Rule::Columns { .. } => "columns",
                Rule::Script { .. } => "script",
            },
        }
    }

    /// Whether a file with `headers` has every column this mapping needs.
    pub fn matches(&self, headers: &[String]) -> bool {
        self.header
            .iter()
            .all(|pattern| find_column(headers, pattern).is_some())
    }

    /// Resolves the mapping's columns against a file's header: one problem per missing
    /// required column (with the closest header when it looks like a typo).
    pub fn bind(
        &self,
        engine: &ScriptEngine,
        headers: &[String],
    ) -> Result<Bound<'_>, Vec<HeaderProblem>> {
        let mut problems = Vec::new();
        for pattern in &self.header {
            if find_column(headers, pattern).is_none() {
                let hint = suggest::closest(pattern, headers.iter().map(String::as_str))
                    .map(|h| format!("; did you mean `{h}`?"))
                    .unwrap_or_default();
                problems.push(HeaderProblem {
                    column: pattern.clone(),
                    message: format!(
                        "the mapping `{}` needs a column `{pattern}`, which the file lacks{hint}",
                        self.name
                    ),
                });
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let kind = match &self.rule {
            Rule::Columns { columns, repeat } => BoundKind::Columns {
                cells: columns
                    .iter()
                    .map(|(field, source)| (field.clone(), BoundSource::new(source, headers)))
                    .collect(),
                repeat: repeat.as_deref().and_then(|c| find_column(headers, c)),
            },
            Rule::Script { script, path } => {
                BoundKind::Script(engine.mapping_call(script).map_err(|e| {
                    vec![HeaderProblem {
                        column: String::new(),
                        message: e.located(path),
                    }]
                })?)
            }
        };
        Ok(Bound {
            mapping: self,
            headers: headers.to_vec(),
            kind,
        })
    }
}

/// A required column the file lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderProblem {
    pub column: String,
    pub message: String,
}

/// The first header matching `pattern` (`*` matches any text, case is ignored).
fn find_column(headers: &[String], pattern: &str) -> Option<usize> {
    headers.iter().position(|h| glob(pattern, h.trim()))
}

fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.to_lowercase(), text.to_lowercase());
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.len() >= head.len() + tail.len() && text.starts_with(head) && text.ends_with(tail)
        }
    }
}

/// A mapping bound to one file's header.
pub struct Bound<'m> {
    mapping: &'m Mapping,
    headers: Vec<String>,
    kind: BoundKind,
}

enum BoundKind {
    Columns {
        cells: Vec<(String, BoundSource)>,
        repeat: Option<usize>,
    },
    Script(MappingCall),
}

enum BoundSource {
    Column {
        index: Option<usize>,
        values: BTreeMap<String, String>,
    },
    Value(String),
    Template(Vec<Part>),
}

enum Part {
    Text(String),
    Column(Option<usize>),
}

impl BoundSource {
    fn new(source: &Source, headers: &[String]) -> BoundSource {
        let spec = match source {
            Source::Column(column) => {
                return BoundSource::Column {
                    index: find_column(headers, column),
                    values: BTreeMap::new(),
                };
            }
            Source::Spec(spec) => spec,
        };
        if let Some(value) = &spec.value {
            return BoundSource::Value(value.clone());
        }
        if let Some(template) = &spec.template {
            let mut parts = Vec::new();
            let mut rest = template.as_str();
            while let Some(open) = rest.find('{') {
                let Some(close) = rest[open..].find('}') else {
                    break;
                };
                parts.push(Part::Text(rest[..open].to_owned()));
                parts.push(Part::Column(find_column(
                    headers,
                    &rest[open + 1..open + close],
                )));
                rest = &rest[open + close + 1..];
            }
            parts.push(Part::Text(rest.to_owned()));
            return BoundSource::Template(parts);
        }
        BoundSource::Column {
            index: spec.column.as_deref().and_then(|c| find_column(headers, c)),
            values: spec.values.clone(),
        }
    }

    fn text(&self, values: &[&str]) -> String {
        let cell = |index: &Option<usize>| {
            index
                .and_then(|i| values.get(i))
                .map_or("", |v| v.trim())
                .to_owned()
        };
        match self {
            BoundSource::Column { index, values: map } => {
                let text = cell(index);
                map.get(&text).cloned().unwrap_or(text)
            }
            BoundSource::Value(value) => value.clone(),
            BoundSource::Template(parts) => parts
                .iter()
                .map(|part| match part {
                    Part::Text(text) => text.clone(),
                    Part::Column(index) => cell(index),
                })
                .collect(),
        }
    }
}

/// One produced row: Lodestar field names and their canonical text, for `InputRow::from_csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedRow {
    pub fields: Vec<String>,
    pub values: Vec<String>,
}

/// A cell the mapping could not convert, or a script that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapError {
    /// The export's column at fault, when known.
    pub column: Option<String>,
    /// The Lodestar field, when known.
    pub field: String,
    pub message: String,
}

impl Bound<'_> {
    pub fn mapping(&self) -> &Mapping {
        self.mapping
    }

    /// The export's column a Lodestar field is read from, when it is read from one column.
    pub fn column_of(&self, field: &str) -> Option<&str> {
        match &self.kind {
            BoundKind::Columns { cells, .. } => {
                cells
                    .iter()
                    .find(|(f, _)| f == field)
                    .and_then(|(_, source)| match source {
                        BoundSource::Column { index: Some(i), .. } => {
                            self.headers.get(*i).map(String::as_str)
                        }
                        _ => None,
                    })
            }
            BoundKind::Script(_) => None,
        }
    }

    /// Maps one record of the export: no row (skipped), one, or several.
    pub fn map(
        &self,
        engine: &ScriptEngine,
        values: &[&str],
        budget: &Budget,
    ) -> Result<Vec<MappedRow>, Vec<MapError>> {
        match &self.kind {
            BoundKind::Columns { cells, repeat } => self.map_columns(cells, *repeat, values),
            BoundKind::Script(script) => self.map_script(engine, script, values, budget),
        }
    }

    fn map_columns(
        &self,
        cells: &[(String, BoundSource)],
        repeat: Option<usize>,
        values: &[&str],
    ) -> Result<Vec<MappedRow>, Vec<MapError>> {
        let mut errors = Vec::new();
        let mut row = MappedRow {
            fields: Vec::with_capacity(cells.len()),
            values: Vec::with_capacity(cells.len()),
        };
        for (field, source) in cells {
            let text = source.text(values);
            match self.mapping.formats.convert(field, &text) {
                Ok(text) => {
                    row.fields.push(field.clone());
                    row.values.push(text);
                }
                Err(message) => errors.push(MapError {
                    column: self.column_of(field).map(str::to_owned),
                    field: field.clone(),
                    message,
                }),
            }
        }
        let times = match repeat {
            None => 1,
            Some(index) => {
                let column = self.headers.get(index).cloned();
                let text = values.get(index).copied().unwrap_or("");
                let count = number(text, self.mapping.formats.decimal)
                    .ok()
                    .and_then(|n| {
                        n.parse::<i64>()
                            .ok()
                            .or(if n.is_empty() { Some(0) } else { None })
                    })
                    .filter(|n| (0..=MAX_REPEAT).contains(n));
                match count {
                    Some(n) => n,
                    None => {
                        errors.push(MapError {
                            column,
                            field: String::new(),
                            message: format!(
                                "expected a whole count from 0 to {MAX_REPEAT}, got `{text}`"
                            ),
                        });
                        0
                    }
                }
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        if repeat.is_none() {
            return Ok(vec![row]);
        }
        // Each unit becomes its own row, its id suffixed with its number: importing the same
        // export again replaces the same rows.
        let id = row.fields.iter().position(|f| f == "id");
        Ok((1..=times)
            .map(|n| {
                let mut copy = row.clone();
                if let Some(i) = id {
                    copy.values[i] = format!("{}-{n}", copy.values[i]);
                }
                copy
            })
            .collect())
    }

    fn map_script(
        &self,
        engine: &ScriptEngine,
        script: &MappingCall,
        values: &[&str],
        budget: &Budget,
    ) -> Result<Vec<MappedRow>, Vec<MapError>> {
        let mut row = Map::new();
        for (header, value) in self.headers.iter().zip(values) {
            row.insert(header.trim().into(), Dynamic::from(value.trim().to_owned()));
        }
        let script_error = |e: ScriptError| {
            let at = match e.line {
                Some(line) => format!(" (line {line})"),
                None => String::new(),
            };
            vec![MapError {
                column: None,
                field: String::new(),
                message: format!("map_row{at}: {}", e.message),
            }]
        };
        let value = engine
            .call_map_row(script, row, budget)
            .map_err(script_error)?;
        let maps: Vec<Dynamic> = if value.is_unit() {
            Vec::new()
        } else if value.is_map() {
            vec![value]
        } else if value.is_array() {
            value.into_array().unwrap_or_default()
        } else {
            return Err(script_error(ScriptError::new(format!(
                "must return a row (a map), an array of rows or (), not a {}",
                value.type_name()
            ))));
        };
        let mut rows = Vec::with_capacity(maps.len());
        let mut errors = Vec::new();
        for map in maps {
            let Some(map) = map.try_cast::<Map>() else {
                return Err(script_error(ScriptError::new(
                    "returned an array holding something other than rows (maps)",
                )));
            };
            let mut row = MappedRow {
                fields: Vec::with_capacity(map.len()),
                values: Vec::with_capacity(map.len()),
            };
            for (field, value) in map {
                let text = if value.is_unit() {
                    String::new()
                } else if value.is_string() {
                    value.into_string().unwrap_or_default()
                } else if value.is_int() || value.is_float() || value.is_bool() {
                    value.to_string()
                } else {
                    errors.push(MapError {
                        column: None,
                        field: field.to_string(),
                        message: format!(
                            "map_row gave a {} where text or a number belongs",
                            value.type_name()
                        ),
                    });
                    continue;
                };
                match self.mapping.formats.convert(&field, &text) {
                    Ok(text) => {
                        row.fields.push(field.to_string());
                        row.values.push(text);
                    }
                    Err(message) => errors.push(MapError {
                        column: None,
                        field: field.to_string(),
                        message,
                    }),
                }
            }
            rows.push(row);
        }
        if errors.is_empty() {
            Ok(rows)
        } else {
            Err(errors)
        }
    }
}

/// The budget of one import's mapping scripts: every row's run charges it.
pub fn import_budget() -> Arc<Budget> {
    Budget::new(std::time::Duration::from_secs(600), 2_000_000_000)
}

#[cfg(test)]
mod tests;
