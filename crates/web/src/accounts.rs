//! People signing in: the password check (off the async workers, alike for every way it can
//! fail) and the e-mails with one-time links (password resets, invitations), sent through the
//! digests' mailer so they work with SMTP and with the outbox.

use actix_web::web;
use chrono::Utc;
use lodestar_mail::OutgoingMail;
use lodestar_store::passwords;
use lodestar_store::people;
use lodestar_store::sessions::Opened;
use lodestar_store::teams::Team;
use lodestar_store::tokens::Role;

use crate::error::ApiError;
use crate::session::SESSION_TTL;
use crate::state::AppState;

/// Hashes a new password off the async workers (argon2 takes tens of milliseconds on purpose).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    web::block(move || passwords::hash(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

/// The person `email` with `password`, or `None` for an unknown address, a wrong password, an
/// account without a password, or an account over its attempt limit: all four cost one
/// argon2 verification and answer the same.
pub async fn check_password(
    state: &AppState,
    email: &str,
    password: String,
) -> Result<Option<i32>, ApiError> {
    let key = people::normalize_email(email).unwrap_or_else(|| email.trim().to_lowercase());
    let allowed = state.limits.sign_in_account(&key);
    let found = people::find_for_sign_in(&state.db, &key).await?;
    let stored = match (allowed, found) {
        (true, Some((id, Some(phc)))) => Some((id, phc)),
        _ => None,
    };
    web::block(move || match stored {
        Some((id, phc)) => passwords::verify(&password, &phc).then_some(id),
        None => {
            passwords::verify_nothing(&password);
            None
        }
    })
    .await
    .map_err(ApiError::internal)
}

/// Opens a session for a person in their first team (by name) or in `team_id` when they are a
/// member there. `None` when they belong to no team.
pub async fn open_session(
    state: &AppState,
    user_id: i32,
    team_id: Option<i32>,
) -> Result<Option<(Opened, Team)>, ApiError> {
    let teams = people::teams_of(&state.db, user_id).await?;
    let chosen = team_id
        .and_then(|id| teams.iter().find(|(t, _)| t.id == id))
        .or_else(|| teams.first());
    let Some((team, role)) = chosen.cloned() else {
        return Ok(None);
    };
    let opened = lodestar_store::sessions::open_for_user(
        &state.db,
        user_id,
        team.id,
        role,
        Utc::now(),
        SESSION_TTL,
    )
    .await?;
    Ok(Some((opened, team)))
}

fn link(state: &AppState, path: &str) -> String {
    format!("{}{path}", state.settings.public_url.trim_end_matches('/'))
}

pub fn password_link(state: &AppState, secret: &str) -> String {
    link(state, &format!("/login/password/{secret}"))
}

pub fn invitation_link(state: &AppState, secret: &str) -> String {
    link(state, &format!("/login/invitation/{secret}"))
}

fn message_id(state: &AppState, kind: &str) -> String {
    let host = state
        .settings
        .public_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| !h.is_empty())
        .unwrap_or("lodestar.invalid")
        .to_owned();
    let nonce: String = lodestar_store::tokens::hash_token(&format!("{kind}{}", Utc::now()))
        .chars()
        .take(24)
        .collect();
    format!("<{kind}.{nonce}@{host}>")
}

async fn send(state: &AppState, mail: OutgoingMail) -> Result<(), ApiError> {
    let Some(scheduler) = &state.scheduler else {
        return Err(ApiError::internal(std::io::Error::other(
            "this process has no mailer",
        )));
    };
    scheduler
        .mailer()
        .send(&mail)
        .await
        .map(|_| ())
        .map_err(|e| ApiError::internal(std::io::Error::other(e.to_string())))
}

/// E-mails a one-time link to set a new password.
pub async fn send_reset(state: &AppState, email: &str, secret: &str) -> Result<(), ApiError> {
    let url = password_link(state, secret);
    let text = format!(
        "Someone (we hope you) asked to reset your Lodestar password.\n\n\
         Set a new one here (the link works once, for 24 hours):\n{url}\n\n\
         If it was not you, ignore this message: your password stays as it is.\n"
    );
    let html = format!(
        "<p>Someone (we hope you) asked to reset your Lodestar password.</p>\
         <p><a href=\"{url}\">Set a new password</a> (the link works once, for 24 hours).</p>\
         <p>If it was not you, ignore this message: your password stays as it is.</p>"
    );
    send(
        state,
        OutgoingMail {
            from: None,
            to: email.to_owned(),
            subject: "Reset your Lodestar password".to_owned(),
            html,
            text,
            message_id: message_id(state, "reset"),
            headers: Vec::new(),
        },
    )
    .await
}

/// E-mails an invitation to join `team` as `role`.
pub async fn send_invitation(
    state: &AppState,
    email: &str,
    team: &Team,
    role: Role,
    secret: &str,
) -> Result<(), ApiError> {
    let url = invitation_link(state, secret);
    let name = &team.name;
    let text = format!(
        "You are invited to the team {name} on Lodestar, as {role}.\n\n\
         Accept here (the link works once, for 7 days):\n{url}\n"
    );
    let escaped = name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let html = format!(
        "<p>You are invited to the team <strong>{escaped}</strong> on Lodestar, as {role}.</p>\
         <p><a href=\"{url}\">Accept the invitation</a> (the link works once, for 7 days).</p>"
    );
    send(
        state,
        OutgoingMail {
            from: None,
            to: email.to_owned(),
            subject: format!("You are invited to {name} on Lodestar"),
            html,
            text,
            message_id: message_id(state, "invite"),
            headers: Vec::new(),
        },
    )
    .await
}
