//! What every response follows, whatever produced it: API errors are JSON (also the framework's
//! own, for a malformed body, a bad query string or path, an unknown route), an unknown page is
//! a page, `HEAD` works wherever `GET` does, and nothing is content-sniffed.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, ResponseError};
use serde_json::json;

use crate::error::ApiError;
use crate::html::PageError;

/// Largest framework error text copied into a JSON `message`.
const MAX_MESSAGE: usize = 500;

/// `error` of a JSON error reply by status, as [`ApiError`] names them.
fn kind(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "validation",
        429 => "too_many_requests",
        500..=599 => "internal",
        _ => "error",
    }
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The middleware: HEAD answered as GET without a body; an API error that is not JSON yet (the
/// framework's text for a malformed body, query or path) rewritten as JSON; `nosniff` on all.
pub async fn apply(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, Error> {
    let head = req.method() == Method::HEAD;
    if head {
        req.head_mut().method = Method::GET;
    }
    let api = is_api(req.path());
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut res = if api && (status.is_client_error() || status.is_server_error()) && !is_json {
        let (req, res) = res.into_parts();
        let (res, body) = res.into_parts();
        let text = actix_web::body::to_bytes(body).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let message = match text.trim() {
            "" => status.canonical_reason().unwrap_or("error").to_owned(),
            t => t.chars().take(MAX_MESSAGE).collect(),
        };
        let mut json = HttpResponse::build(status);
        for (name, value) in res.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                json.append_header((name.clone(), value.clone()));
            }
        }
        let json = json.json(json!({"error": kind(status), "message": message}));
        ServiceResponse::new(req, json)
    } else {
        res
    };
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    if head {
        res = res.map_body(|_, _| BoxBody::new(()));
    }
    Ok(res.map_into_left_body())
}

/// No route matched: a JSON 404 under `/api`, a page elsewhere.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let what = format!("{} {}", req.method(), req.path());
    if is_api(req.path()) {
        ApiError::NotFound(format!(
            "no API call {what}: see GET /api/v1/catalog and the README"
        ))
        .error_response()
    } else {
        PageError::not_found(format!("There is no page at {}.", req.path())).error_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_follow_the_api_names() {
        assert_eq!(kind(StatusCode::BAD_REQUEST), "bad_request");
        assert_eq!(kind(StatusCode::PAYLOAD_TOO_LARGE), "payload_too_large");
        assert_eq!(kind(StatusCode::METHOD_NOT_ALLOWED), "method_not_allowed");
        assert_eq!(kind(StatusCode::BAD_GATEWAY), "internal");
        assert!(is_api("/api/v1/kpis") && is_api("/api") && !is_api("/apiary"));
    }
}
