//! Browser sessions: a signed cookie holding the team, the role, an expiry and a random nonce
//! (never the API token). It is signed with HMAC-SHA256 under the `session` server secret, which
//! every replica reads from the database, so any replica accepts it. The CSRF token of a session
//! is derived from its nonce under the same secret; the sign-in form has its own, bound to a
//! short-lived cookie, because there is no session yet to bind it to.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use lodestar_store::tokens::Role;
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub team_id: i32,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
    nonce: String,
}

impl Session {
    pub fn new(team_id: i32, role: Role, now: DateTime<Utc>) -> Session {
        Session {
            team_id,
            role,
            expires_at: now + SESSION_TTL,
            nonce: nonce(),
        }
    }

    fn payload(&self) -> String {
        format!(
            "1|{}|{}|{}|{}",
            self.team_id,
            self.role,
            self.expires_at.timestamp(),
            self.nonce
        )
    }

    /// The cookie value: `payload.signature`, both base64url.
    pub fn encode(&self, secret: &[u8]) -> String {
        let payload = self.payload();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            sign(secret, "session", &payload)
        )
    }

    /// The session a cookie value holds, if it is intact and unexpired.
    pub fn decode(secret: &[u8], value: &str, now: DateTime<Utc>) -> Option<Session> {
        let (payload, signature) = value.split_once('.')?;
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        if !verify(secret, "session", &payload, signature) {
            return None;
        }
        let mut parts = payload.split('|');
        let (Some("1"), Some(team), Some(role), Some(exp), Some(nonce), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let expires_at = DateTime::from_timestamp(exp.parse().ok()?, 0)?;
        if now >= expires_at {
            return None;
        }
        Some(Session {
            team_id: team.parse().ok()?,
            role: Role::parse(role)?,
            expires_at,
            nonce: nonce.to_owned(),
        })
    }

    /// The token forms and scripts of this session send back with every write.
    pub fn csrf_token(&self, secret: &[u8]) -> String {
        sign(secret, "csrf", &self.nonce)
    }

    pub fn csrf_ok(&self, secret: &[u8], presented: Option<&str>) -> bool {
        presented.is_some_and(|t| verify(secret, "csrf", &self.nonce, t))
    }
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
    fn a_session_round_trips_until_it_expires() {
        let s = Session::new(7, Role::Editor, now());
        let value = s.encode(b"k");
        assert_eq!(Session::decode(b"k", &value, now()), Some(s.clone()));
        assert_eq!(Session::decode(b"k", &value, s.expires_at), None);
        assert!(!value.contains("lsk_"), "the cookie never holds a token");
    }

    #[test]
    fn a_tampered_or_foreign_session_is_refused() {
        let s = Session::new(7, Role::Viewer, now());
        let value = s.encode(b"k");
        assert_eq!(Session::decode(b"other", &value, now()), None);
        let admin = Session {
            role: Role::Admin,
            ..s.clone()
        };
        let (forged_payload, _) = admin
            .encode(b"k")
            .split_once('.')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .unwrap_or_default();
        let (_, sig) = value.split_once('.').unwrap_or_default();
        assert_eq!(
            Session::decode(b"k", &format!("{forged_payload}.{sig}"), now()),
            None
        );
        assert_eq!(Session::decode(b"k", "garbage", now()), None);
        assert_eq!(Session::decode(b"k", "", now()), None);
    }

    #[test]
    fn the_csrf_token_belongs_to_one_session() {
        let a = Session::new(7, Role::Editor, now());
        let b = Session::new(7, Role::Editor, now());
        let token = a.csrf_token(b"k");
        assert!(a.csrf_ok(b"k", Some(&token)));
        assert!(!b.csrf_ok(b"k", Some(&token)));
        assert!(!a.csrf_ok(b"k", None));
        assert!(!a.csrf_ok(b"k", Some("")));
        assert_ne!(token, sign(b"k", "session", &a.nonce), "purposes differ");
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
