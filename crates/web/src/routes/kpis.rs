//! `GET /api/v1/kpis`, `/api/v1/catalog`, `/api/v1/stages`.

use std::sync::Arc;

use actix_web::{HttpResponse, get, web};
use lodestar_core::dimension::Dimension;
use lodestar_core::period::Progress;
use lodestar_report::cache::CacheKey;
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
    let team = &auth.0.team;
    let key = CacheKey {
        team_id: team.id,
        report: format!(
            "kpis?segment_by={}&keys={}&trend={}",
            req.segment_by
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default(),
            req.keys.as_ref().map(|k| k.join(",")).unwrap_or_default(),
            req.trend
        ),
        period: req.period,
        comparison: req.comparison,
        progress: Progress::of(req.period, state.kpis.now(), team.timezone.0),
        data_version: team.data_version,
        kpi_generation: state.kpi_generation(),
    };
    // Cached like the pages, and computed once for concurrent identical requests.
    let result = state
        .kpi_answers
        .get_or_try_insert_with(key, || async {
            Ok::<_, ApiError>(Arc::new(state.kpis.evaluate(team, &req).await?))
        })
        .await?;
    // Goals change without the data: their pace is added to each answer, cached or not.
    let mut answer = (*result).clone();
    lodestar_report::goals::attach(&state.kpis, team, &mut answer).await?;
    Ok(HttpResponse::Ok().json(&answer))
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
