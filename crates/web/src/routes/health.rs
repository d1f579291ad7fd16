use actix_web::{HttpResponse, get, web};

use crate::error::ApiError;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(metrics);
}

/// 200 when the database answers.
#[get("/healthz")]
async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match state.db.ping().await {
        Ok(()) => Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            Ok(HttpResponse::ServiceUnavailable().json(
                serde_json::json!({"status": "unavailable", "message": "database unavailable"}),
            ))
        }
    }
}

#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(format!(
            "{}{}{}",
            state.metrics.render(),
            crate::metrics::process_and_scripts(state.kpis.scripts()),
            crate::metrics::deliveries(state.scheduler.as_deref())
        ))
}
