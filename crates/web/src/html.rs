//! HTML responses: the security headers every page carries, and the error type of page handlers,
//! which answers with a page (or a redirect to sign in) instead of JSON.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use askama::Template;

use crate::error::ApiError;
use crate::views::{ErrorPage, Layout};

/// Pages load only what this server serves: no inline script, no inline style, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers of every HTML page. `Referrer-Policy: no-referrer` matters: a shared
/// report's URL carries its share token, which must not leak to other sites through links.
pub fn page_headers(builder: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    builder
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
}

pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, PageError> {
    let body = page.render().map_err(PageError::internal)?;
    Ok(page_headers(&mut HttpResponse::build(status)).body(body))
}

/// The error of page handlers: a redirect to sign in, a refused share link or form, or any
/// failure the API would answer (400, 404, 422, 500…), shown as a page with that status.
/// Conversions from lower layers go through [`ApiError`] only.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// 303 to `/login?next=…`: the page needs a session and there is none.
    #[error("sign in to see this page")]
    SignIn { next: String },
    /// 403: an expired, tampered or foreign share link, or a form without its CSRF token.
    #[error("{message}")]
    Forbidden { heading: String, message: String },
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl PageError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> PageError {
        ApiError::internal(e).into()
    }

    pub fn bad_request(message: impl Into<String>) -> PageError {
        ApiError::BadRequest(message.into()).into()
    }

    pub fn not_found(message: impl Into<String>) -> PageError {
        ApiError::NotFound(message.into()).into()
    }

    pub fn forbidden(heading: &str, message: impl Into<String>) -> PageError {
        PageError::Forbidden {
            heading: heading.to_owned(),
            message: message.into(),
        }
    }
}

/// What a page shows for these is what the API answers for them.
macro_rules! through_api {
    ($($error:ty),*) => {$(
        impl From<$error> for PageError {
            fn from(e: $error) -> PageError {
                PageError::Api(e.into())
            }
        }
    )*};
}

through_api!(
    lodestar_store::StoreError,
    lodestar_core::CoreError,
    lodestar_report::ReportError,
    lodestar_report::report::OutlineError
);

/// `/login?next=<path>`, the path percent-encoded.
pub fn login_location(next: &str) -> String {
    let mut out = String::from("/login?next=");
    for b in next.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { .. } => StatusCode::SEE_OTHER,
            PageError::Forbidden { .. } => StatusCode::FORBIDDEN,
            PageError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (heading, message, sign_in) = match self {
            PageError::SignIn { next } => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, login_location(next)))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .finish();
            }
            PageError::Forbidden { heading, message } => (heading.as_str(), message.clone(), true),
            PageError::Api(e @ ApiError::Internal(_)) => {
                e.log_internal();
                (
                    "Something went wrong",
                    "The server could not build this page. The error was logged.".to_owned(),
                    false,
                )
            }
            PageError::Api(ApiError::NotFound(m)) => ("Not found", m.clone(), false),
            PageError::Api(ApiError::TooManyRequests { message, .. }) => {
                ("Too many attempts", message.clone(), false)
            }
            PageError::Api(e @ (ApiError::Unauthorized | ApiError::Forbidden(_))) => {
                ("Not allowed", e.to_string(), true)
            }
            PageError::Api(e) => ("That address is not quite right", e.to_string(), false),
        };
        let page = ErrorPage {
            layout: Layout::bare(heading),
            status: self.status_code().as_u16(),
            heading: heading.to_owned(),
            message,
            sign_in,
        };
        let mut resp = HttpResponse::build(self.status_code());
        if let PageError::Api(ApiError::TooManyRequests { retry_after, .. }) = self {
            resp.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        match page.render() {
            Ok(body) => page_headers(&mut resp).body(body),
            Err(_) => resp.body(heading.to_owned()),
        }
    }
}

/// 303 to `path`: where a form's handler sends the browser after it has done its work.
pub fn see_other(path: impl Into<String>) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, path.into()))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_after_sign_in_is_percent_encoded() {
        assert_eq!(
            login_location("/reports/weekly?period=2026-W45&x=<a>"),
            "/login?next=/reports/weekly%3Fperiod%3D2026-W45%26x%3D%3Ca%3E"
        );
    }
}
