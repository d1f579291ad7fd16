//! Goals: `/api/v1/goals…`. Validation and pacing live in the report crate.

use actix_web::{HttpResponse, delete, get, put, web};
use lodestar_core::period::rfc3339;
use lodestar_report::goals;
use lodestar_store::goals::{self as stored, Goal};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(put_goal)
        .service(list_goals)
        .service(delete_goal);
}

fn goal_json(g: &Goal) -> Value {
    let mut out = json!({
        "kpi": g.kpi,
        "period_kind": g.period_kind,
        "target": g.target,
        "phasing": g.phasing,
        "updated_at": rfc3339(g.updated_at),
    });
    if !g.segment_by.is_empty() {
        out["segment_by"] = json!(g.segment_by);
        out["segment"] = json!(g.segment);
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoalBody {
    period_kind: String,
    target: f64,
    segment_by: Option<String>,
    segment: Option<String>,
    phasing: Option<String>,
}

/// Sets the goal identified by (KPI, period kind, segment).
#[put("/api/v1/goals/{kpi}")]
async fn put_goal(
    auth: Auth,
    state: web::Data<AppState>,
    kpi: web::Path<String>,
    body: web::Json<GoalBody>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let b = body.into_inner();
    let fields = goals::validate(
        &state.kpis,
        &auth.0.team,
        &kpi,
        (&b.period_kind, b.target, b.phasing.as_deref()),
        (b.segment_by.as_deref(), b.segment.as_deref()),
    )
    .await?
    .map_err(|(field, message)| ApiError::Unprocessable {
        field: field.to_owned(),
        message,
    })?;
    let goal = stored::put(&state.db, auth.0.team.id, &fields, state.kpis.now()).await?;
    Ok(HttpResponse::Ok().json(goal_json(&goal)))
}

#[get("/api/v1/goals")]
async fn list_goals(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let list: Vec<Value> = stored::list(&state.db, auth.0.team.id)
        .await?
        .iter()
        .map(goal_json)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Debug, Deserialize)]
struct DeleteQuery {
    period_kind: Option<String>,
    segment_by: Option<String>,
    segment: Option<String>,
}

#[delete("/api/v1/goals/{kpi}")]
async fn delete_goal(
    auth: Auth,
    state: web::Data<AppState>,
    kpi: web::Path<String>,
    q: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let period_kind = q.period_kind.as_deref().ok_or_else(|| ApiError::BadField {
        field: "period_kind".to_owned(),
        message: "`period_kind` is required".to_owned(),
    })?;
    let segment = (
        q.segment_by.as_deref().unwrap_or(""),
        q.segment.as_deref().unwrap_or(""),
    );
    if !stored::delete(&state.db, auth.0.team.id, &kpi, period_kind, segment).await? {
        return Err(ApiError::NotFound(format!(
            "no {period_kind} goal for `{kpi}` with that segment"
        )));
    }
    Ok(HttpResponse::NoContent().finish())
}
