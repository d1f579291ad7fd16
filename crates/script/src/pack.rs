use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use lodestar_core::catalog::{Direction, Kind, Unit};
use lodestar_core::drivers::DriverTree;
use lodestar_core::tree::KpiTree;
use serde::de::{self, Deserializer, EnumAccess, VariantAccess};
use serde::{Deserialize, Serialize};

use crate::engine::{CompiledScript, ScriptEngine};
use crate::error::ScriptError;

/// The file that makes a folder under `scripts/` a KPI pack.
pub const PLUGIN_FILE: &str = "plugin.toml";

/// Longest `plugin.toml` read, in bytes.
const MAX_PLUGIN_FILE: u64 = 256 * 1024;

/// What a custom KPI declares about itself, in a pack or over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KpiMeta {
    pub key: String,
    pub name: String,
    #[serde(deserialize_with = "unit_by_name")]
    pub unit: Unit,
    #[serde(deserialize_with = "direction_by_name")]
    pub direction: Direction,
    pub kind: Kind,
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The names `plugin.toml` accepts for `unit` and `direction`, as the catalog serialises them.
const UNIT_NAMES: &[&str] = &["count", "currency", "percent", "ratio", "days", "score"];
const DIRECTION_NAMES: &[&str] = &["higher_is_better", "lower_is_better"];

// The catalog's `Unit` and `Direction` serialise but do not deserialise (`core` parses them
// with `parse`). These read them the way a derived `Deserialize` would, so a bad value in
// `plugin.toml` keeps serde's message: "unknown variant `furlongs`, expected one of …".
fn unit_by_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Unit, D::Error> {
    deserializer.deserialize_enum(
        "Unit",
        UNIT_NAMES,
        ByName {
            name: "Unit",
            variants: UNIT_NAMES,
            parse: Unit::parse,
        },
    )
}

fn direction_by_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Direction, D::Error> {
    deserializer.deserialize_enum(
        "Direction",
        DIRECTION_NAMES,
        ByName {
            name: "Direction",
            variants: DIRECTION_NAMES,
            parse: Direction::parse,
        },
    )
}

/// A visitor for a unit-only enum whose variants are parsed from their names.
struct ByName<T> {
    name: &'static str,
    variants: &'static [&'static str],
    parse: fn(&str) -> Option<T>,
}

impl<'de, T> de::Visitor<'de> for ByName<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "enum {}", self.name)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<T, A::Error> {
        let (name, variant): (String, _) = data.variant()?;
        let value =
            (self.parse)(&name).ok_or_else(|| de::Error::unknown_variant(&name, self.variants))?;
        variant.unit_variant()?;
        Ok(value)
    }
}

/// `[a-z][a-z0-9_]{0,63}`: the shape of every KPI key.
pub fn is_valid_kpi_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    matches!(bytes.first(), Some(b'a'..=b'z'))
        && bytes.len() <= 64
        && bytes
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// A KPI loaded from a pack, compiled and ready to run.
#[derive(Debug, Clone)]
pub struct PackKpi {
    pub meta: KpiMeta,
    /// The name of the pack that declares it.
    pub pack: String,
    pub script_path: PathBuf,
    pub source: String,
    pub script: Arc<CompiledScript>,
}

#[derive(Debug, Clone)]
pub struct Pack {
    pub name: String,
    pub version: String,
    pub description: String,
    pub dir: PathBuf,
    /// The pack's KPIs that loaded; the broken ones are in [`PackSet::problems`].
    pub kpis: Vec<PackKpi>,
    /// `[[tree]]` sections: KPI trees (with `[[tree.branch]]`, nested as deep as needed).
    pub trees: Vec<KpiTree>,
    /// `[[driver]]` sections: KPIs declared as a product (`factors`) or sum (`terms`) of others.
    pub drivers: Vec<DriverTree>,
}

/// Something wrong in a pack: the pack (or one KPI of it) is left out, the rest still loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackProblem {
    /// The pack's folder name.
    pub pack: String,
    /// The KPI concerned, when the problem is one KPI's.
    pub kpi: Option<String>,
    /// The file at fault (`plugin.toml` or a script).
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for PackProblem {
    /// `file:line:column: message`, the shape compilers use, so editors can jump to it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Every pack found under a folder: what loaded and what did not.
#[derive(Debug, Clone, Default)]
pub struct PackSet {
    pub packs: Vec<Pack>,
    pub problems: Vec<PackProblem>,
}

impl PackSet {
    /// Every loaded KPI, pack by pack.
    pub fn kpis(&self) -> impl Iterator<Item = &PackKpi> {
        self.packs.iter().flat_map(|pack| pack.kpis.iter())
    }

    pub fn kpi(&self, key: &str) -> Option<&PackKpi> {
        self.kpis().find(|kpi| kpi.meta.key == key)
    }

    /// Every loaded tree, pack by pack.
    pub fn trees(&self) -> impl Iterator<Item = &KpiTree> {
        self.packs.iter().flat_map(|pack| pack.trees.iter())
    }

    /// Every loaded driver tree, pack by pack.
    pub fn drivers(&self) -> impl Iterator<Item = &DriverTree> {
        self.packs.iter().flat_map(|pack| pack.drivers.iter())
    }

    /// The keys of every loaded KPI.
    pub fn keys(&self) -> BTreeSet<&str> {
        self.kpis().map(|kpi| kpi.meta.key.as_str()).collect()
    }

    /// Move the KPIs whose key is reserved (a built-in KPI's) to the problems.
    pub fn without_reserved(mut self, reserved: &BTreeSet<String>) -> Self {
        for pack in &mut self.packs {
            let (clashing, kept): (Vec<_>, Vec<_>) = pack
                .kpis
                .drain(..)
                .partition(|kpi| reserved.contains(&kpi.meta.key));
            pack.kpis = kept;
            for kpi in clashing {
                self.problems.push(PackProblem {
                    pack: folder_name(&pack.dir),
                    kpi: Some(kpi.meta.key.clone()),
                    file: pack.dir.join(PLUGIN_FILE),
                    line: None,
                    column: None,
                    message: format!(
                        "key `{}` is the key of a built-in KPI; choose another",
                        kpi.meta.key
                    ),
                });
            }
        }
        self
    }
}

#[derive(Deserialize)]
struct PluginFile {
    pack: PackHeader,
    #[serde(default)]
    kpi: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    tree: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    driver: Vec<toml::Spanned<toml::Table>>,
    // Other tables belong to later features and are ignored here.
}

#[derive(Deserialize)]
struct PackHeader {
    name: String,
    version: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct KpiEntry {
    #[serde(flatten)]
    meta: KpiMeta,
    script: String,
}

/// Load every pack in the sub-folders of `dir` (sorted by folder name). Nothing here is fatal:
/// a broken pack or KPI becomes a [`PackProblem`] and everything else still loads. A KPI key
/// declared twice loads from the first pack (by folder name) and is a problem in the next.
pub fn load_packs(dir: &Path, engine: &ScriptEngine) -> PackSet {
    let mut set = PackSet::default();
    let folders = match pack_folders(dir) {
        Ok(folders) => folders,
        Err(err) => {
            set.problems.push(PackProblem {
                pack: String::new(),
                kpi: None,
                file: dir.to_path_buf(),
                line: None,
                column: None,
                message: format!("cannot read the packs folder: {err}"),
            });
            return set;
        }
    };
    // Key -> the pack that declared it first; the same for tree slugs and driver trees.
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut tree_owners: BTreeMap<String, String> = BTreeMap::new();
    let mut driver_owners: BTreeMap<String, String> = BTreeMap::new();
    for folder in folders {
        let mut loader = PackLoader {
            folder: folder_name(&folder),
            dir: folder,
            engine,
            problems: &mut set.problems,
        };
        let Some(mut pack) = loader.load() else {
            continue;
        };
        if let Some(other) = set.packs.iter().find(|other| other.name == pack.name) {
            let message = format!(
                "pack name `{}` is already used by the pack in {}",
                pack.name,
                other.dir.display()
            );
            loader.problem(None, loader.dir.join(PLUGIN_FILE), None, message);
            continue;
        }
        let mut kept = Vec::with_capacity(pack.kpis.len());
        for kpi in pack.kpis.drain(..) {
            if let Some(owner) = owners.get(&kpi.meta.key) {
                let message = format!(
                    "key `{}` is already declared by pack `{owner}`",
                    kpi.meta.key
                );
                loader.problem(
                    Some(kpi.meta.key.clone()),
                    loader.dir.join(PLUGIN_FILE),
                    None,
                    message,
                );
            } else {
                owners.insert(kpi.meta.key.clone(), pack.name.clone());
                kept.push(kpi);
            }
        }
        pack.kpis = kept;
        let plugin = loader.dir.join(PLUGIN_FILE);
        pack.trees.retain(|tree| match tree_owners.get(&tree.slug) {
            Some(owner) => {
                let message = format!("tree `{}` is already declared by pack `{owner}`", tree.slug);
                loader.problem(None, plugin.clone(), None, message);
                false
            }
            None => {
                tree_owners.insert(tree.slug.clone(), pack.name.clone());
                true
            }
        });
        pack.drivers
            .retain(|tree| match driver_owners.get(&tree.kpi) {
                Some(owner) => {
                    let message = format!(
                        "the drivers of `{}` are already declared by pack `{owner}`",
                        tree.kpi
                    );
                    loader.problem(Some(tree.kpi.clone()), plugin.clone(), None, message);
                    false
                }
                None => {
                    driver_owners.insert(tree.kpi.clone(), pack.name.clone());
                    true
                }
            });
        set.packs.push(pack);
    }
    set
}

/// The sub-folders of `dir` that hold a `plugin.toml`, sorted; hidden folders are skipped.
pub(crate) fn pack_folders(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut folders = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && path.is_dir() && path.join(PLUGIN_FILE).is_file() {
            folders.push(path);
        }
    }
    folders.sort();
    Ok(folders)
}

fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

struct PackLoader<'a> {
    folder: String,
    dir: PathBuf,
    engine: &'a ScriptEngine,
    problems: &'a mut Vec<PackProblem>,
}

impl PackLoader<'_> {
    fn problem(
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

    fn load(&mut self) -> Option<Pack> {
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

        Some(Pack {
            name: plugin.pack.name,
            version: plugin.pack.version,
            description: plugin.pack.description,
            dir: self.dir.clone(),
            kpis,
            trees,
            drivers,
        })
    }

    fn load_kpi(&self, table: toml::Table, pack: &str) -> Result<PackKpi, KpiFailure> {
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
    fn script_path(&self, script: &str) -> Result<PathBuf, KpiFailure> {
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

enum KpiFailure {
    /// The `[[kpi]]` entry itself is wrong (reported at its line in `plugin.toml`).
    Declaration(String),
    /// Its script cannot be read or compiled (reported in the script file).
    Script(PathBuf, ScriptError),
}

fn read_bounded(path: &Path, max: u64) -> Result<String, String> {
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
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
