//! Reading one `[[mapping]]` section of a `plugin.toml`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use lodestar_core::rows::{EventRow, InputRow, LeadRow, SpendRow};
use serde::Deserialize;

use super::{Decimal, Formats, Mapping, Rule, Source};
use crate::engine::CompiledScript;
use crate::error::ScriptError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingEntry {
    name: String,
    table: String,
    #[serde(default)]
    description: String,
    header: Vec<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    formats: Vec<String>,
    #[serde(default)]
    decimal: Decimal,
    #[serde(default)]
    script: Option<String>,
    #[serde(default)]
    columns: Option<BTreeMap<String, Source>>,
    #[serde(default)]
    repeat: Option<String>,
}

/// Why a `[[mapping]]` did not load.
pub(crate) enum MappingFailure {
    /// The section itself (reported at its line in `plugin.toml`).
    Declaration(String),
    /// Its script (reported in the script file).
    Script(PathBuf, ScriptError),
}

/// `[a-z0-9-]{1,64}`, starting with a letter: the shape of a mapping name.
pub fn is_valid_mapping_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    matches!(bytes.first(), Some(b'a'..=b'z'))
        && bytes.len() <= 64
        && bytes
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

fn fields_of(table: &str) -> Option<&'static [&'static str]> {
    match table {
        "leads" => Some(LeadRow::field_names()),
        "spend" => Some(SpendRow::field_names()),
        "events" => Some(EventRow::field_names()),
        _ => None,
    }
}

/// Reads a `[[mapping]]`; `script` loads and compiles a script file of the pack.
pub(crate) fn declare(
    table: toml::Table,
    pack: &str,
    script: impl FnOnce(&str) -> Result<(PathBuf, Arc<CompiledScript>), MappingFailure>,
) -> Result<Mapping, MappingFailure> {
    let fail = |m: String| MappingFailure::Declaration(m);
    let entry: MappingEntry = toml::Value::Table(table)
        .try_into()
        .map_err(|err: toml::de::Error| fail(err.message().to_string()))?;
    if !is_valid_mapping_name(&entry.name) {
        return Err(fail(format!(
            "name `{}` must be lowercase letters, digits and `-`, start with a letter, at most 64 long",
            entry.name
        )));
    }
    let Some(fields) = fields_of(&entry.table) else {
        return Err(fail(format!(
            "table `{}` must be one of leads, spend, events",
            entry.table
        )));
    };
    if entry.header.is_empty() {
        return Err(fail(
            "header must list the columns the export has (at least one)".into(),
        ));
    }
    let timezone = match &entry.timezone {
        None => chrono_tz::UTC,
        Some(tz) => tz
            .parse()
            .map_err(|_| fail(format!("timezone `{tz}` is not an IANA time zone name")))?,
    };
    let rule = match (entry.script, entry.columns) {
        (Some(file), None) => {
            if entry.repeat.is_some() {
                return Err(fail(
                    "repeat goes with columns; a script returns an array of rows instead".into(),
                ));
            }
            let (path, script) = script(&file)?;
            if !script.defines("map_row", 1) {
                return Err(MappingFailure::Script(
                    path,
                    ScriptError::new("a mapping script must define fn map_row(row)"),
                ));
            }
            Rule::Script { path, script }
        }
        (None, Some(columns)) => {
            for field in columns.keys() {
                let known = fields.contains(&field.as_str())
                    || (entry.table != "spend" && field.starts_with("attrs."));
                if !known {
                    let hint = lodestar_core::rows::suggest::closest(field, fields.iter().copied())
                        .map(|f| format!("; did you mean `{f}`?"))
                        .unwrap_or_default();
                    return Err(fail(format!(
                        "columns: `{field}` is not a field of {}{hint}",
                        entry.table
                    )));
                }
            }
            Rule::Columns {
                columns: columns.into_iter().collect(),
                repeat: entry.repeat,
            }
        }
        _ => {
            return Err(fail(
                "give either columns (a column map) or script (a file defining map_row), not both"
                    .into(),
            ));
        }
    };
    Ok(Mapping {
        name: entry.name,
        pack: pack.to_owned(),
        table: entry.table,
        description: entry.description,
        header: entry.header,
        formats: Formats {
            timezone,
            formats: entry.formats,
            decimal: entry.decimal,
        },
        rule,
    })
}
