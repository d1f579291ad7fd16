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
    // The queue is shared by every replica: read it from the database (0 if that fails, logged).
    let (pending, oldest) = lodestar_store::deliveries::pending_queue(&state.db)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "metrics: reading the delivery queue failed");
            (0, None)
        });
    let oldest = oldest.map(|t| (state.kpis.now() - t).num_milliseconds().max(0) as f64 / 1000.0);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(format!(
            "{}{}{}{}{}",
            state.metrics.render(),
            crate::metrics::process_and_scripts(state.kpis.scripts()),
            crate::metrics::deliveries(state.scheduler.as_deref()),
            crate::metrics::queue(pending, oldest),
            crate::metrics::loaded(
                state
                    .metrics
                    .rows_loaded
                    .load(std::sync::atomic::Ordering::Relaxed)
            ),
        ))
}
