//! People: one-time links to set a password (`/login/password/{secret}`), password resets
//! (`/login/forgot`), invitations (`/login/invitation/{secret}`), switching team
//! (`POST /team/switch`), and the team's members for its admins (`/api/v1/members`).
//! The forms under `/login` carry the sign-in form's challenge as their CSRF token.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::Utc;
use lodestar_store::people::{self, Change};
use lodestar_store::tokens::Role;
use lodestar_store::{passwords, sessions};
use serde::Deserialize;
use serde_json::{Value, json};

use super::session::{challenge, challenge_ok, signed_in_redirect};
use crate::accounts;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::html::{PageError, render};
use crate::session;
use crate::state::AppState;
use crate::viewer;
use crate::views::{ForgotPage, Layout, SetPasswordPage};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(password_form)
        .service(set_password)
        .service(link_form)
        .service(sign_in_with_link)
        .service(forgot_form)
        .service(forgot)
        .service(invitation_form)
        .service(accept_invitation)
        .service(switch_team)
        .service(list_members)
        .service(invite_member)
        .service(change_member)
        .service(remove_member);
}

fn gone(what: &str) -> PageError {
    PageError::forbidden(
        "This link no longer works",
        format!(
            "The {what} link has expired or was already used. Ask for a new one: links work once."
        ),
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    password: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn set_password_page(
    state: &AppState,
    status: StatusCode,
    heading: &str,
    intro: String,
    action: String,
    button: &str,
    email: String,
    ask_password: bool,
    password_error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (cookie, field) = challenge(state).await?;
    let page = SetPasswordPage {
        layout: Layout::bare(heading),
        heading: heading.to_owned(),
        intro,
        action,
        button: button.to_owned(),
        csrf: field,
        email,
        ask_password,
        min_chars: passwords::MIN_CHARS,
        password_error,
    };
    let mut resp = render(status, &page)?;
    // The address holds the link's secret: keep it out of caches and Referer headers.
    let headers = resp.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    resp.add_cookie(&session::login_cookie(cookie, &state.settings.public_url))
        .map_err(PageError::internal)?;
    Ok(resp)
}

async fn password_page(
    state: &AppState,
    secret: &str,
    email: String,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    set_password_page(
        state,
        status,
        "Set your password",
        "Choose the password you will sign in with.".to_owned(),
        format!("/login/password/{secret}"),
        "Set password and sign in",
        email,
        true,
        error,
    )
    .await
}

#[get("/login/password/{secret}")]
async fn password_form(
    secret: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(email) = people::password_link(&state.db, &secret, Utc::now()).await? else {
        return Err(gone("password"));
    };
    password_page(&state, &secret, email, StatusCode::OK, None).await
}

#[post("/login/password/{secret}")]
async fn set_password(
    req: HttpRequest,
    secret: web::Path<String>,
    f: web::Form<PasswordForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    challenge_ok(&req, &state, &f.csrf).await?;
    let now = Utc::now();
    let Some(email) = people::password_link(&state.db, &secret, now).await? else {
        return Err(gone("password"));
    };
    let password = f.password.clone().unwrap_or_default();
    if let Err(why) = passwords::check_new(&password) {
        return password_page(
            &state,
            &secret,
            email,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(why),
        )
        .await;
    }
    let phc = accounts::hash_password(password).await?;
    let Some(user_id) = people::set_password_with_link(&state.db, &secret, &phc, now).await? else {
        return Err(gone("password"));
    };
    tracing::info!(user = user_id, "password set through a link");
    match accounts::open_session(&state, user_id, None).await? {
        Some((opened, _)) => signed_in_redirect(&state, opened.secret, "/"),
        None => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish()),
    }
}

/// A one-click sign-in (the demo's link): a page with one button, so a mail scanner or a link
/// preview that fetches the address does not use the link up.
#[get("/login/link/{secret}")]
async fn link_form(
    secret: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(email) = people::password_link(&state.db, &secret, Utc::now()).await? else {
        return Err(gone("sign-in"));
    };
    set_password_page(
        &state,
        StatusCode::OK,
        "Sign in",
        "This link signs you in once, without a password.".to_owned(),
        format!("/login/link/{secret}"),
        "Sign in",
        email,
        false,
        None,
    )
    .await
}

#[post("/login/link/{secret}")]
async fn sign_in_with_link(
    req: HttpRequest,
    secret: web::Path<String>,
    f: web::Form<PasswordForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    challenge_ok(&req, &state, &f.csrf).await?;
    let Some(user_id) = people::sign_in_with_link(&state.db, &secret, Utc::now()).await? else {
        return Err(gone("sign-in"));
    };
    match accounts::open_session(&state, user_id, None).await? {
        Some((opened, _)) => signed_in_redirect(&state, opened.secret, "/"),
        None => Err(gone("sign-in")),
    }
}

async fn forgot_page(
    state: &AppState,
    status: StatusCode,
    email: String,
    sent: bool,
    email_error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (cookie, field) = challenge(state).await?;
    let page = ForgotPage {
        layout: Layout::bare("Reset your password"),
        csrf: field,
        email,
        sent,
        email_error,
    };
    let mut resp = render(status, &page)?;
    resp.add_cookie(&session::login_cookie(cookie, &state.settings.public_url))
        .map_err(PageError::internal)?;
    Ok(resp)
}

#[get("/login/forgot")]
async fn forgot_form(state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    forgot_page(&state, StatusCode::OK, String::new(), false, None).await
}

#[derive(Deserialize)]
struct ForgotForm {
    csrf: String,
    email: Option<String>,
}

/// Answers alike whether or not the address has an account; only the mail differs.
#[post("/login/forgot")]
async fn forgot(
    req: HttpRequest,
    f: web::Form<ForgotForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    state.limits.sign_in(&req)?;
    challenge_ok(&req, &state, &f.csrf).await?;
    let raw = f.email.clone().unwrap_or_default();
    let Some(email) = people::normalize_email(&raw) else {
        return forgot_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            raw,
            false,
            Some("Enter an e-mail address like name@example.com.".to_owned()),
        )
        .await;
    };
    state.limits.email(&email)?;
    if let Some((_, secret)) = people::issue_password_link(&state.db, &email, Utc::now()).await? {
        accounts::send_reset(&state, &email, &secret).await?;
        tracing::info!("password reset link sent");
    }
    forgot_page(&state, StatusCode::OK, email, true, None).await
}

async fn invitation_page(
    state: &AppState,
    secret: &str,
    inv: people::Invitation,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let intro = match inv.has_password {
        true => format!(
            "Join {} as {}. You keep your password.",
            inv.team.name, inv.role
        ),
        false => format!(
            "Join {} as {}: choose the password you will sign in with.",
            inv.team.name, inv.role
        ),
    };
    set_password_page(
        state,
        status,
        "Accept the invitation",
        intro,
        format!("/login/invitation/{secret}"),
        "Join the team",
        inv.email,
        !inv.has_password,
        error,
    )
    .await
}

#[get("/login/invitation/{secret}")]
async fn invitation_form(
    secret: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(inv) = people::invitation(&state.db, &secret, Utc::now()).await? else {
        return Err(gone("invitation"));
    };
    invitation_page(&state, &secret, inv, StatusCode::OK, None).await
}

#[post("/login/invitation/{secret}")]
async fn accept_invitation(
    req: HttpRequest,
    secret: web::Path<String>,
    f: web::Form<PasswordForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    challenge_ok(&req, &state, &f.csrf).await?;
    let now = Utc::now();
    let Some(inv) = people::invitation(&state.db, &secret, now).await? else {
        return Err(gone("invitation"));
    };
    let phc = match inv.has_password {
        true => None,
        false => {
            let password = f.password.clone().unwrap_or_default();
            if let Err(why) = passwords::check_new(&password) {
                return invitation_page(
                    &state,
                    &secret,
                    inv,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(why),
                )
                .await;
            }
            Some(accounts::hash_password(password).await?)
        }
    };
    let Some((user_id, team_id)) = people::accept(&state.db, &secret, phc.as_deref(), now).await?
    else {
        return Err(gone("invitation"));
    };
    tracing::info!(user = user_id, team = team_id, "invitation accepted");
    match accounts::open_session(&state, user_id, Some(team_id)).await? {
        Some((opened, _)) => signed_in_redirect(&state, opened.secret, "/"),
        None => Err(gone("invitation")),
    }
}

#[derive(Deserialize)]
struct SwitchForm {
    csrf: Option<String>,
    team_id: i32,
}

/// Moves the person's session to another of their teams; every page and export then shows it.
#[post("/team/switch")]
async fn switch_team(
    req: HttpRequest,
    f: web::Form<SwitchForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = viewer::require(&req, &state).await?;
    let secret = state.keys.session(&state.db).await?;
    if !session::csrf_ok(secret, &me.session.id, f.csrf.as_deref()) {
        return Err(PageError::forbidden(
            "Switching team was not confirmed",
            "The request did not come from a Lodestar page. Use the team menu.",
        ));
    }
    let Some(user_id) = me.session.user_id else {
        return Err(PageError::forbidden(
            "No other team",
            "A token's session belongs to the token's team.",
        ));
    };
    if !sessions::switch_team(&state.db, &me.session.id, user_id, f.team_id).await? {
        return Err(PageError::forbidden(
            "Not a member",
            "You are not a member of that team.",
        ));
    }
    let back = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()));
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, session::safe_next(back.as_deref())))
        .finish())
}

fn require_admin(auth: &Auth) -> Result<(), ApiError> {
    if auth.0.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "a {} cannot manage the team's members: only admins can",
            auth.0.role
        )))
    }
}

fn parse_role(field: &str, raw: &str) -> Result<Role, ApiError> {
    Role::parse(raw.trim()).ok_or_else(|| ApiError::Unprocessable {
        field: field.to_owned(),
        message: format!("role `{raw}`: use admin, editor or viewer"),
    })
}

fn change(c: Change) -> Result<(), ApiError> {
    match c {
        Change::Done => Ok(()),
        Change::NotAMember => Err(ApiError::NotFound("no such member".to_owned())),
        Change::LastAdmin => Err(ApiError::Unprocessable {
            field: "role".to_owned(),
            message: "the team's last admin stays admin: make someone else admin first".to_owned(),
        }),
    }
}

#[get("/api/v1/members")]
async fn list_members(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let list: Vec<Value> = people::members(&state.db, auth.0.team.id)
        .await?
        .into_iter()
        .map(|m| json!({"id": m.user_id, "email": m.email, "role": m.role, "active": m.has_password}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "members": list })))
}

#[derive(Deserialize)]
struct InviteBody {
    email: String,
    role: String,
}

/// E-mails an invitation; rate-limited per recipient address.
#[post("/api/v1/members/invitations")]
async fn invite_member(
    auth: Auth,
    body: web::Json<InviteBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let role = parse_role("role", &body.role)?;
    let Some(email) = people::normalize_email(&body.email) else {
        return Err(ApiError::Unprocessable {
            field: "email".to_owned(),
            message: "enter an e-mail address like name@example.com".to_owned(),
        });
    };
    state.limits.email(&email)?;
    let secret = people::invite(&state.db, auth.0.team.id, &email, role, None, Utc::now()).await?;
    accounts::send_invitation(&state, &email, &auth.0.team, role, &secret).await?;
    tracing::info!(team = %auth.0.team.slug, %role, "invitation sent");
    Ok(HttpResponse::Created().json(json!({"email": email, "role": role})))
}

#[derive(Deserialize)]
struct RoleBody {
    role: String,
}

#[put("/api/v1/members/{id}")]
async fn change_member(
    auth: Auth,
    id: web::Path<i32>,
    body: web::Json<RoleBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let role = parse_role("role", &body.role)?;
    change(people::set_role(&state.db, auth.0.team.id, *id, role).await?)?;
    Ok(HttpResponse::Ok().json(json!({"id": *id, "role": role})))
}

/// Removes a member; their sessions in the team end at once.
#[delete("/api/v1/members/{id}")]
async fn remove_member(
    auth: Auth,
    id: web::Path<i32>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    change(people::remove_member(&state.db, auth.0.team.id, *id, Utc::now()).await?)?;
    Ok(HttpResponse::NoContent().finish())
}
