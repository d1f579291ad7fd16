//! `POST /api/v1/leads|spend|events`: JSON arrays or CSV, validated whole, upserted atomically.

use actix_web::{HttpRequest, HttpResponse, http::header, post, web};
use lodestar_core::rows::{EventRow, InputRow, LeadRow, SpendRow};
use lodestar_store::ingest::{self, StoredRow};

use crate::auth::Auth;
use crate::body::read_limited;
use crate::error::{ApiError, RowError};
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(load_leads)
        .service(load_spend)
        .service(load_events);
}

#[post("/api/v1/leads")]
async fn load_leads(
    auth: Auth,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    load::<LeadRow>(auth, req, body, state).await
}

#[post("/api/v1/spend")]
async fn load_spend(
    auth: Auth,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    load::<SpendRow>(auth, req, body, state).await
}

#[post("/api/v1/events")]
async fn load_events(
    auth: Auth,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    load::<EventRow>(auth, req, body, state).await
}

enum Format {
    Json,
    Csv,
}

fn format_of(req: &HttpRequest) -> Result<Format, ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let mime = ct.split(';').next().unwrap_or_default().trim();
    match mime {
        "application/json" | "" => Ok(Format::Json),
        "text/csv" => Ok(Format::Csv),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "content type `{other}` is not accepted: send application/json (an array of rows) or text/csv (a header row, attrs as attrs.<key> columns)"
        ))),
    }
}

async fn load<R: StoredRow + 'static>(
    auth: Auth,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let format = format_of(&req)?;
    let bytes = read_limited(body, state.settings.max_body_bytes).await?;
    // Parsing a large batch is CPU work: keep it off the async workers.
    let rows = web::block(move || parse::<R>(format, &bytes))
        .await
        .map_err(ApiError::internal)??;
    let counts = ingest::upsert_batch(&state.db, auth.0.team.id, &rows).await?;
    state.metrics.rows_loaded.fetch_add(
        counts.inserted + counts.updated,
        std::sync::atomic::Ordering::Relaxed,
    );
    // Alerts checked on data loads run in the background: the load's answer does not wait.
    if let Some(scheduler) = &state.scheduler {
        scheduler.check_alerts_later(auth.0.team.clone());
    }
    Ok(HttpResponse::Ok().json(counts))
}

fn parse<R: InputRow>(format: Format, bytes: &[u8]) -> Result<Vec<R>, ApiError> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut collect =
        |index: usize,
         line: Option<u64>,
         parsed: Result<R, Vec<lodestar_core::rows::FieldError>>| match parsed {
            Ok(row) => rows.push(row),
            Err(errs) => errors.extend(
                errs.into_iter()
                    .map(|e| RowError::from_field(index, line, e)),
            ),
        };
    match format {
        Format::Json => {
            let values: Vec<serde_json::Value> = serde_json::from_slice(bytes).map_err(|e| {
                ApiError::BadRequest(format!(
                    "malformed JSON (expected an array of {} rows): {e}",
                    R::TABLE_NAME
                ))
            })?;
            for (i, v) in values.iter().enumerate() {
                collect(i, None, R::from_json(v));
            }
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
            let headers: Vec<String> = reader
                .headers()
                .map_err(|e| ApiError::BadRequest(format!("malformed CSV header: {e}")))?
                .iter()
                .map(|h| h.trim().to_owned())
                .collect();
            let mut record = csv::StringRecord::new();
            let mut i = 0;
            loop {
                match reader.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {
                        let values: Vec<&str> = record.iter().collect();
                        let line = record.position().map(|p| p.line());
                        collect(i, line, R::from_csv(&headers, &values));
                        i += 1;
                    }
                    Err(e) => {
                        return Err(ApiError::BadRequest(format!(
                            "malformed CSV at data row {i}: {e}"
                        )));
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(ApiError::Validation(errors))
    }
}
