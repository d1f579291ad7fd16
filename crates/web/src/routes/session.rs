//! Signing in with a token (`/login`, rate-limited per client address) and out (`POST /logout`,
//! which ends the session server-side).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Utc;
use lodestar_store::tokens;
use serde::Deserialize;

use crate::html::{PageError, render};
use crate::session::{self, LOGIN_COOKIE};
use crate::state::AppState;
use crate::viewer;
use crate::views::{Layout, LoginPage};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(login_form).service(login).service(logout);
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// The form, bound to a fresh cookie so another site cannot submit it for someone.
async fn form(
    state: &AppState,
    status: StatusCode,
    next: String,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let secret = state.keys.session(&state.db).await?;
    let (cookie, field) = session::login_challenge(secret, Utc::now());
    let page = LoginPage {
        layout: Layout::bare("Sign in"),
        csrf: field,
        next,
        error,
    };
    let mut resp = render(status, &page)?;
    resp.add_cookie(&session::login_cookie(cookie, &state.settings.public_url))
        .map_err(PageError::internal)?;
    Ok(resp)
}

#[get("/login")]
async fn login_form(
    req: HttpRequest,
    q: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let next = session::safe_next(q.next.as_deref());
    if viewer::signed_in(&req, &state).await?.is_some() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next))
            .finish());
    }
    form(&state, StatusCode::OK, next, None).await
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    csrf: String,
    next: Option<String>,
}

#[post("/login")]
async fn login(
    req: HttpRequest,
    f: web::Form<LoginForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    // Every attempt counts, whatever it holds: guessing tokens is what this slows down.
    state.limits.sign_in(&req)?;
    let secret = state.keys.session(&state.db).await?;
    let now = Utc::now();
    let challenge = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_owned());
    if !session::login_ok(secret, challenge.as_deref(), &f.csrf, now) {
        return Err(PageError::forbidden(
            "This sign-in form has expired",
            "Open the sign-in page again and paste your token there.",
        ));
    }
    let next = session::safe_next(f.next.as_deref());
    let Some(principal) = tokens::authenticate(&state.db, f.token.trim()).await? else {
        tracing::info!("sign-in with an unknown token");
        return form(
            &state,
            StatusCode::UNAUTHORIZED,
            next,
            Some("That token is not valid. Check that you pasted all of it.".to_owned()),
        )
        .await;
    };
    let opened = session::open(&state.db, &principal).await?;
    let public_url = &state.settings.public_url;
    let mut resp = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    resp.add_cookie(&session::session_cookie(opened.secret, public_url))
        .map_err(PageError::internal)?;
    let mut used = session::login_cookie(String::new(), public_url);
    used.make_removal();
    resp.add_cookie(&used).map_err(PageError::internal)?;
    tracing::info!(team = %principal.team.slug, role = %principal.role, "signed in");
    Ok(resp)
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: Option<String>,
}

#[post("/logout")]
async fn logout(
    req: HttpRequest,
    f: web::Form<LogoutForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if let Some(me) = viewer::signed_in(&req, &state).await? {
        let secret = state.keys.session(&state.db).await?;
        if !session::csrf_ok(secret, &me.session.id, f.csrf.as_deref()) {
            return Err(PageError::forbidden(
                "Sign-out was not confirmed",
                "The request did not come from a Lodestar page. Use the Sign out button.",
            ));
        }
        // Ended in the database: a copy of the cookie opens nothing any more, on any replica.
        lodestar_store::sessions::end(&state.db, &me.session.id, Utc::now()).await?;
        tracing::info!(team = %me.team.slug, "signed out");
    }
    let mut resp = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .finish();
    resp.add_cookie(&session::cleared_session_cookie(&state.settings.public_url))
        .map_err(PageError::internal)?;
    Ok(resp)
}
