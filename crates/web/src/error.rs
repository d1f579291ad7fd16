//! The one HTTP error type. Each variant documents its status; internal errors are logged with
//! their cause chain and shown as an opaque 500.

use actix_web::{HttpResponse, ResponseError, http::StatusCode, http::header};
use lodestar_core::rows::FieldError;
use serde::Serialize;
use serde_json::json;

#[derive(Debug, Serialize)]
pub struct RowError {
    pub index: usize,
    /// The file's 1-based line (the header is line 1); CSV only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub field: String,
    pub message: String,
}

impl RowError {
    pub fn from_field(index: usize, line: Option<u64>, e: FieldError) -> RowError {
        RowError {
            index,
            line,
            field: e.field,
            message: e.message,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be understood (bad period, malformed JSON or CSV, …).
    #[error("{0}")]
    BadRequest(String),
    /// 400: a parameter or field the request cannot be read with (a malformed path id, query
    /// parameter or JSON field), named in `field`.
    #[error("{message}")]
    BadField { field: String, message: String },
    /// 401: no token, or an unknown one.
    #[error("a valid `Authorization: Bearer <token>` header is required")]
    Unauthorized,
    /// 403: the token's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: nothing of that name for this team (also for other teams' objects).
    #[error("{0}")]
    NotFound(String),
    /// 405: no route of this path takes the method; `Allow` lists those that do.
    #[error("{method} is not allowed on {path}; it takes {}", .allow.join(", "))]
    MethodNotAllowed {
        method: String,
        path: String,
        allow: Vec<String>,
    },
    /// 413: the body is larger than the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// 415: a content type the endpoint does not read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: rows that do not validate; nothing of the batch was stored.
    #[error("{} invalid row(s); nothing of this batch was stored", .0.len())]
    Validation(Vec<RowError>),
    /// 422: a script that does not compile, with where.
    #[error("{}", .0.message)]
    Script(lodestar_script::ScriptError),
    /// 422: a well-formed request whose content is not acceptable (unknown unit, a cycle…).
    #[error("{message}")]
    Unprocessable { field: String, message: String },
    /// 429: a rate limit (sign-in attempts, mail sending); `Retry-After` says when to try again.
    #[error("{message}")]
    TooManyRequests { retry_after: u64, message: String },
    /// 500: logged with its cause chain, shown opaquely.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
        ApiError::Internal(Box::new(e))
    }

    /// Logs an internal error with its cause chain (the reply shows none of it).
    pub(crate) fn log_internal(&self) {
        if let ApiError::Internal(e) = self {
            let mut chain = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            tracing::error!(error = %chain, "internal error");
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) | ApiError::BadField { .. } => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Validation(_) | ApiError::Unprocessable { .. } => "validation",
            ApiError::Script(_) => "script",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// Most failures below the web layer are the server's fault; input errors are parsed earlier.
impl From<lodestar_store::StoreError> for ApiError {
    fn from(e: lodestar_store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<lodestar_core::CoreError> for ApiError {
    fn from(e: lodestar_core::CoreError) -> ApiError {
        match e.field() {
            Some(field) => ApiError::BadField {
                field: field.to_owned(),
                message: e.to_string(),
            },
            None => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<lodestar_report::ReportError> for ApiError {
    fn from(e: lodestar_report::ReportError) -> ApiError {
        match e {
            lodestar_report::ReportError::Input(e) => e.into(),
            lodestar_report::ReportError::Store(e) => e.into(),
            e @ lodestar_report::ReportError::Internal(_) => ApiError::internal(e),
        }
    }
}

impl From<lodestar_report::report::OutlineError> for ApiError {
    fn from(e: lodestar_report::report::OutlineError) -> ApiError {
        match e {
            e @ lodestar_report::report::OutlineError::UnknownTree(_) => {
                ApiError::NotFound(e.to_string())
            }
            lodestar_report::report::OutlineError::Report(e) => e.into(),
        }
    }
}

impl From<lodestar_report::team_reports::SaveError> for ApiError {
    fn from(e: lodestar_report::team_reports::SaveError) -> ApiError {
        match e {
            lodestar_report::team_reports::SaveError::Invalid(e) => ApiError::Unprocessable {
                field: e.field,
                message: e.message,
            },
            lodestar_report::team_reports::SaveError::Failed(e) => e.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::BadField { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::Script(_) | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log_internal();
        let mut body = json!({"error": self.kind(), "message": self.to_string()});
        match self {
            ApiError::Validation(rows) => body["rows"] = json!(rows),
            ApiError::TooLarge { limit } => body["limit"] = json!(limit),
            ApiError::Script(e) => {
                body["line"] = json!(e.line);
                body["column"] = json!(e.column);
                if let Some(kpi) = &e.kpi {
                    body["kpi"] = json!(kpi);
                }
            }
            ApiError::Unprocessable { field, .. } | ApiError::BadField { field, .. } => {
                body["field"] = json!(field);
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                body["retry_after"] = json!(retry_after)
            }
            _ => {}
        }
        let mut resp = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized => {
                resp.insert_header(("WWW-Authenticate", "Bearer"));
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                resp.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                resp.insert_header((header::ALLOW, allow.join(", ")));
            }
            _ => {}
        }
        resp.json(body)
    }
}
