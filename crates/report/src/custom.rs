//! The custom KPIs a team can use: every KPI of the loaded packs, overridden by the team's own
//! (saved over HTTP). Each is compiled once; the engine caches ASTs by source hash.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lodestar_core::catalog::{Builtin, Direction, Kind, Unit};
use lodestar_core::dimension::{Dimension, Table};
use lodestar_script::{CompiledScript, KpiMeta, PackProblem, ScriptEngine, ScriptError};
use lodestar_store::custom_kpis::StoredKpi;
use serde::Serialize;

/// What a running script sees during a request (the prefetched numbers, other custom KPIs on
/// demand): public so `lodestar bench --scripts` can time runs without the queries around them.
pub use crate::script_env::{Env, Which};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Origin {
    Pack { pack: String },
    Team { version: i32 },
}

#[derive(Debug, Clone)]
pub struct CustomKpi {
    pub key: String,
    pub name: String,
    pub unit: Unit,
    pub direction: Direction,
    pub kind: Kind,
    pub category: String,
    pub description: Option<String>,
    pub source: String,
    pub origin: Origin,
    pub script: Arc<CompiledScript>,
}

/// A team's custom KPIs by key, and what could not be loaded.
#[derive(Debug, Clone, Default)]
pub struct CustomSet {
    pub kpis: BTreeMap<String, CustomKpi>,
    pub problems: Vec<PackProblem>,
}

impl CustomKpi {
    pub fn from_meta(
        meta: &KpiMeta,
        source: String,
        script: Arc<CompiledScript>,
        origin: Origin,
    ) -> Self {
        CustomKpi {
            key: meta.key.clone(),
            name: meta.name.clone(),
            unit: meta.unit,
            direction: meta.direction,
            kind: meta.kind,
            category: meta.category.clone(),
            description: meta.description.clone(),
            source,
            origin,
            script,
        }
    }

    /// A stored KPI, compiled. Stored scripts compiled when saved, so an error here means the
    /// sandbox limits changed since: it is reported, not hidden.
    pub fn from_stored(engine: &ScriptEngine, k: &StoredKpi) -> Result<Self, ScriptError> {
        let script = engine.compile(&k.script).map_err(|e| e.with_kpi(&k.key))?;
        let bad = |what: &str, v: &str| {
            ScriptError::new(format!("stored {what} `{v}` is unknown")).with_kpi(&k.key)
        };
        Ok(CustomKpi {
            key: k.key.clone(),
            name: k.name.clone(),
            unit: Unit::parse(&k.unit).ok_or_else(|| bad("unit", &k.unit))?,
            direction: Direction::parse(&k.direction)
                .ok_or_else(|| bad("direction", &k.direction))?,
            kind: Kind::parse(&k.kind).ok_or_else(|| bad("kind", &k.kind))?,
            category: k.category.clone(),
            description: None,
            source: k.script.clone(),
            origin: Origin::Team { version: k.version },
            script,
        })
    }
}

impl CustomSet {
    /// Why `key` cannot be split by `dimension`, judged from the literal inputs of its script
    /// (and of the custom KPIs it reads). Inputs computed at run time are checked when read.
    pub fn unsupported_reason(&self, key: &str, dimension: &Dimension) -> Option<String> {
        let mut seen = BTreeSet::new();
        self.reason(key, dimension, &mut seen)
    }

    fn reason(&self, key: &str, dim: &Dimension, seen: &mut BTreeSet<String>) -> Option<String> {
        if !seen.insert(key.to_owned()) {
            return None;
        }
        let kpi = self.kpis.get(key)?;
        let deps = kpi.script.dependencies();
        if !deps.event_kinds.is_empty() && !dim.supported_by(Table::Events) {
            return Some(format!(
                "{key} reads events, which have no dimension {}",
                dim.missing_on(Table::Events)
            ));
        }
        for dep in deps.metrics.iter().chain(&deps.previous) {
            if let Some(b) = Builtin::from_key(dep) {
                if let Some(reason) = b.unsupported_reason(dim) {
                    return Some(format!("{key} reads {reason}"));
                }
            } else if let Some(reason) = self.reason(dep, dim, seen) {
                return Some(reason);
            }
        }
        None
    }
}

impl CustomSet {
    /// A cycle through `key` among the literal reads of the scripts (`a -> b -> a`), if any.
    pub fn cycle_through(&self, key: &str) -> Option<String> {
        fn walk(set: &CustomSet, target: &str, at: &str, path: &mut Vec<String>) -> bool {
            let Some(kpi) = set.kpis.get(at) else {
                return false;
            };
            let deps = kpi.script.dependencies();
            for dep in deps.metrics.iter().chain(&deps.previous) {
                if dep == target {
                    path.push(dep.clone());
                    return true;
                }
                if path.iter().any(|p| p == dep) {
                    continue;
                }
                path.push(dep.clone());
                if walk(set, target, dep, path) {
                    return true;
                }
                path.pop();
            }
            false
        }
        let mut path = vec![key.to_owned()];
        walk(self, key, key, &mut path).then(|| format!("cycle: {}", path.join(" -> ")))
    }
}
