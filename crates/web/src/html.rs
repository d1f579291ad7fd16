//! HTML responses: the security headers every page carries, and the error type of page handlers,
//! which answers with a page (or a redirect to sign in) instead of JSON.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use askama::Template;

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
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
}

pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, PageError> {
    let body = page.render().map_err(PageError::internal)?;
    Ok(page_headers(&mut HttpResponse::build(status)).body(body))
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// 303 to `/login?next=…`: the page needs a session and there is none.
    #[error("sign in to see this page")]
    SignIn { next: String },
    /// 400: a bad period or dimension in the address.
    #[error("{0}")]
    BadRequest(String),
    /// 403: an expired, tampered or foreign share link, or a form without its CSRF token.
    #[error("{message}")]
    Forbidden { heading: String, message: String },
    /// 404: no such report for this team.
    #[error("{0}")]
    NotFound(String),
    /// 500: logged with its cause chain, shown opaquely.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl PageError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> PageError {
        PageError::Internal(Box::new(e))
    }

    pub fn forbidden(heading: &str, message: impl Into<String>) -> PageError {
        PageError::Forbidden {
            heading: heading.to_owned(),
            message: message.into(),
        }
    }
}

impl From<lodestar_store::StoreError> for PageError {
    fn from(e: lodestar_store::StoreError) -> PageError {
        PageError::internal(e)
    }
}

impl From<lodestar_core::CoreError> for PageError {
    fn from(e: lodestar_core::CoreError) -> PageError {
        PageError::BadRequest(e.to_string())
    }
}

impl From<lodestar_report::ReportError> for PageError {
    fn from(e: lodestar_report::ReportError) -> PageError {
        match e {
            lodestar_report::ReportError::Input(e) => e.into(),
            other => PageError::internal(other),
        }
    }
}

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
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Forbidden { .. } => StatusCode::FORBIDDEN,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            PageError::BadRequest(m) => ("That address is not quite right", m.clone(), false),
            PageError::Forbidden { heading, message } => (heading.as_str(), message.clone(), true),
            PageError::NotFound(m) => ("Not found", m.clone(), false),
            PageError::Internal(e) => {
                let mut chain = e.to_string();
                let mut source = e.source();
                while let Some(s) = source {
                    chain.push_str(": ");
                    chain.push_str(&s.to_string());
                    source = s.source();
                }
                tracing::error!(error = %chain, "internal error on a page");
                (
                    "Something went wrong",
                    "The server could not build this page. The error was logged.".to_owned(),
                    false,
                )
            }
        };
        let page = ErrorPage {
            layout: Layout::bare(heading),
            status: self.status_code().as_u16(),
            heading: heading.to_owned(),
            message,
            sign_in,
        };
        match page.render() {
            Ok(body) => page_headers(&mut HttpResponse::build(self.status_code())).body(body),
            Err(_) => HttpResponse::build(self.status_code()).body(heading.to_owned()),
        }
    }
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
