//! End-to-end tests: the real app on port 0 with a fresh database, spoken to over HTTP. Every
//! storage test runs on SQLite and, when LODESTAR_TEST_POSTGRES_URL is set, on PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

mod comparisons;

mod alerts;

mod cli;
mod custom_kpis;
mod digests;
mod fixture_kpis;
mod goal_alert_pages;
mod goals;
mod http_conventions;
mod imports;
mod in_progress;
mod ingest;
mod kpi_api;
mod kpi_cache;
mod operating;
mod pages;
mod people;
mod rollups;
mod schedule_pages;
mod team_settings;
mod tokens;
mod trees;
mod windows;
