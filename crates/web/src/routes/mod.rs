//! Each route module registers its own routes.

use actix_web::web;

mod custom;
mod health;
mod ingest;
mod kpis;
mod schedules;

pub fn config(cfg: &mut web::ServiceConfig) {
    custom::config(cfg);
    health::config(cfg);
    ingest::config(cfg);
    kpis::config(cfg);
    schedules::config(cfg);
}
