//! Reports: evaluates KPIs (built-in and custom) for a team, a period and an optional
//! segmentation (values, previous period, change, trend, segments) over batched base measures,
//! and shapes the result that JSON, CSV, HTML and e-mail all render.

pub mod alerts;
pub mod cache;
pub mod catalog;
pub mod custom;
pub mod definition;
pub mod drivers;
pub mod engine;
pub mod error;
pub mod export;
pub mod format;
pub mod goal_progress;
pub mod goals;
pub mod meta;
pub mod number;
pub mod report;
mod script_env;
pub mod segments;
pub mod share;
pub mod summary;
pub mod team_reports;
pub mod trees;

pub use engine::{KpiEngine, KpiRequest, KpiResult, KpiValue, ScriptEval, SegmentValue, stages};
pub use error::ReportError;
