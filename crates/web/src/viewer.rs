//! Who is looking at a page: a signed-in session, found from its cookie.

use actix_web::HttpRequest;
use lodestar_store::sessions::ActiveSession;
use lodestar_store::teams::Team;

use crate::html::PageError;
use crate::session;
use crate::state::AppState;
use crate::views::Layout;

pub struct SignedIn {
    pub session: ActiveSession,
    pub team: Team,
    /// The session's CSRF token, for forms and the page's scripts.
    pub csrf: String,
    /// The person's teams (id, name) when signed in as a person.
    pub teams: Vec<(i32, String)>,
}

impl SignedIn {
    pub fn layout(&self, title: &str, active: &'static str) -> Layout {
        Layout {
            title: title.to_owned(),
            team: Some(self.team.name.clone()),
            active,
            csrf: Some(self.csrf.clone()),
            shared: false,
            teams: self.teams.clone(),
            team_id: self.team.id,
            person: self.session.user_id.is_some(),
            admin: self.session.role == lodestar_store::tokens::Role::Admin,
        }
    }
}

/// The session of the request, if its cookie names an open one (with its team, in one query).
pub async fn signed_in(req: &HttpRequest, state: &AppState) -> Result<Option<SignedIn>, PageError> {
    let Some(value) = session::cookie_value(req) else {
        return Ok(None);
    };
    let Some(session) = session::find(&state.db, &value).await? else {
        return Ok(None);
    };
    let secret = state.keys.session(&state.db).await?;
    let csrf = session::csrf_token(secret, &session.id);
    let team = session.team.clone();
    let teams = match session.user_id {
        Some(user_id) => lodestar_store::people::teams_of(&state.db, user_id)
            .await?
            .into_iter()
            .map(|(t, _)| (t.id, t.name))
            .collect(),
        None => Vec::new(),
    };
    Ok(Some(SignedIn {
        session,
        team,
        csrf,
        teams,
    }))
}

/// The session, or a redirect to sign in that comes back to this very address.
pub async fn require(req: &HttpRequest, state: &AppState) -> Result<SignedIn, PageError> {
    signed_in(req, state)
        .await?
        .ok_or_else(|| PageError::SignIn {
            next: req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_owned())
                .unwrap_or_else(|| "/".to_owned()),
        })
}

/// The session of an editor or admin; a viewer gets a page saying they can read `what` but not
/// change it.
pub async fn require_editor(
    req: &HttpRequest,
    state: &AppState,
    what: &str,
) -> Result<SignedIn, PageError> {
    let me = require(req, state).await?;
    if !me.session.role.can_write() {
        return Err(PageError::forbidden(
            "For editors and admins",
            format!("A viewer reads {what} but cannot change them."),
        ));
    }
    Ok(me)
}

/// Checks that a form posted by `me` carries its session's CSRF token: a form from another site
/// is refused with a page that says so.
pub async fn confirm_form(
    state: &AppState,
    me: &SignedIn,
    presented: &str,
) -> Result<(), PageError> {
    let secret = state.keys.session(&state.db).await?;
    if session::csrf_ok(secret, &me.session.id, Some(presented)) {
        Ok(())
    } else {
        Err(PageError::forbidden(
            "The form was not confirmed",
            "The request did not come from a Lodestar page. Open the page again.",
        ))
    }
}
