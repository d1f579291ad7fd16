//! `Authorization: Bearer <token>` → the token's team and role. Every data handler takes an
//! `Auth`, so no query can run without a team to scope it to.
//!
//! Without an `Authorization` header, a browser session cookie authenticates too (the pages'
//! scripts call the JSON API with it). A cookie is sent by the browser on its own, so a
//! cookie-authenticated write must also carry the session's `X-CSRF-Token` header, which only
//! Lodestar's pages know.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::Method, http::header, web};
use lodestar_store::tokens::{self, Principal};

use crate::error::ApiError;
use crate::session::{self, CSRF_HEADER};
use crate::state::AppState;

pub struct Auth(pub Principal);

impl Auth {
    /// Viewers read; editors and admins may also write.
    pub fn require_write(&self) -> Result<(), ApiError> {
        if self.0.role.can_write() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "a {} token cannot change data: use an editor or admin token",
                self.0.role
            )))
        }
    }
}

impl Auth {
    /// Team settings are for admins.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.0.role == tokens::Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "a {} token cannot change the team's settings: use an admin token",
                self.0.role
            )))
        }
    }
}

pub(crate) fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Auth, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let cookie = match req.headers().contains_key(header::AUTHORIZATION) {
            true => None,
            false => session::cookie_value(req),
        };
        let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let csrf = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let Some(state) = state else {
                return Err(ApiError::Unauthorized);
            };
            if let Some(token) = token {
                return match tokens::authenticate(&state.db, &token).await? {
                    Some(p) => Ok(Auth(p)),
                    None => Err(ApiError::Unauthorized),
                };
            }
            let Some(cookie) = cookie else {
                return Err(ApiError::Unauthorized);
            };
            let Some(open) = session::find(&state.db, &cookie).await? else {
                return Err(ApiError::Unauthorized);
            };
            let secret = state.keys.session(&state.db).await?;
            if writes && !session::csrf_ok(secret, &open.id, csrf.as_deref()) {
                return Err(ApiError::Forbidden(
                    "a write with a session cookie needs the page's X-CSRF-Token header".to_owned(),
                ));
            }
            Ok(Auth(Principal {
                team: open.team,
                role: open.role,
                token_id: open.token_id,
                user_id: open.user_id,
            }))
        })
    }
}
