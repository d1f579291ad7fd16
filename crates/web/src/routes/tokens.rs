//! The team's API tokens, for its admins: `GET /api/v1/tokens` lists them (never a secret or a
//! hash), `DELETE /api/v1/tokens/{id}` revokes one and every session opened with it.

use actix_web::{HttpResponse, delete, get, web};
use chrono::Utc;
use lodestar_core::period::rfc3339;
use lodestar_store::tokens::{self, TokenInfo};
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(list_tokens).service(revoke_token);
}

fn token_json(t: &TokenInfo, current: Option<i32>) -> Value {
    json!({
        "id": t.id,
        "role": t.role,
        "label": t.label,
        "created_at": rfc3339(t.created_at),
        "last_used_at": t.last_used_at.map(rfc3339),
        "revoked": t.revoked_at.is_some(),
        "revoked_at": t.revoked_at.map(rfc3339),
        "current": current == Some(t.id),
    })
}

fn require_admin(auth: &Auth) -> Result<(), ApiError> {
    if auth.0.role == tokens::Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "a {} token cannot see or revoke the team's tokens: use an admin token",
            auth.0.role
        )))
    }
}

#[get("/api/v1/tokens")]
async fn list_tokens(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let list: Vec<Value> = tokens::list(&state.db, auth.0.team.id)
        .await?
        .iter()
        .map(|t| token_json(t, auth.0.token_id))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "tokens": list })))
}

/// Revokes at once; revoking a revoked token again is not an error. Another team's token is 404.
#[delete("/api/v1/tokens/{id}")]
async fn revoke_token(
    auth: Auth,
    id: web::Path<i32>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let id = id.into_inner();
    match tokens::revoke(&state.db, auth.0.team.id, id, Utc::now()).await? {
        Some(t) => {
            tracing::info!(team = %auth.0.team.slug, token = id, "token revoked");
            Ok(HttpResponse::Ok().json(token_json(&t, auth.0.token_id)))
        }
        None => Err(ApiError::NotFound(format!("no token {id}"))),
    }
}
