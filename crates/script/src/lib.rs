//! Custom KPIs as sandboxed Rhai scripts: the engine, the script API, the compiled-script cache
//! and KPI packs (folders of `plugin.toml` + `*.rhai` under `scripts/`).
//!
//! The report layer implements [`ScriptData`] over its prefetched numbers, compiles each custom
//! KPI once with [`ScriptEngine::compile`], asks [`ScriptEngine::dependencies`] what to prefetch
//! and calls [`ScriptEngine::run`] per period and segment.

mod check;
mod data;
mod deps;
mod engine;
mod error;
mod pack;
mod stack;
mod watch;

pub use check::check_file;
pub use data::{RunOutcome, ScriptContext, ScriptData};
pub use deps::Dependencies;
pub use engine::{CompiledScript, Limits, ScriptEngine};
pub use error::ScriptError;
pub use pack::{
    Direction, KpiKind, KpiMeta, PLUGIN_FILE, Pack, PackKpi, PackProblem, PackSet, Unit,
    is_valid_kpi_key, load_packs,
};
pub use stack::{EvalGuard, EvalStack};
pub use watch::PackWatcher;

#[cfg(test)]
mod testing;
