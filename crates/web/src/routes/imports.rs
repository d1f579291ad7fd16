//! `GET /api/v1/mappings` and `POST /api/v1/imports`: a file as the body, straight or through a
//! pack's mapping, with a dry run that stores nothing and says what would be stored.

use actix_web::{HttpRequest, HttpResponse, get, http::header, post, web};
use lodestar_import::{Report, Request, Table};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Auth;
use crate::body::read_limited;
use crate::error::ApiError;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(list_mappings).service(import);
}

#[get("/api/v1/mappings")]
async fn list_mappings(_auth: Auth, state: web::Data<AppState>) -> HttpResponse {
    let mappings: Vec<_> = state
        .packs
        .as_ref()
        .map(|p| p.current().mappings().map(|m| m.info()).collect())
        .unwrap_or_default();
    HttpResponse::Ok().json(json!({ "mappings": mappings }))
}

#[derive(Deserialize)]
struct ImportQuery {
    table: String,
    #[serde(default)]
    mapping: Option<String>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    skip_invalid: bool,
}

#[post("/api/v1/imports")]
async fn import(
    auth: Auth,
    req: HttpRequest,
    q: web::Query<ImportQuery>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let table = Table::parse(&q.table).ok_or_else(|| ApiError::BadField {
        field: "table".into(),
        message: format!("table `{}` must be leads, spend or events", q.table),
    })?;
    let packs = state.packs.as_ref().map(|p| p.current());
    let mapping = match (&q.mapping, &packs) {
        (None, _) => None,
        (Some(name), Some(packs)) if packs.mapping(name).is_some() => packs.mapping(name).cloned(),
        (Some(name), _) => {
            return Err(ApiError::BadField {
                field: "mapping".into(),
                message: format!("no mapping `{name}`: GET /api/v1/mappings lists them"),
            });
        }
    };
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.split(';').next().unwrap_or_default().trim() == "application/json");
    let bytes = read_limited(body, state.settings.max_body_bytes).await?;
    let request = Request {
        table,
        input: Box::new(std::io::Cursor::new(bytes)),
        json,
        mapping,
        mappings: packs
            .map(|p| p.mappings().cloned().collect())
            .unwrap_or_default(),
        engine: state.kpis.scripts().clone(),
        dry_run: q.dry_run,
        skip_invalid: q.skip_invalid,
        rejects: None,
        progress: None,
    };
    let report = lodestar_import::run(&state.db, auth.0.team.id, request)
        .await
        .map_err(|e| match e {
            lodestar_import::ImportError::Store(e) => e.into(),
            other => ApiError::Unprocessable {
                field: "mapping".into(),
                message: other.to_string(),
            },
        })?;
    if report.stored {
        state.metrics.rows_loaded.fetch_add(
            report.inserted + report.updated,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    // Alerts checked on data loads, as after the loading API.
    if report.stored
        && let Some(scheduler) = &state.scheduler
    {
        scheduler.check_alerts_later(auth.0.team.clone());
    }
    Ok(reply(report))
}

/// 200 with the report, or 422 with it when the file was refused (`rows` lists the problems,
/// as the loading API's 422 does).
fn reply(report: Report) -> HttpResponse {
    if !report.refused() {
        return HttpResponse::Ok().json(report);
    }
    let message = if report.header_errors.is_empty() {
        format!(
            "nothing was imported: {} invalid record(s); fix them or import with skip_invalid=true",
            report.invalid
        )
    } else {
        "nothing was imported: the header is not usable".to_owned()
    };
    let rows = if report.header_errors.is_empty() {
        report.errors.clone()
    } else {
        report.header_errors.clone()
    };
    let mut body = serde_json::to_value(&report).unwrap_or_else(|_| json!({}));
    body["error"] = json!("validation");
    body["message"] = json!(message);
    body["rows"] = json!(rows);
    HttpResponse::UnprocessableEntity().json(body)
}
