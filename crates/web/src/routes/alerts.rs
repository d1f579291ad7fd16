//! Alerts: `/api/v1/alerts…`. Validation, evaluation and sending live in the report and
//! scheduler crates; these handlers only translate.

use actix_web::{HttpResponse, delete, get, post, put, web};
use lodestar_core::period::rfc3339;
use lodestar_mail::Channel;
use lodestar_report::alerts::SpecError;
use lodestar_scheduler::Scheduler;
use lodestar_scheduler::alerts::{AlertBody, parse_body};
use lodestar_store::alerts::{self, Alert, deliveries, events};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(create_alert)
        .service(list_alerts)
        .service(get_alert)
        .service(update_alert)
        .service(delete_alert)
        .service(test_alert)
        .service(alert_events);
}

fn unprocessable(e: SpecError) -> ApiError {
    ApiError::Unprocessable {
        field: e.field,
        message: e.message,
    }
}

fn not_found(id: i32) -> ApiError {
    ApiError::NotFound(format!("no alert {id}"))
}

fn scheduler(state: &AppState) -> Result<&Scheduler, ApiError> {
    state.scheduler.as_deref().ok_or_else(|| {
        ApiError::internal(std::io::Error::other(
            "this server runs without a scheduler",
        ))
    })
}

fn alert_json(a: &Alert) -> Value {
    let mut out = serde_json::from_str::<Value>(&a.spec).unwrap_or_else(|_| json!({}));
    let channels: Vec<Value> = serde_json::from_str::<Value>(&a.channels)
        .ok()
        .and_then(|v| Channel::parse_list(&v).ok())
        .unwrap_or_default()
        .iter()
        .map(Channel::to_public_json)
        .collect();
    if let Some(obj) = out.as_object_mut() {
        obj.insert("id".to_owned(), json!(a.id));
        obj.insert("name".to_owned(), json!(a.name));
        obj.insert("kpi".to_owned(), json!(a.kpi));
        obj.insert("channels".to_owned(), json!(channels));
        obj.insert("created_at".to_owned(), json!(rfc3339(a.created_at)));
        obj.insert("updated_at".to_owned(), json!(rfc3339(a.updated_at)));
    }
    out
}

async fn body_of(state: &AppState, auth: &Auth, body: &Value) -> Result<AlertBody, ApiError> {
    parse_body(&state.kpis, &auth.0.team, body)
        .await
        .map_err(ApiError::internal)?
        .map_err(unprocessable)
}

#[post("/api/v1/alerts")]
async fn create_alert(
    auth: Auth,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let parsed = body_of(&state, &auth, &body).await?;
    let alert = alerts::create(
        &state.db,
        auth.0.team.id,
        &parsed.fields,
        auth.0.user_id,
        state.kpis.now(),
    )
    .await?;
    Ok(HttpResponse::Created().json(alert_json(&alert)))
}

#[get("/api/v1/alerts")]
async fn list_alerts(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let list: Vec<Value> = alerts::list(&state.db, auth.0.team.id)
        .await?
        .iter()
        .map(alert_json)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

async fn find(state: &AppState, auth: &Auth, id: i32) -> Result<Alert, ApiError> {
    alerts::get(&state.db, auth.0.team.id, id)
        .await?
        .ok_or_else(|| not_found(id))
}

#[get("/api/v1/alerts/{id}")]
async fn get_alert(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let alert = find(&state, &auth, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(alert_json(&alert)))
}

/// Replaces the whole definition; the alert starts over (every segment re-armed).
#[put("/api/v1/alerts/{id}")]
async fn update_alert(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<i32>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = id.into_inner();
    find(&state, &auth, id).await?;
    let parsed = body_of(&state, &auth, &body).await?;
    let alert = alerts::update(
        &state.db,
        auth.0.team.id,
        id,
        &parsed.fields,
        state.kpis.now(),
    )
    .await?
    .ok_or_else(|| not_found(id))?;
    alerts::reset_states(&state.db, id).await?;
    Ok(HttpResponse::Ok().json(alert_json(&alert)))
}

#[delete("/api/v1/alerts/{id}")]
async fn delete_alert(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = id.into_inner();
    if !alerts::delete(&state.db, auth.0.team.id, id).await? {
        return Err(not_found(id));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestBody {
    #[serde(default)]
    send: bool,
}

/// Evaluates the alert now and answers what would fire, per segment; `{"send": true}` also
/// notifies every channel of each segment where it holds (outside the delivery log).
#[post("/api/v1/alerts/{id}/test")]
async fn test_alert(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<i32>,
    body: Option<web::Json<TestBody>>,
) -> Result<HttpResponse, ApiError> {
    let send = body.is_some_and(|b| b.send);
    if send {
        auth.require_write()?;
        state.limits.send_now(auth.0.team.id)?;
    }
    let alert = find(&state, &auth, id.into_inner()).await?;
    let outcomes = scheduler(&state)?
        .test_alert(&auth.0.team, &alert, send)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({ "alert": alert.id, "segments": outcomes })))
}

/// Every firing and recovery, oldest first, each with its deliveries.
#[get("/api/v1/alerts/{id}/events")]
async fn alert_events(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let alert = find(&state, &auth, id.into_inner()).await?;
    let all = deliveries::list_for_alert(&state.db, alert.id).await?;
    let list: Vec<Value> = events::list(&state.db, alert.id)
        .await?
        .into_iter()
        .map(|e| {
            let ds: Vec<Value> = all
                .iter()
                .filter(|d| d.event_id == e.id)
                .map(|d| {
                    json!({
                        "id": d.id,
                        "channel": d.channel,
                        "status": d.status,
                        "attempts": d.attempts,
                        "error": d.error,
                        "response": d.response,
                        "delivery": d.delivery_key,
                        "owner_told": d.owner_told,
                        "sent_at": d.sent_at.map(rfc3339),
                    })
                })
                .collect();
            json!({
                "id": e.id,
                "kind": e.kind,
                "segment": if e.segment.is_empty() { Value::Null } else { Value::String(e.segment.clone()) },
                "episode": e.episode,
                "period": e.period,
                "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
                "at": rfc3339(e.created_at),
                "deliveries": ds,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}
