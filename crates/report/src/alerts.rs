//! Alerts: a definition ([`spec`]), the pure tests of a value against a condition
//! ([`condition`]) and the batched evaluation of a team's alerts ([`check`]): one KPI engine run
//! per window (period, read-to day, segmentation, comparison) for all the alerts that share it,
//! never one per alert.

pub mod check;
pub mod condition;
pub mod spec;

pub use check::{Finding, Verdict, evaluate};
pub use condition::{Condition, anomaly_band};
pub use spec::{AlertSpec, SpecError};
