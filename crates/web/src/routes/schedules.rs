//! Digest schedules and their delivery log: `/api/v1/schedules…`, `/api/v1/deliveries…`.
//! Validation and sending live in the scheduler crate; these handlers only translate.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use lodestar_core::period::rfc3339;
use lodestar_mail::Channel;
use lodestar_scheduler::spec::{self, FieldError};
use lodestar_scheduler::{Resend, Scheduler, next_run};
use lodestar_store::deliveries::{self, Delivery};
use lodestar_store::schedules::{self, Schedule, ScheduleFields};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(create_schedule)
        .service(list_schedules)
        .service(get_schedule)
        .service(update_schedule)
        .service(delete_schedule)
        .service(send_now)
        .service(list_deliveries)
        .service(resend_delivery);
}

/// Most deliveries one listing returns (newest first).
const MAX_DELIVERIES: u64 = 1000;

/// The body of `POST` (all of `report`, `cron`, `recipients` required) and `PUT` (any subset:
/// `{"paused": true}` pauses).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    report: Option<String>,
    cron: Option<String>,
    timezone: Option<String>,
    recipients: Option<Vec<String>>,
    /// Slack and webhook channels (and e-mail ones) beside the recipients.
    channels: Option<Value>,
    skip_empty: Option<bool>,
    paused: Option<bool>,
}

fn field_error(e: FieldError) -> ApiError {
    ApiError::Unprocessable {
        field: e.field.to_owned(),
        message: e.message,
    }
}

fn missing(field: &str) -> ApiError {
    ApiError::Unprocessable {
        field: field.to_owned(),
        message: format!("`{field}` is required"),
    }
}

fn time(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(rfc3339(t)))
}

fn schedule_json(s: &Schedule, now: DateTime<Utc>) -> Value {
    json!({
        "id": s.id,
        "report": s.report,
        "cron": s.cron,
        "timezone": s.timezone,
        "recipients": s.recipients,
        "channels": public_channels(&s.channels),
        "skip_empty": s.skip_empty,
        "paused": s.paused,
        "next_run": time(next_run(s, now)),
        "created_at": rfc3339(s.created_at),
        "updated_at": rfc3339(s.updated_at),
    })
}

/// A schedule's stored channels as the API shows them (webhook secrets never read back).
fn public_channels(stored: &str) -> Value {
    let list = serde_json::from_str::<Value>(stored)
        .ok()
        .and_then(|v| Channel::parse_list(&v).ok())
        .unwrap_or_default();
    Value::Array(list.iter().map(Channel::to_public_json).collect())
}

fn delivery_json(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "schedule": d.schedule_id,
        "period": d.period,
        "recipient": d.recipient,
        "status": d.status,
        "attempts": d.attempts,
        "error": d.error,
        "sent_at": time(d.sent_at),
        "origin": d.origin,
        "response": d.response,
        "message_id": d.message_id,
    })
}

/// Validates the merged fields, including that the team has the report.
async fn checked(
    state: &AppState,
    auth: &Auth,
    body: ScheduleBody,
    base: Option<ScheduleFields>,
) -> Result<ScheduleFields, ApiError> {
    let team = &auth.0.team;
    let (report, cron, recipients) = match &base {
        Some(b) => (
            body.report.unwrap_or_else(|| b.report.clone()),
            body.cron.unwrap_or_else(|| b.cron.clone()),
            body.recipients.unwrap_or_else(|| b.recipients.clone()),
        ),
        None => (
            body.report.ok_or_else(|| missing("report"))?,
            body.cron.ok_or_else(|| missing("cron"))?,
            body.recipients.ok_or_else(|| missing("recipients"))?,
        ),
    };
    let timezone = body.timezone.unwrap_or_else(|| match &base {
        Some(b) => b.timezone.clone(),
        None => team.timezone.to_string(),
    });
    let skip_empty = body
        .skip_empty
        .unwrap_or(base.as_ref().is_some_and(|b| b.skip_empty));
    let paused = body
        .paused
        .unwrap_or(base.as_ref().is_some_and(|b| b.paused));
    let channels = match body.channels {
        Some(v) => {
            let list = Channel::parse_list(&v).map_err(|message| ApiError::Unprocessable {
                field: "channels".to_owned(),
                message,
            })?;
            Value::Array(list.iter().map(Channel::to_json).collect()).to_string()
        }
        None => base
            .as_ref()
            .map_or_else(|| "[]".to_owned(), |b| b.channels.clone()),
    };
    let mut fields = spec::validate(&report, &cron, &timezone, &recipients, skip_empty, paused)
        .map_err(field_error)?;
    fields.channels = channels;
    if spec::find_report(&state.db, team.id, &fields.report)
        .await?
        .is_none()
    {
        return Err(ApiError::Unprocessable {
            field: "report".to_owned(),
            message: format!(
                "unknown report {:?}: use \"weekly\" or a report defined with PUT /api/v1/reports/{{slug}}",
                fields.report
            ),
        });
    }
    Ok(fields)
}

fn changed(state: &AppState) {
    if let Some(scheduler) = &state.scheduler {
        scheduler.notify_changed();
    }
}

fn scheduler(state: &AppState) -> Result<&Scheduler, ApiError> {
    state.scheduler.as_deref().ok_or_else(|| {
        ApiError::internal(std::io::Error::other(
            "this server runs without a scheduler",
        ))
    })
}

fn not_found(id: i32) -> ApiError {
    ApiError::NotFound(format!("no schedule {id}"))
}

#[post("/api/v1/schedules")]
async fn create_schedule(
    auth: Auth,
    state: web::Data<AppState>,
    body: web::Json<ScheduleBody>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let fields = checked(&state, &auth, body.into_inner(), None).await?;
    let now = Utc::now();
    let owner = auth.0.user_id;
    let schedule = schedules::create(&state.db, auth.0.team.id, &fields, owner, now).await?;
    changed(&state);
    Ok(HttpResponse::Created().json(schedule_json(&schedule, now)))
}

#[get("/api/v1/schedules")]
async fn list_schedules(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let list: Vec<Value> = schedules::list_for_team(&state.db, auth.0.team.id)
        .await?
        .iter()
        .map(|s| schedule_json(s, now))
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

#[get("/api/v1/schedules/{id}")]
async fn get_schedule(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let schedule = schedules::get(&state.db, auth.0.team.id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(HttpResponse::Ok().json(schedule_json(&schedule, Utc::now())))
}

#[put("/api/v1/schedules/{id}")]
async fn update_schedule(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<i32>,
    body: web::Json<ScheduleBody>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = id.into_inner();
    let team_id = auth.0.team.id;
    let old = schedules::get(&state.db, team_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let fields = checked(&state, &auth, body.into_inner(), Some(old.fields())).await?;
    let now = Utc::now();
    let schedule = schedules::update(&state.db, team_id, id, &fields, now)
        .await?
        .ok_or_else(|| not_found(id))?;
    changed(&state);
    Ok(HttpResponse::Ok().json(schedule_json(&schedule, now)))
}

#[delete("/api/v1/schedules/{id}")]
async fn delete_schedule(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = id.into_inner();
    if !schedules::delete(&state.db, auth.0.team.id, id).await? {
        return Err(not_found(id));
    }
    changed(&state);
    Ok(HttpResponse::NoContent().finish())
}

/// Sends the last complete period's digest to every recipient now, one attempt each; the reply
/// has each recipient's SMTP result. It may repeat a period the schedule already sent. Limited
/// per team (`limits.send_now_per_minute`): each call mails every recipient.
#[post("/api/v1/schedules/{id}/send-now")]
async fn send_now(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    state.limits.send_now(auth.0.team.id)?;
    let id = id.into_inner();
    let result = scheduler(&state)?
        .send_now(auth.0.team.id, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| not_found(id))?;
    Ok(HttpResponse::Ok().json(result))
}

#[derive(Deserialize)]
struct DeliveriesQuery {
    schedule: Option<i32>,
    limit: Option<u64>,
}

#[get("/api/v1/deliveries")]
async fn list_deliveries(
    auth: Auth,
    state: web::Data<AppState>,
    q: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(MAX_DELIVERIES).clamp(1, MAX_DELIVERIES);
    let list: Vec<Value> = deliveries::list(&state.db, auth.0.team.id, q.schedule, limit)
        .await?
        .iter()
        .map(delivery_json)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Re-sends a failed delivery (one attempt, same Message-ID) and replies with the row after it.
#[post("/api/v1/deliveries/{id}/resend")]
async fn resend_delivery(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = id.into_inner();
    let team_id = auth.0.team.id;
    match scheduler(&state)?
        .resend(team_id, id)
        .await
        .map_err(ApiError::internal)?
    {
        Resend::NotFound => Err(ApiError::NotFound(format!("no delivery {id}"))),
        Resend::NotFailed(status) => Err(ApiError::Unprocessable {
            field: "status".to_owned(),
            message: format!("only failed deliveries are re-sent; delivery {id} is {status}"),
        }),
        Resend::Done(_) => {
            let row = deliveries::get(&state.db, team_id, id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("no delivery {id}")))?;
            Ok(HttpResponse::Ok().json(delivery_json(&row)))
        }
    }
}
