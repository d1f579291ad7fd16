//! Lodestar's domain: periods, dimensions, the KPI catalog and its formulas, MECE trees and the
//! shape of the rows a team loads. Nothing here does I/O: `store` and `web` call into it.

pub mod catalog;
pub mod clock;
pub mod currency;
pub mod dimension;
pub mod domain;
pub mod drivers;
pub mod error;
pub mod expr;
pub mod formula;
pub mod goal;
pub mod measure;
pub mod money;
pub mod period;
pub mod rows;
pub mod segment_set;
pub mod stage;
pub mod tree;

pub use error::CoreError;
