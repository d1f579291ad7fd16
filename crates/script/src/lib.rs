//! Custom KPIs as sandboxed Rhai scripts: the engine, the script API, the compiled-script cache
//! and KPI packs (folders of `plugin.toml` + `*.rhai` under `scripts/`).
//!
//! The report layer implements [`ScriptData`] over its prefetched numbers, compiles each custom
//! KPI once with [`ScriptEngine::compile`], asks [`ScriptEngine::dependencies`] what to prefetch
//! and calls [`ScriptEngine::run`] per period and segment.
//!
//! ```
//! use lodestar_script::{ScriptContext, ScriptData, ScriptEngine};
//!
//! struct Numbers;
//! impl ScriptData for Numbers {
//!     fn metric(&self, key: &str) -> Result<Option<f64>, String> {
//!         match key {
//!             "revenue" => Ok(Some(9000.0)),
//!             "total_spend" => Ok(Some(3000.0)),
//!             _ => Err(format!("unknown KPI `{key}`")),
//!         }
//!     }
//!     fn previous(&self, _: &str) -> Result<Option<f64>, String> { Ok(None) }
//!     fn count_events(&self, _: &str) -> Result<f64, String> { Ok(0.0) }
//!     fn sum_events(&self, _: &str) -> Result<f64, String> { Ok(0.0) }
//! }
//!
//! let engine = ScriptEngine::default(); // once per process, shared in an Arc
//! let script = engine
//!     .compile(r#"ratio(metric("revenue"), metric("total_spend")) * 100"#)
//!     .expect("compiles");
//! assert!(engine.dependencies(&script).metrics.contains("total_spend"));
//! let ctx = ScriptContext { period_key: "2026-W45".into(), period_days: 7, ..Default::default() };
//! let outcome = engine.run(&script, &ctx, &Numbers);
//! assert_eq!((outcome.value, outcome.error), (Some(300.0), None));
//! ```

mod budget;
mod check;
mod data;
mod deps;
mod engine;
mod error;
pub mod mapping;
mod normalise;
mod pack;
mod stack;
mod watch;

pub use budget::{Budget, CancelOnDrop, Spent};
pub use check::check_file;
pub use data::{RunOutcome, ScriptContext, ScriptData};
pub use deps::Dependencies;
pub use engine::{CompiledScript, Limits, ScriptEngine};
pub use error::ScriptError;
pub use normalise::{ScriptShape, script_shape};
pub use pack::{
    KpiMeta, PLUGIN_FILE, Pack, PackKpi, PackProblem, PackSet, is_valid_kpi_key, load_packs,
};
pub use stack::{EvalGuard, EvalStack};
pub use watch::PackWatcher;

#[cfg(test)]
mod testing;
