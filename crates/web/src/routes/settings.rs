//! The team's settings pages, for its admins: members (invite, change role, remove) and API
//! tokens (list, create shown once, revoke). Plain forms with the session's CSRF token; the
//! work is the store's and `accounts`', as for the JSON API.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Utc;
use lodestar_store::people::{self, Change};
use lodestar_store::tokens::{self, Role};
use serde::Deserialize;

use crate::accounts;
use crate::html::{PageError, render, see_other};
use crate::state::AppState;
use crate::viewer::{self, SignedIn};
use crate::views::{SettingsPage, TeamForm, TokenRow};
use lodestar_core::currency::Currency;
use lodestar_core::period::Timezone;
use lodestar_store::teams;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(team_page)
        .service(save_team)
        .service(members_page)
        .service(withdraw)
        .service(invite)
        .service(change_role)
        .service(remove)
        .service(tokens_page)
        .service(create_token)
        .service(revoke_token);
}

const ROLES: &[&str] = &["viewer", "editor", "admin"];

/// The admin signed in, with a form's CSRF token checked when there is a form.
async fn admin(
    req: &HttpRequest,
    state: &AppState,
    csrf: Option<&str>,
) -> Result<SignedIn, PageError> {
    let me = viewer::require(req, state).await?;
    if me.session.role != Role::Admin {
        return Err(PageError::forbidden(
            "For the team's admins",
            "Only an admin of the team can change its settings.",
        ));
    }
    if let Some(presented) = csrf {
        viewer::confirm_form(state, &me, presented).await?;
    }
    Ok(me)
}

#[derive(Deserialize, Default)]
struct Notice {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "invited" => "Invitation sent.",
            "role" => "Role changed.",
            "removed" => "Member removed: their sessions in this team have ended.",
            "withdrawn" => "Invitation withdrawn: its link no longer works.",
            "revoked" => "Token revoked: it stopped working at once.",
            "team" => "Saved.",
            "last-admin" => "",
            _ => return None,
        }
        .to_owned(),
    )
    .filter(|s| !s.is_empty())
}

fn error(done: Option<&str>) -> Option<String> {
    (done == Some("last-admin"))
        .then(|| "The team's last admin stays admin: make someone else admin first.".to_owned())
}

async fn page(
    state: &AppState,
    me: &SignedIn,
    tab: &'static str,
    status: StatusCode,
    fill: impl FnOnce(&mut SettingsPage),
) -> Result<HttpResponse, PageError> {
    let title = match tab {
        "members" => "Members",
        "team" => "Team",
        _ => "API tokens",
    };
    let mut p = SettingsPage {
        layout: me.layout(title, "settings"),
        team_name: me.team.name.clone(),
        tab,
        csrf: me.csrf.clone(),
        notice: None,
        error: None,
        members: Vec::new(),
        invitations: Vec::new(),
        rebuild: state.rebuilds.of(me.team.id),
        roles: ROLES,
        email: String::new(),
        email_error: None,
        tokens: Vec::new(),
        new_token: None,
        label: String::new(),
        label_error: None,
        team_form: TeamForm {
            name: me.team.name.clone(),
            timezone: me.team.timezone.to_string(),
            currency: me.team.currency.to_string(),
            ..TeamForm::default()
        },
    };
    if tab == "members" {
        p.members = people::members(&state.db, me.team.id).await?;
        p.invitations = people::pending_invitations(&state.db, me.team.id, state.kpis.now())
            .await?
            .into_iter()
            .map(|i| {
                let expires = i.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
                (i, expires)
            })
            .collect();
    } else if tab == "tokens" {
        let when = |t: Option<chrono::DateTime<Utc>>| {
            t.map_or("never".to_owned(), |t| {
                t.format("%Y-%m-%d %H:%M UTC").to_string()
            })
        };
        p.tokens = tokens::list(&state.db, me.team.id)
            .await?
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                label: t.label.clone().unwrap_or_default(),
                role: t.role.to_string(),
                created: when(Some(t.created_at)),
                last_used: when(t.last_used_at),
                revoked: t.revoked_at.is_some(),
            })
            .collect();
    }
    fill(&mut p);
    let mut resp = render(status, &p)?;
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

#[get("/settings/team")]
async fn team_page(
    req: HttpRequest,
    q: web::Query<Notice>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&req, &state, None).await?;
    let done = q.done.clone();
    page(&state, &me, "team", StatusCode::OK, |p| {
        p.notice = notice(done.as_deref());
    })
    .await
}

#[derive(Deserialize)]
struct TeamSettingsForm {
    csrf: String,
    name: String,
    timezone: String,
    currency: String,
}

/// Saves the team's name, timezone (rebuilding the daily summaries when it changes) and
/// currency; every field is checked before anything is written.
#[post("/settings/team")]
async fn save_team(
    req: HttpRequest,
    f: web::Form<TeamSettingsForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&req, &state, Some(&f.csrf)).await?;
    let name = f.name.trim().to_owned();
    let mut form = TeamForm {
        name: f.name.clone(),
        timezone: f.timezone.clone(),
        currency: f.currency.clone(),
        ..TeamForm::default()
    };
    if name.is_empty() || name.chars().count() > teams::MAX_NAME_CHARS {
        form.name_error = Some(format!(
            "Give the team a name of 1 to {} characters.",
            teams::MAX_NAME_CHARS
        ));
    }
    let timezone = Timezone::parse(f.timezone.trim())
        .map_err(|_| {
            form.timezone_error = Some("Use an IANA timezone such as Europe/Berlin.".to_owned())
        })
        .ok();
    let currency = Currency::parse(f.currency.trim())
        .map_err(|_| form.currency_error = Some("Use an ISO 4217 code such as EUR.".to_owned()))
        .ok();
    let (Some(timezone), Some(currency), None) = (timezone, currency, &form.name_error) else {
        return page(&state, &me, "team", StatusCode::UNPROCESSABLE_ENTITY, |p| {
            p.team_form = form;
        })
        .await;
    };
    if name != me.team.name {
        teams::rename(&state.db, me.team.id, &name).await?;
    }
    if currency != me.team.currency {
        teams::set_currency(&state.db, me.team.id, currency).await?;
    }
    let moved = timezone.name() != me.team.timezone.name();
    if moved && state.rebuilds.is_running(me.team.id) {
        form.timezone_error = Some(
            "The daily summaries are still being rebuilt for the last change: change the \
             timezone again when that is done."
                .to_owned(),
        );
        return page(&state, &me, "team", StatusCode::CONFLICT, |p| {
            p.team_form = form;
        })
        .await;
    }
    if moved {
        tracing::info!(team = %me.team.slug, %timezone, "timezone changed: rebuilding daily summaries");
        teams::set_timezone(&state.db, me.team.id, &timezone).await?;
        let rows: u64 = lodestar_store::loaded::table_counts(&state.db, me.team.id)
            .await?
            .iter()
            .filter(|(table, _)| table != "spend")
            .map(|(_, n)| n)
            .sum();
        state.rebuilds.start(state.db.clone(), me.team.id, rows);
    }
    state.reports.invalidate_team(me.team.id);
    Ok(see_other("/settings/team?done=team"))
}

#[get("/settings/members")]
async fn members_page(
    req: HttpRequest,
    q: web::Query<Notice>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&req, &state, None).await?;
    let done = q.done.clone();
    page(&state, &me, "members", StatusCode::OK, |p| {
        p.notice = notice(done.as_deref());
        p.error = error(done.as_deref());
    })
    .await
}

#[derive(Deserialize)]
struct InviteForm {
    csrf: String,
    email: String,
    role: String,
}

#[post("/settings/members/invite")]
async fn invite(
    req: HttpRequest,
    f: web::Form<InviteForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&req, &state, Some(&f.csrf)).await?;
    let role = Role::parse(&f.role).ok_or_else(|| PageError::bad_request("unknown role"))?;
    let Some(email) = people::normalize_email(&f.email) else {
        let typed = f.email.clone();
        return page(
            &state,
            &me,
            "members",
            StatusCode::UNPROCESSABLE_ENTITY,
            |p| {
                p.email = typed;
                p.email_error = Some("Enter an e-mail address like name@example.com.".to_owned());
            },
        )
        .await;
    };
    state.limits.email(&email)?;
    let secret = people::invite(
        &state.db,
        me.team.id,
        &email,
        role,
        me.session.user_id,
        Utc::now(),
    )
    .await?;
    accounts::send_invitation(&state, &email, &me.team, role, &secret).await?;
    Ok(see_other("/settings/members?done=invited"))
}

#[derive(Deserialize)]
struct RoleForm {
    csrf: String,
    role: Option<String>,
}

#[post("/settings/members/{id}/role")]
async fn change_role(
    req: HttpRequest,
    id: web::Path<i32>,
    f: web::Form<RoleForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&req, &state, Some(&f.csrf)).await?;
    let role = f
        .role
        .as_deref()
        .and_then(Role::parse)
        .ok_or_else(|| PageError::bad_request("unknown role"))?;
    Ok(
        match people::set_role(&state.db, me.team.id, *id, role).await? {
            Change::Done => see_other("/settings/members?done=role"),
            Change::LastAdmin => see_other("/settings/members?done=last-admin"),
            Change::NotAMember => return Err(PageError::not_found("No such member.")),
        },
    )
}

#[post("/settings/members/{id}/remove")]
async fn remove(
    req: HttpRequest,
    id: web::Path<i32>,
    f: web::Form<RoleForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&req, &state, Some(&f.csrf)).await?;
    Ok(
        match people::remove_member(&state.db, me.team.id, *id, Utc::now()).await? {
            Change::Done => see_other("/settings/members?done=removed"),
            Change::LastAdmin => see_other("/settings/members?done=last-admin"),
            Change::NotAMember => return Err(PageError::not_found("No such member.")),
        },
    )
}

#[post("/settings/invitations/{id}/withdraw")]
async fn withdraw(
    req: HttpRequest,
    id: web::Path<i32>,
    f: web::Form<RoleForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&req, &state, Some(&f.csrf)).await?;
    if !people::revoke_invitation(&state.db, me.team.id, *id).await? {
        return Err(PageError::not_found("No such open invitation."));
    }
    Ok(see_other("/settings/members?done=withdrawn"))
}

#[get("/settings/tokens")]
async fn tokens_page(
    req: HttpRequest,
    q: web::Query<Notice>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&req, &state, None).await?;
    let done = q.done.clone();
    page(&state, &me, "tokens", StatusCode::OK, |p| {
        p.notice = notice(done.as_deref());
    })
    .await
}

#[derive(Deserialize)]
struct TokenForm {
    csrf: String,
    label: Option<String>,
    role: String,
}

/// Creates a token and shows it in the answer itself, once (never in an address or a cookie).
#[post("/settings/tokens")]
async fn create_token(
    req: HttpRequest,
    f: web::Form<TokenForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&req, &state, Some(&f.csrf)).await?;
    let role = Role::parse(&f.role).ok_or_else(|| PageError::bad_request("unknown role"))?;
    let label = f.label.clone().unwrap_or_default();
    match tokens::create_labelled(&state.db, me.team.id, role, Some(&label)).await {
        Ok(token) => {
            page(&state, &me, "tokens", StatusCode::OK, |p| {
                p.new_token = Some(token);
            })
            .await
        }
        Err(lodestar_store::StoreError::Invalid(why)) => {
            page(
                &state,
                &me,
                "tokens",
                StatusCode::UNPROCESSABLE_ENTITY,
                |p| {
                    p.label = label;
                    p.label_error = Some(why);
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

#[post("/settings/tokens/{id}/revoke")]
async fn revoke_token(
    req: HttpRequest,
    id: web::Path<i32>,
    f: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&req, &state, Some(&f.csrf)).await?;
    match tokens::revoke(&state.db, me.team.id, *id, Utc::now()).await? {
        Some(_) => Ok(see_other("/settings/tokens?done=revoked")),
        None => Err(PageError::not_found("No such token.")),
    }
}
