//! Browser sessions: the cookie holds a random secret (never the API token); the session itself
//! lives in the database (`lodestar_store::sessions`), so signing out or revoking the token it was
//! opened with ends it at once on every replica. The CSRF token of a session is an HMAC of the
//! session's stored id under the `session` server secret; the sign-in form has its own, bound to
//! a short-lived cookie, because there is no session yet to bind it to.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use lodestar_store::sessions::{self, ActiveSession, Opened};
use lodestar_store::tokens::Principal;
use lodestar_store::{Db, StoreError, secrets};
use rand::RngCore;
use sha2::Sha256;
use tokio::sync::OnceCell;

pub const SESSION_COOKIE: &str = "lodestar_session";
pub const LOGIN_COOKIE: &str = "lodestar_login";
/// The header a page's script sends with every cookie-authenticated write.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a sign-in lasts.
pub const SESSION_TTL: Duration = Duration::days(7);
/// How long a sign-in form stays usable.
const LOGIN_TTL_SECONDS: i64 = 3600;

/// The server secrets pages need, read from the database once per process (they never change).
#[derive(Default)]
pub struct Keys {
    session: OnceCell<Vec<u8>>,
    share: OnceCell<Vec<u8>>,
}

impl Keys {
    pub async fn session(&self, db: &Db) -> Result<&[u8], StoreError> {
        self.session
            .get_or_try_init(|| secrets::get_or_create(db, "session"))
            .await
            .map(Vec::as_slice)
    }

    /// The key of e-mailed share links (`lodestar_report::share`).
    pub async fn share(&self, db: &Db) -> Result<&[u8], StoreError> {
        self.share
            .get_or_try_init(|| secrets::get_or_create(db, "share"))
            .await
            .map(Vec::as_slice)
    }
}

fn mac(secret: &[u8], purpose: &str, payload: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    // The purpose keeps a MAC made for one use from passing as another.
    mac.update(purpose.as_bytes());
    mac.update(b"\n");
    mac.update(payload.as_bytes());
    mac
}

fn sign(secret: &[u8], purpose: &str, payload: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(secret, purpose, payload).finalize().into_bytes())
}

fn verify(secret: &[u8], purpose: &str, payload: &str, signature: &str) -> bool {
    match URL_SAFE_NO_PAD.decode(signature.trim()) {
        Ok(sig) => mac(secret, purpose, payload).verify_slice(&sig).is_ok(),
        Err(_) => false,
    }
}

fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The token forms and scripts of session `session_id` send back with every write.
pub fn csrf_token(secret: &[u8], session_id: &str) -> String {
    sign(secret, "csrf", session_id)
}

pub fn csrf_ok(secret: &[u8], session_id: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|t| verify(secret, "csrf", session_id, t))
}

/// The open session a cookie value names: one query, every request, nothing cached.
pub async fn find(db: &Db, cookie: &str) -> Result<Option<ActiveSession>, StoreError> {
    sessions::find_active(db, cookie.trim(), Utc::now()).await
}

/// Opens a session for what a token grants.
pub async fn open(db: &Db, principal: &Principal) -> Result<Opened, StoreError> {
    sessions::open(
        db,
        principal.team.id,
        principal.role,
        principal.token_id,
        Utc::now(),
        SESSION_TTL,
    )
    .await
}

/// The raw session cookie of a request, if any.
pub fn cookie_value(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
}

/// Secure cookies when the server is reached over https.
fn secure(public_url: &str) -> bool {
    public_url.to_ascii_lowercase().starts_with("https://")
}

pub fn session_cookie(value: String, public_url: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(public_url))
        .max_age(time::Duration::seconds(SESSION_TTL.num_seconds()))
        .finish()
}

/// Replaces the session cookie with an expired one.
pub fn cleared_session_cookie(public_url: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(public_url))
        .max_age(time::Duration::ZERO)
        .finish()
}

/// A fresh sign-in form: the nonce for its cookie, and the token for its hidden field.
pub fn login_challenge(secret: &[u8], now: DateTime<Utc>) -> (String, String) {
    let cookie = format!("{}.{}", nonce(), now.timestamp() + LOGIN_TTL_SECONDS);
    let field = sign(secret, "login", &cookie);
    (cookie, field)
}

pub fn login_ok(secret: &[u8], cookie: Option<&str>, field: &str, now: DateTime<Utc>) -> bool {
    let Some(cookie) = cookie else {
        return false;
    };
    let fresh = cookie
        .rsplit_once('.')
        .and_then(|(_, exp)| exp.parse::<i64>().ok())
        .is_some_and(|exp| now.timestamp() < exp);
    fresh && verify(secret, "login", cookie, field)
}

pub fn login_cookie(value: String, public_url: &str) -> Cookie<'static> {
    Cookie::build(LOGIN_COOKIE, value)
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(public_url))
        .max_age(time::Duration::seconds(LOGIN_TTL_SECONDS))
        .finish()
}

/// Where to go after signing in: only a path on this server, so the form cannot be used to send
/// people elsewhere (`//evil.example`, `https://…`, `/\evil`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn the_csrf_token_belongs_to_one_session() {
        let token = csrf_token(b"k", "session-a");
        assert!(csrf_ok(b"k", "session-a", Some(&token)));
        assert!(!csrf_ok(b"k", "session-b", Some(&token)));
        assert!(!csrf_ok(b"other", "session-a", Some(&token)));
        assert!(!csrf_ok(b"k", "session-a", None));
        assert!(!csrf_ok(b"k", "session-a", Some("")));
        assert_ne!(token, sign(b"k", "login", "session-a"), "purposes differ");
    }

    #[test]
    fn a_sign_in_form_is_bound_to_its_cookie_for_an_hour() {
        let (cookie, field) = login_challenge(b"k", now());
        assert!(login_ok(b"k", Some(&cookie), &field, now()));
        assert!(!login_ok(b"k", None, &field, now()));
        let (other_cookie, _) = login_challenge(b"k", now());
        assert!(!login_ok(b"k", Some(&other_cookie), &field, now()));
        assert!(!login_ok(
            b"k",
            Some(&cookie),
            &field,
            now() + Duration::hours(2)
        ));
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/reports/weekly?period=2026-W45")),
            "/reports/weekly?period=2026-W45"
        );
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
