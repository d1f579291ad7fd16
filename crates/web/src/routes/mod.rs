//! Each route module registers its own routes.

use actix_web::web;

mod health;
mod ingest;
mod kpis;
mod schedules;

pub fn config(cfg: &mut web::ServiceConfig) {
    health::config(cfg);
    ingest::config(cfg);
    kpis::config(cfg);
    schedules::config(cfg);
}
