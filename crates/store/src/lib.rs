//! Lodestar's storage: sea-orm entities and every query. Aggregations are pushed into SQL and
//! batched: one grouped statement per table and request, never one per KPI or segment.
//! One deliberate exception to "everything through sea-orm": bulk loads on SQLite run in
//! [`sqlite_tx::SqliteTx`], which hands SQLite arguments bound on another thread straight to the
//! connection (sea-orm's transactions convert every value on the awaiting task), and implements
//! sea-orm's `ConnectionTrait` so that the same queries run in it.

pub mod alerts;
pub mod custom_kpis;
pub mod db;
pub mod deliveries;
pub mod entities;
pub mod error;
pub mod goals;
pub mod ingest;
pub mod loaded;
pub mod measures;
pub mod passwords;
pub mod people;
pub mod pg_tx;
pub mod reports;
pub mod rollup;
pub mod schedules;
pub mod secrets;
pub mod segment_sets;
mod segment_sql;
pub mod sessions;
pub mod share_links;
mod sql;
pub mod sqlite_tx;
pub mod stages;
pub mod teams;
pub mod tokens;
pub mod trees;
mod versioned;
pub mod writer;

pub use db::Db;
pub use error::StoreError;
