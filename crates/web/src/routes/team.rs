//! `GET /api/v1/team` (the team of the token: slug, name, timezone, currency) and
//! `PATCH /api/v1/team` (an admin changes its currency).

use actix_web::{HttpResponse, get, patch, web};
use lodestar_core::currency::Currency;
use lodestar_store::teams::{self, Team};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(get_team).service(patch_team);
}

fn view(team: &Team) -> serde_json::Value {
    json!({
        "slug": team.slug,
        "name": team.name,
        "timezone": team.timezone,
        "currency": team.currency,
    })
}

#[get("/api/v1/team")]
async fn get_team(auth: Auth) -> HttpResponse {
    HttpResponse::Ok().json(view(&auth.0.team))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamPatch {
    currency: Option<String>,
}

#[patch("/api/v1/team")]
async fn patch_team(
    auth: Auth,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let patch: TeamPatch = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("team settings: {e}")))?;
    let team = &auth.0.team;
    if let Some(code) = patch.currency {
        let currency = Currency::parse(&code).map_err(|e| ApiError::Unprocessable {
            field: "currency".to_owned(),
            message: format!("currency: {e}"),
        })?;
        teams::set_currency(&state.db, team.id, currency).await?;
        state.reports.invalidate_team(team.id);
    }
    let team = teams::find_by_id(&state.db, team.id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such team".to_owned()))?;
    Ok(HttpResponse::Ok().json(view(&team)))
}
