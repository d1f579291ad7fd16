//! Each route module registers its own routes.

use actix_web::web;

mod custom;
mod health;
mod ingest;
mod kpis;
mod pages;
pub(crate) mod reports;
mod schedules;
mod session;
mod static_files;
mod team;
mod tokens;
mod trees;

pub fn config(cfg: &mut web::ServiceConfig) {
    custom::config(cfg);
    health::config(cfg);
    ingest::config(cfg);
    kpis::config(cfg);
    pages::config(cfg);
    reports::config(cfg);
    schedules::config(cfg);
    session::config(cfg);
    static_files::config(cfg);
    team::config(cfg);
    tokens::config(cfg);
    trees::config(cfg);
}
