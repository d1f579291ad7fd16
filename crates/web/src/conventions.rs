//! What every response follows, whatever produced it: API errors are JSON (also the framework's
//! own, for a malformed body, a bad query string or path, an unknown route) naming the `field`
//! at fault where there is one, a wrong method is 405 with `Allow`, an unknown page is a page,
//! `HEAD` works wherever `GET` does, and nothing is content-sniffed.

use std::sync::OnceLock;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, ResponseError, web};
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

/// No route matched: under `/api` a JSON 405 with `Allow` when the path has routes for other
/// methods, else a JSON 404; a page elsewhere.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let what = format!("{} {}", req.method(), req.path());
    let allow = allowed_methods(req.path());
    if is_api(req.path()) && !allow.is_empty() {
        ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            path: req.path().to_owned(),
            allow,
        }
        .error_response()
    } else if is_api(req.path()) {
        ApiError::NotFound(format!(
            "no API call {what}: see GET /api/v1/catalog and the README"
        ))
        .error_response()
    } else {
        PageError::not_found(format!("There is no page at {}.", req.path())).error_response()
    }
}

/// The route modules' source: each API handler declares its method and path in its attribute
/// (`#[get("/api/v1/schedules/{id}")]`). actix-web skips a route whose method differs and ends
/// in the default service without saying which methods the path takes, so `Allow` is read from
/// here (a test checks that every route module is listed).
const ROUTE_SOURCES: &[(&str, &str)] = &[
    ("alert_pages.rs", include_str!("routes/alert_pages.rs")),
    ("alerts.rs", include_str!("routes/alerts.rs")),
    ("custom.rs", include_str!("routes/custom.rs")),
    ("data_page.rs", include_str!("routes/data_page.rs")),
    ("goal_pages.rs", include_str!("routes/goal_pages.rs")),
    ("goals.rs", include_str!("routes/goals.rs")),
    ("health.rs", include_str!("routes/health.rs")),
    ("imports.rs", include_str!("routes/imports.rs")),
    ("ingest.rs", include_str!("routes/ingest.rs")),
    ("kpis.rs", include_str!("routes/kpis.rs")),
    ("mod.rs", include_str!("routes/mod.rs")),
    ("pages.rs", include_str!("routes/pages.rs")),
    ("people.rs", include_str!("routes/people.rs")),
    ("report_editor.rs", include_str!("routes/report_editor.rs")),
    ("reports.rs", include_str!("routes/reports.rs")),
    (
        "schedule_pages.rs",
        include_str!("routes/schedule_pages.rs"),
    ),
    ("schedules.rs", include_str!("routes/schedules.rs")),
    ("segment_pages.rs", include_str!("routes/segment_pages.rs")),
    ("session.rs", include_str!("routes/session.rs")),
    ("settings.rs", include_str!("routes/settings.rs")),
    ("static_files.rs", include_str!("routes/static_files.rs")),
    ("team.rs", include_str!("routes/team.rs")),
    ("tokens.rs", include_str!("routes/tokens.rs")),
    ("tree_editor.rs", include_str!("routes/tree_editor.rs")),
    ("trees.rs", include_str!("routes/trees.rs")),
];

/// `(method, path pattern)` of every API route.
fn api_routes() -> &'static [(Method, ResourceDef)] {
    static ROUTES: OnceLock<Vec<(Method, ResourceDef)>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        ROUTE_SOURCES
            .iter()
            .flat_map(|(_, source)| source.lines())
            .filter_map(route_attribute)
            .filter(|(_, path)| is_api(path))
            .map(|(method, path)| (method, ResourceDef::new(path)))
            .collect()
    })
}

/// `#[get("/path")]` → `(GET, "/path")`.
fn route_attribute(line: &str) -> Option<(Method, &str)> {
    let rest = line.trim().strip_prefix("#[")?;
    let (name, rest) = rest.split_once("(\"")?;
    let method = match name {
        "get" => Method::GET,
        "post" => Method::POST,
        "put" => Method::PUT,
        "patch" => Method::PATCH,
        "delete" => Method::DELETE,
        _ => return None,
    };
    let (path, _) = rest.split_once('"')?;
    Some((method, path))
}

/// The methods the routes of `path` take (`HEAD` wherever `GET`), or none if no route has it.
fn allowed_methods(path: &str) -> Vec<String> {
    let mut allow: Vec<Method> = api_routes()
        .iter()
        .filter(|(_, def)| def.is_match(path))
        .map(|(method, _)| method.clone())
        .collect();
    if allow.contains(&Method::GET) {
        allow.push(Method::HEAD);
    }
    let order = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    order
        .iter()
        .filter(|m| allow.contains(m))
        .map(ToString::to_string)
        .collect()
}

/// Extractor settings whose errors, on the API, are JSON naming the parameter or field at
/// fault where it can be told: a path parameter that does not parse, a query parameter, a JSON
/// field (unknown, missing or duplicated).
pub fn extractors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::JsonConfig::default().error_handler(json_error));
}

fn path_error(err: PathError, req: &HttpRequest) -> Error {
    if !is_api(req.path()) {
        return err.into();
    }
    let message = err.to_string();
    let params: Vec<(&str, &str)> = req.match_info().iter().collect();
    // The parameter whose value the error quotes, or the only one.
    let field = params
        .iter()
        .find(|(_, value)| message.contains(&format!("\"{value}\"")))
        .or_else(|| params.first().filter(|_| params.len() == 1))
        .map(|(name, _)| (*name).to_owned());
    bad(field, message)
}

fn query_error(err: QueryPayloadError, req: &HttpRequest) -> Error {
    if !is_api(req.path()) {
        return err.into();
    }
    let message = err.to_string();
    let field = named_field(&message).or_else(|| odd_query_parameter(req.query_string()));
    bad(field, message)
}

fn json_error(err: JsonPayloadError, req: &HttpRequest) -> Error {
    if !is_api(req.path()) {
        return err.into();
    }
    match err {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::TooLarge { limit }.into()
        }
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
            "send the body as JSON with `Content-Type: application/json`".to_owned(),
        )
        .into(),
        err => {
            let message = err.to_string();
            bad(named_field(&message), message)
        }
    }
}

fn bad(field: Option<String>, message: String) -> Error {
    match field {
        Some(field) => ApiError::BadField { field, message }.into(),
        None => ApiError::BadRequest(message).into(),
    }
}

/// The field serde names in "unknown field `x`", "missing field `x`" or "duplicate field `x`".
fn named_field(message: &str) -> Option<String> {
    ["unknown field `", "missing field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| {
            let start = message.find(prefix)? + prefix.len();
            let len = message[start..].find('`')?;
            Some(message[start..start + len].to_owned())
        })
}

/// serde_urlencoded does not say which value failed to parse: the one parameter whose value is
/// not a number or a boolean (what typed query parameters are), or the only parameter there is.
fn odd_query_parameter(query: &str) -> Option<String> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .ok()?
        .into_inner();
    let odd: Vec<&String> = pairs
        .iter()
        .filter(|(_, v)| v.parse::<i64>().is_err() && v.parse::<bool>().is_err())
        .map(|(k, _)| k)
        .collect();
    match (odd.as_slice(), pairs.as_slice()) {
        ([one], _) => Some((*one).clone()),
        ([], [(only, _)]) => Some(only.clone()),
        _ => None,
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

    #[test]
    fn every_route_module_is_read_for_allow() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("the routes folder")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".rs"))
            .collect();
        files.sort();
        let listed: Vec<&str> = ROUTE_SOURCES.iter().map(|(name, _)| *name).collect();
        assert_eq!(files, listed);
    }

    #[test]
    fn allow_lists_the_methods_of_a_paths_routes() {
        assert_eq!(
            allowed_methods("/api/v1/schedules/12"),
            ["GET", "HEAD", "PUT", "DELETE"]
        );
        assert_eq!(
            allowed_methods("/api/v1/schedules"),
            ["GET", "HEAD", "POST"]
        );
        assert_eq!(allowed_methods("/api/v1/team"), ["GET", "HEAD", "PATCH"]);
        assert_eq!(allowed_methods("/api/v1/schedules/12/send-now"), ["POST"]);
        assert!(allowed_methods("/api/v1/no-such-thing").is_empty());
        assert!(
            allowed_methods("/reports/weekly").is_empty(),
            "pages are not API routes"
        );
    }

    #[test]
    fn a_field_is_named_where_the_error_tells_it() {
        assert_eq!(
            named_field("Json deserialize error: unknown field `pause`, expected one of `a`"),
            Some("pause".to_owned())
        );
        assert_eq!(
            named_field("missing field `cron` at line 1"),
            Some("cron".to_owned())
        );
        assert_eq!(named_field("invalid digit found in string"), None);
        assert_eq!(
            odd_query_parameter("schedule=abc&limit=5"),
            Some("schedule".to_owned())
        );
        assert_eq!(odd_query_parameter("limit=-5"), Some("limit".to_owned()));
        assert_eq!(odd_query_parameter("a=x&b=y"), None);
    }
}
