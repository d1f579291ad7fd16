//! Custom KPIs over HTTP: create or replace (versioned), delete, list, history, and running a
//! script without saving it.

use actix_web::{HttpResponse, delete, get, post, put, web};
use lodestar_core::catalog::{Builtin, Direction, Kind, Unit};
use lodestar_core::dimension::Dimension;
use lodestar_core::period::{Asked, PeriodKey, PeriodKind};
use lodestar_report::custom::CustomKpi;
use lodestar_script::is_valid_kpi_key;
use lodestar_store::custom_kpis::{self, StoredKpi};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(put_custom)
        .service(delete_custom)
        .service(list_custom)
        .service(custom_history)
        .service(eval_script);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomBody {
    name: String,
    unit: String,
    direction: String,
    category: String,
    kind: String,
    script: String,
}

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::Unprocessable {
        field: field.to_owned(),
        message,
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))
}

#[put("/api/v1/kpis/custom/{key}")]
async fn put_custom(
    auth: Auth,
    key: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let key = key.into_inner();
    let body: CustomBody = parse_json(&body)?;
    if !is_valid_kpi_key(&key) {
        return Err(invalid(
            "key",
            format!(
                "KPI key `{key}`: use a lowercase letter, then up to 63 lowercase letters, digits or _"
            ),
        ));
    }
    if Builtin::from_key(&key).is_some() {
        return Err(invalid(
            "key",
            format!("`{key}` is a built-in KPI: pick another key"),
        ));
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid("name", "name: 1 to 200 characters".into()));
    }
    let category = body.category.trim();
    if category.chars().count() > 200 {
        return Err(invalid(
            "category",
            "category: at most 200 characters".into(),
        ));
    }
    Unit::parse(&body.unit).ok_or_else(|| {
        invalid(
            "unit",
            format!(
                "unknown unit `{}`: use count, currency, percent, ratio, days or score",
                body.unit
            ),
        )
    })?;
    Direction::parse(&body.direction).ok_or_else(|| {
        invalid(
            "direction",
            format!(
                "unknown direction `{}`: use higher_is_better, lower_is_better or neutral",
                body.direction
            ),
        )
    })?;
    Kind::parse(&body.kind).ok_or_else(|| {
        invalid(
            "kind",
            format!("unknown kind `{}`: use leading or trailing", body.kind),
        )
    })?;
    let stored = StoredKpi {
        key: key.clone(),
        name: name.to_owned(),
        unit: body.unit,
        direction: body.direction,
        category: category.to_owned(),
        kind: body.kind,
        script: body.script,
        version: 0,
        updated_at: 0,
        deleted: false,
    };
    let compiled =
        CustomKpi::from_stored(state.kpis.scripts(), &stored).map_err(ApiError::Script)?;
    let mut set = state.kpis.custom_kpis(&auth.0.team).await?;
    set.kpis.insert(key.clone(), compiled);
    if let Some(cycle) = set.cycle_through(&key) {
        return Err(invalid("script", cycle));
    }
    let existed = custom_kpis::get(&state.db, auth.0.team.id, &key)
        .await?
        .is_some();
    let version = custom_kpis::save(&state.db, auth.0.team.id, &stored).await?;
    let reply = json!({"key": key, "version": version});
    Ok(if existed {
        HttpResponse::Ok().json(reply)
    } else {
        HttpResponse::Created().json(reply)
    })
}

#[delete("/api/v1/kpis/custom/{key}")]
async fn delete_custom(
    auth: Auth,
    key: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    if custom_kpis::delete(&state.db, auth.0.team.id, &key).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("no custom KPI `{key}`")))
    }
}

#[get("/api/v1/kpis/custom")]
async fn list_custom(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let kpis = custom_kpis::list(&state.db, auth.0.team.id).await?;
    Ok(HttpResponse::Ok().json(json!({ "kpis": kpis })))
}

#[get("/api/v1/kpis/custom/{key}/history")]
async fn custom_history(
    auth: Auth,
    key: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let versions = custom_kpis::history(&state.db, auth.0.team.id, &key).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("no custom KPI `{key}`")));
    }
    Ok(HttpResponse::Ok().json(json!({ "key": key.into_inner(), "versions": versions })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvalBody {
    script: String,
    period: String,
    segment_by: Option<String>,
}

#[post("/api/v1/scripts/eval")]
async fn eval_script(
    auth: Auth,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: EvalBody = parse_json(&body)?;
    // Any period the KPI API takes: a key, a range, wtd/mtd/qtd/ytd, a rolling window.
    let team = &auth.0.team;
    let now = state.kpis.now();
    let default = PeriodKey::last_complete(PeriodKind::Week, now, team.timezone.0);
    let asked = Asked::parse(
        Some(&body.period),
        None,
        None,
        default,
        now,
        team.timezone.0,
    )?;
    let segment_by = body
        .segment_by
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(Dimension::parse)
        .transpose()?;
    let reply = state
        .kpis
        .eval_script(team, &body.script, asked, segment_by)
        .await?;
    Ok(HttpResponse::Ok().json(reply))
}
