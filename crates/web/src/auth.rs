//! `Authorization: Bearer <token>` → the token's team and role. Every data handler takes an
//! `Auth`, so no query can run without a team to scope it to.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use lodestar_store::tokens::{self, Principal};

use crate::error::ApiError;
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

fn bearer(req: &HttpRequest) -> Option<String> {
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
        Box::pin(async move {
            let (Some(token), Some(state)) = (token, state) else {
                return Err(ApiError::Unauthorized);
            };
            match tokens::authenticate(&state.db, &token).await? {
                Some(p) => Ok(Auth(p)),
                None => Err(ApiError::Unauthorized),
            }
        })
    }
}
