//! Reading one pack folder: its `plugin.toml`, each `[[kpi]]` entry and its script, each tree,
//! with every problem reported at its file, line and column instead of stopping the load.

use crate::engine::ScriptEngine;
use crate::error::ScriptError;
use crate::mapping::{self, Mapping, MappingFailure};
use lodestar_core::drivers::DriverTree;
use lodestar_core::tree::KpiTree;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use super::{
    KpiEntry, MAX_PLUGIN_FILE, PLUGIN_FILE, Pack, PackKpi, PackProblem, PluginFile,
    is_valid_kpi_key,
};

pub(super) struct PackLoader<'a> {
    pub(super) folder: String,
    pub(super) dir: PathBuf,
    pub(super) engine: &'a ScriptEngine,
    pub(super) problems: &'a mut Vec<PackProblem>,
}

impl PackLoader<'_> {
    pub(super) fn problem(
        &mut self,
        kpi: Option<String>,
        file: PathBuf,
        position: Option<(usize, usize)>,
        message: String,
    ) {
        self.problems.push(PackProblem {
            pack: self.folder.clone(),
            kpi,
            file,
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
            message,
        });
    }

    pub(super) fn load(&mut self) -> Option<Pack> {
        let plugin_path = self.dir.join(PLUGIN_FILE);
        let text = match read_bounded(&plugin_path, MAX_PLUGIN_FILE) {
            Ok(text) => text,
            Err(message) => {
                self.problem(None, plugin_path, None, message);
                return None;
            }
        };
        let plugin: PluginFile = match toml::from_str(&text) {
            Ok(plugin) => plugin,
            Err(err) => {
                let position = err.span().map(|span| line_column(&text, span.start));
                self.problem(None, plugin_path, position, err.message().to_string());
                return None;
            }
        };
        if plugin.pack.name.trim().is_empty() {
            self.problem(None, plugin_path, None, "[pack] name is empty".into());
            return None;
        }

        let mut kpis = Vec::with_capacity(plugin.kpi.len());
        let mut keys = BTreeSet::new();
        for (index, entry) in plugin.kpi.into_iter().enumerate() {
            let position = line_column(&text, entry.span().start);
            let table = entry.into_inner();
            let key = table
                .get("key")
                .and_then(|key| key.as_str())
                .map(str::to_string);
            let label = key.clone().unwrap_or_else(|| format!("#{}", index + 1));
            match self.load_kpi(table, &plugin.pack.name) {
                Ok(kpi) if !keys.insert(kpi.meta.key.clone()) => self.problem(
                    key,
                    plugin_path.clone(),
                    Some(position),
                    format!("key `{label}` is declared twice in this pack"),
                ),
                Ok(kpi) => kpis.push(kpi),
                Err(KpiFailure::Declaration(message)) => self.problem(
                    key,
                    plugin_path.clone(),
                    Some(position),
                    format!("[[kpi]] {label}: {message}"),
                ),
                Err(KpiFailure::Script(file, error)) => self.problem(
                    key,
                    file,
                    error.line.map(|line| (line, error.column.unwrap_or(1))),
                    error.message,
                ),
            }
        }

        let mut trees: Vec<KpiTree> = Vec::with_capacity(plugin.tree.len());
        for entry in plugin.tree {
            let position = line_column(&text, entry.span().start);
            let parsed = toml::Value::Table(entry.into_inner())
                .try_into::<KpiTree>()
                .map_err(|err| err.message().to_string())
                .and_then(|tree| tree.validate().map(|()| tree));
            match parsed {
                Ok(tree) if trees.iter().any(|t| t.slug == tree.slug) => self.problem(
                    None,
                    plugin_path.clone(),
                    Some(position),
                    format!("tree `{}` is declared twice in this pack", tree.slug),
                ),
                Ok(tree) => trees.push(tree),
                Err(message) => self.problem(
                    None,
                    plugin_path.clone(),
                    Some(position),
                    format!("[[tree]]: {message}"),
                ),
            }
        }
        let mut drivers: Vec<DriverTree> = Vec::with_capacity(plugin.driver.len());
        for entry in plugin.driver {
            let position = line_column(&text, entry.span().start);
            let parsed = toml::Value::Table(entry.into_inner())
                .try_into::<DriverTree>()
                .map_err(|err| err.message().to_string());
            match parsed {
                Ok(tree) if drivers.iter().any(|t| t.kpi == tree.kpi) => self.problem(
                    Some(tree.kpi.clone()),
                    plugin_path.clone(),
                    Some(position),
                    format!(
                        "the drivers of `{}` are declared twice in this pack",
                        tree.kpi
                    ),
                ),
                Ok(tree) => drivers.push(tree),
                Err(message) => self.problem(
                    None,
                    plugin_path.clone(),
                    Some(position),
                    format!("[[driver]]: {message}"),
                ),
            }
        }

        let mut mappings: Vec<Mapping> = Vec::with_capacity(plugin.mapping.len());
        for entry in plugin.mapping {
            let position = line_column(&text, entry.span().start);
            let table = entry.into_inner();
            let label = table
                .get("name")
                .and_then(|name| name.as_str())
                .unwrap_or("")
                .to_string();
            let loaded = mapping::declare(table, &plugin.pack.name, |file| {
                let path = self.script_path(file).map_err(|_| {
                    MappingFailure::Declaration(format!(
                        "script `{file}` must be a relative path inside the pack folder"
                    ))
                })?;
                let max = self.engine.limits().max_source_len as u64;
                let source = read_bounded(&path, max)
                    .map_err(|m| MappingFailure::Script(path.clone(), ScriptError::new(m)))?;
                let script = self
                    .engine
                    .compile(&source)
                    .map_err(|e| MappingFailure::Script(path.clone(), e))?;
                Ok((path, script))
            });
            match loaded {
                Ok(m) if mappings.iter().any(|other| other.name == m.name) => self.problem(
                    None,
                    plugin_path.clone(),
                    Some(position),
                    format!("mapping `{}` is declared twice in this pack", m.name),
                ),
                Ok(m) => mappings.push(m),
                Err(MappingFailure::Declaration(message)) => self.problem(
                    None,
                    plugin_path.clone(),
                    Some(position),
                    format!("[[mapping]] {label}: {message}"),
                ),
                Err(MappingFailure::Script(file, error)) => self.problem(
                    None,
                    file,
                    error.line.map(|line| (line, error.column.unwrap_or(1))),
                    error.message,
                ),
            }
        }

        Some(Pack {
            name: plugin.pack.name,
            version: plugin.pack.version,
            description: plugin.pack.description,
            dir: self.dir.clone(),
            kpis,
            trees,
            drivers,
            mappings,
        })
    }

    pub(super) fn load_kpi(&self, table: toml::Table, pack: &str) -> Result<PackKpi, KpiFailure> {
        let entry: KpiEntry = toml::Value::Table(table)
            .try_into()
            .map_err(|err: toml::de::Error| KpiFailure::Declaration(err.message().to_string()))?;
        let meta = entry.meta;
        if !is_valid_kpi_key(&meta.key) {
            return Err(KpiFailure::Declaration(format!(
                "key `{}` must be lowercase letters, digits and `_`, start with a letter, at most 64 long",
                meta.key
            )));
        }
        if meta.name.trim().is_empty() || meta.category.trim().is_empty() {
            return Err(KpiFailure::Declaration(
                "name and category must not be empty".into(),
            ));
        }
        let script_path = self.script_path(&entry.script)?;
        let max = self.engine.limits().max_source_len as u64;
        let source = read_bounded(&script_path, max).map_err(|message| {
            KpiFailure::Script(script_path.clone(), ScriptError::new(message))
        })?;
        let script = self
            .engine
            .compile(&source)
            .map_err(|error| KpiFailure::Script(script_path.clone(), error))?;
        Ok(PackKpi {
            meta,
            pack: pack.to_string(),
            script_path,
            source,
            script,
        })
    }

    /// The script must be a file inside the pack's own folder: packs may be uploaded, and
    /// `../../etc/passwd` is not a KPI script.
    pub(super) fn script_path(&self, script: &str) -> Result<PathBuf, KpiFailure> {
        let relative = Path::new(script);
        let inside = !script.is_empty()
            && relative
                .components()
                .all(|component| matches!(component, Component::Normal(_)));
        if !inside {
            return Err(KpiFailure::Declaration(format!(
                "script `{script}` must be a relative path inside the pack folder"
            )));
        }
        Ok(self.dir.join(relative))
    }
}

pub(super) enum KpiFailure {
    /// The `[[kpi]]` entry itself is wrong (reported at its line in `plugin.toml`).
    Declaration(String),
    /// Its script cannot be read or compiled (reported in the script file).
    Script(PathBuf, ScriptError),
}

pub(super) fn read_bounded(path: &Path, max: u64) -> Result<String, String> {
    let size = fs::metadata(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?
        .len();
    if size > max {
        return Err(format!(
            "{} is {size} bytes long; the limit is {max} bytes",
            path.display()
        ));
    }
    fs::read_to_string(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
