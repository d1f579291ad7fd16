//! Signing in with an e-mail and password or with a token (`/login`, rate-limited per client
//! address, and per account for passwords) and out (`POST /logout`, which ends the session
//! server-side; `POST /logout/everywhere`, which ends every session of the person).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Utc;
use lodestar_store::tokens;
use serde::Deserialize;

use crate::accounts;
use crate::html::{PageError, render};
use crate::session::{self, LOGIN_COOKIE};
use crate::state::AppState;
use crate::viewer;
use crate::views::{Layout, LoginPage};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(login_form)
        .service(login)
        .service(logout)
        .service(logout_everywhere);
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// What the sign-in form shows besides its fields.
#[derive(Default)]
pub(crate) struct LoginState {
    pub email: String,
    pub notice: Option<String>,
    pub password_error: Option<String>,
    pub token_error: Option<String>,
}

/// The form, bound to a fresh cookie so another site cannot submit it for someone.
async fn form(
    state: &AppState,
    status: StatusCode,
    next: String,
    shown: LoginState,
) -> Result<HttpResponse, PageError> {
    let (cookie, field) = challenge(state).await?;
    let page = LoginPage {
        layout: Layout::bare("Sign in"),
        csrf: field,
        next,
        email: shown.email,
        notice: shown.notice,
        password_error: shown.password_error,
        token_error: shown.token_error,
    };
    let mut resp = render(status, &page)?;
    resp.add_cookie(&session::login_cookie(cookie, &state.settings.public_url))
        .map_err(PageError::internal)?;
    Ok(resp)
}

/// A fresh challenge for a form under `/login` (the cookie's path): (cookie, hidden field).
pub(crate) async fn challenge(state: &AppState) -> Result<(String, String), PageError> {
    let secret = state.keys.session(&state.db).await?;
    Ok(session::login_challenge(secret, Utc::now()))
}

/// Whether a form under `/login` came with the field of the challenge in its cookie.
pub(crate) async fn challenge_ok(
    req: &HttpRequest,
    state: &AppState,
    field: &str,
) -> Result<(), PageError> {
    let secret = state.keys.session(&state.db).await?;
    let cookie = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_owned());
    if session::login_ok(secret, cookie.as_deref(), field, Utc::now()) {
        Ok(())
    } else {
        Err(PageError::forbidden(
            "This form has expired",
            "Open the page again and fill the form there.",
        ))
    }
}

/// A 303 to `next` that sets the new session's cookie and drops the form's.
pub(crate) fn signed_in_redirect(
    state: &AppState,
    secret: String,
    next: &str,
) -> Result<HttpResponse, PageError> {
    let public_url = &state.settings.public_url;
    let mut resp = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    resp.add_cookie(&session::session_cookie(secret, public_url))
        .map_err(PageError::internal)?;
    let mut used = session::login_cookie(String::new(), public_url);
    used.make_removal();
    resp.add_cookie(&used).map_err(PageError::internal)?;
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
    form(&state, StatusCode::OK, next, LoginState::default()).await
}

#[derive(Deserialize)]
struct LoginForm {
    token: Option<String>,
    email: Option<String>,
    password: Option<String>,
    csrf: String,
    next: Option<String>,
}

/// Worded alike for an unknown address, a wrong password and too many attempts on the account.
const WRONG_PASSWORD: &str =
    "That e-mail and password do not match an account. Check both, or reset your password.";

#[post("/login")]
async fn login(
    req: HttpRequest,
    f: web::Form<LoginForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    // Every attempt counts, whatever it holds: guessing tokens is what this slows down.
    state.limits.sign_in(&req)?;
    challenge_ok(&req, &state, &f.csrf).await?;
    let next = session::safe_next(f.next.as_deref());
    let token = f.token.as_deref().map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return sign_in_with_password(&state, &f, next).await;
    }
    let Some(principal) = tokens::authenticate(&state.db, token).await? else {
        tracing::info!("sign-in with an unknown token");
        let shown = LoginState {
            token_error: Some(
                "That token is not valid. Check that you pasted all of it.".to_owned(),
            ),
            ..LoginState::default()
        };
        return form(&state, StatusCode::UNAUTHORIZED, next, shown).await;
    };
    let opened = session::open(&state.db, &principal).await?;
    tracing::info!(team = %principal.team.slug, role = %principal.role, "signed in");
    signed_in_redirect(&state, opened.secret, &next)
}

async fn sign_in_with_password(
    state: &AppState,
    f: &LoginForm,
    next: String,
) -> Result<HttpResponse, PageError> {
    let email = f.email.as_deref().unwrap_or_default().trim().to_owned();
    let password = f.password.clone().unwrap_or_default();
    let user = accounts::check_password(state, &email, password).await?;
    let opened = match user {
        Some(user_id) => accounts::open_session(state, user_id, None).await?,
        None => None,
    };
    let Some((opened, team)) = opened else {
        tracing::info!("password sign-in refused");
        let shown = LoginState {
            email,
            password_error: Some(WRONG_PASSWORD.to_owned()),
            ..LoginState::default()
        };
        return form(state, StatusCode::UNAUTHORIZED, next, shown).await;
    };
    tracing::info!(team = %team.slug, "signed in with a password");
    signed_in_redirect(state, opened.secret, &next)
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

/// Ends every session of the person signed in, on every device; a token's session ends alone.
#[post("/logout/everywhere")]
async fn logout_everywhere(
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
        let now = Utc::now();
        match me.session.user_id {
            Some(user_id) => {
                let ended =
                    lodestar_store::sessions::end_all_of_user(state.db.conn(), user_id, now)
                        .await?;
                tracing::info!(ended, "signed out everywhere");
            }
            None => {
                lodestar_store::sessions::end(&state.db, &me.session.id, now).await?;
            }
        }
    }
    let mut resp = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .finish();
    resp.add_cookie(&session::cleared_session_cookie(&state.settings.public_url))
        .map_err(PageError::internal)?;
    Ok(resp)
}
