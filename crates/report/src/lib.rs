//! Reports: evaluates KPIs for a team, a period and an optional segmentation (values, previous
//! period, change, trend, segments) over batched base measures, and shapes the result that JSON,
//! CSV, HTML and e-mail all render.

pub mod engine;
pub mod error;
mod number;
pub mod share;

pub use engine::{KpiRequest, KpiResult, KpiValue, SegmentValue, evaluate, stages};
pub use error::ReportError;
