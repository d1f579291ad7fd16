//! `GET /api/v1/kpis`, `/api/v1/catalog`, `/api/v1/stages`.

use actix_web::{HttpResponse, get, web};
use lodestar_core::dimension::Dimension;

use lodestar_report::{KpiRequest, stages};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(get_kpis)
        .service(get_catalog)
        .service(get_stages);
}

#[derive(Deserialize)]
struct KpiQuery {
    period: Option<String>,
    compare: Option<String>,
    to: Option<String>,
    segment_by: Option<String>,
    keys: Option<String>,
    trend: Option<String>,
}

#[get("/api/v1/kpis")]
async fn get_kpis(
    auth: Auth,
    q: web::Query<KpiQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let asked = super::asked(
        q.period.as_deref(),
        q.compare.as_deref(),
        q.to.as_deref(),
        &auth.0.team,
        state.kpis.now(),
    )?;
    let segment_by = q
        .segment_by
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(Dimension::parse)
        .transpose()?;
    let keys = q.keys.as_deref().filter(|k| !k.trim().is_empty()).map(|k| {
        k.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    let trend = match q.trend.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(t) => t.parse::<usize>().map_err(|_| {
            ApiError::BadRequest(format!(
                "trend={t} is not a number of periods: use 0 to 104"
            ))
        })?,
    };
    if trend > 104 {
        return Err(ApiError::BadRequest(format!(
            "trend={trend} is too long: at most 104 periods"
        )));
    }
    let req = KpiRequest {
        period: asked.period,
        comparison: asked.comparison,
        segment_by,
        keys,
        trend,
    };
    let result = state.kpis.evaluate(&auth.0.team, &req).await?;
    Ok(HttpResponse::Ok().json(result))
}

#[get("/api/v1/catalog")]
async fn get_catalog(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let kpis = lodestar_report::catalog::catalog(&state.kpis, &auth.0.team).await?;
    // Broken packs are listed beside the KPIs so authors see them without reading server logs.
    let problems = state.kpis.custom_kpis(&auth.0.team).await?.problems;
    Ok(HttpResponse::Ok().json(json!({
        "kpis": kpis,
        "tree": lodestar_core::tree::default_tree(),
        "problems": problems,
    })))
}

#[derive(Deserialize)]
struct StagesQuery {
    period: Option<String>,
}

#[get("/api/v1/stages")]
async fn get_stages(
    auth: Auth,
    q: web::Query<StagesQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let period = super::period_or_last_week(q.period.as_deref(), &auth.0.team, state.kpis.now())?;
    let stages = stages(&state.db, &auth.0.team, &period).await?;
    Ok(HttpResponse::Ok().json(json!({ "period": period.to_string(), "stages": stages })))
}
