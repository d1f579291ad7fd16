use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lodestar_core::catalog::{Direction, Kind, Unit};
use lodestar_core::drivers::DriverTree;
use lodestar_core::tree::KpiTree;
use serde::de::{self, Deserializer, EnumAccess, VariantAccess};
use serde::{Deserialize, Serialize};

use crate::engine::{CompiledScript, ScriptEngine};
use crate::mapping::Mapping;

mod loader;
use loader::PackLoader;

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
const DIRECTION_NAMES: &[&str] = &["higher_is_better", "lower_is_better", "neutral"];

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
    /// `[[mapping]]` sections: how exports of other tools load (see `crate::mapping`).
    pub mappings: Vec<Mapping>,
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

    /// Every loaded import mapping, pack by pack.
    pub fn mappings(&self) -> impl Iterator<Item = &Mapping> {
        self.packs.iter().flat_map(|pack| pack.mappings.iter())
    }

    pub fn mapping(&self, name: &str) -> Option<&Mapping> {
        self.mappings().find(|m| m.name == name)
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
    #[serde(default)]
    mapping: Vec<toml::Spanned<toml::Table>>,
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
    let mut mapping_owners: BTreeMap<String, String> = BTreeMap::new();
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
        pack.mappings
            .retain(|mapping| match mapping_owners.get(&mapping.name) {
                Some(owner) => {
                    let message = format!(
                        "mapping `{}` is already declared by pack `{owner}`",
                        mapping.name
                    );
                    loader.problem(None, plugin.clone(), None, message);
                    false
                }
                None => {
                    mapping_owners.insert(mapping.name.clone(), pack.name.clone());
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

#[cfg(test)]
mod tests;
