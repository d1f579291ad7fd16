//! Every request gets an id: taken from a proxy's `X-Request-Id` when it is a plain token, else
//! made here. It is returned in `X-Request-Id`, carried into JSON errors as `request_id`, set on
//! the span of everything logged while the request runs (the request's own log line among them).

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// A proxy's id is kept only when it cannot smuggle anything into logs or headers.
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn fresh() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub async fn tag(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(fresh, str::to_owned);
    let span = tracing::info_span!("request", request_id = %id);
    let res = next.call(req).instrument(span).await?.map_into_boxed_body();
    let status = res.status();
    let mut res = if status.is_client_error() || status.is_server_error() {
        with_id_in_json(res, &id).await
    } else {
        res
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, value);
    }
    Ok(res)
}

/// A JSON error object gains `request_id`, so a report of it can be found in the logs.
async fn with_id_in_json(res: ServiceResponse<BoxBody>, id: &str) -> ServiceResponse<BoxBody> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return res;
    }
    let (req, res) = res.into_parts();
    let (mut res, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut object)) => {
            object.insert("request_id".to_owned(), id.into());
            res.headers_mut().remove(header::CONTENT_LENGTH);
            serde_json::to_vec(&object).unwrap_or_else(|_| bytes.to_vec())
        }
        _ => bytes.to_vec(),
    };
    ServiceResponse::new(req, res.set_body(BoxBody::new(body)))
}
