//! Share tokens: a signed, expiring permission to open one report of one team for one period,
//! carried by e-mailed links. Signed with HMAC-SHA256 under the server secret, which every replica
//! reads from the database. A link carries when it was issued, so that a team can void every link
//! of a report issued before a moment (`revoke_links`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use lodestar_store::{Db, StoreError, share_links};
use sha2::Sha256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareClaims {
    pub team_id: i32,
    pub report: String,
    pub period: String,
    pub expires_at: DateTime<Utc>,
    /// When the link was made (to the millisecond). Links signed before issue times were carried
    /// read as issued at the epoch: any revocation ends them.
    pub issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("this share link is malformed")]
    Malformed,
    #[error("this share link's signature does not match")]
    BadSignature,
    #[error("this share link expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("this share link was revoked at {0}")]
    Revoked(DateTime<Utc>),
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(payload.as_bytes());
    mac
}

/// `payload.signature`, both base64url: the payload is `team|report|period|expiry|issued`
/// (expiry in epoch seconds, issued in epoch milliseconds).
pub fn sign(secret: &[u8], claims: &ShareClaims) -> String {
    let payload = format!(
        "{}|{}|{}|{}|{}",
        claims.team_id,
        claims.report,
        claims.period,
        claims.expires_at.timestamp(),
        claims.issued_at.timestamp_millis()
    );
    let sig = mac(secret, &payload).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload.as_bytes()),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

pub fn verify(secret: &[u8], token: &str, now: DateTime<Utc>) -> Result<ShareClaims, ShareError> {
    let (payload, sig) = token.split_once('.').ok_or(ShareError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|p| String::from_utf8(p).ok())
        .ok_or(ShareError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| ShareError::Malformed)?;
    mac(secret, &payload)
        .verify_slice(&sig)
        .map_err(|_| ShareError::BadSignature)?;
    let mut parts = payload.split('|');
    let (Some(team), Some(report), Some(period), Some(exp), issued, None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(ShareError::Malformed);
    };
    let issued_at = match issued {
        Some(ms) => ms
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or(ShareError::Malformed)?,
        None => DateTime::UNIX_EPOCH,
    };
    let expires_at = exp
        .parse::<i64>()
        .ok()
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .ok_or(ShareError::Malformed)?;
    if now >= expires_at {
        return Err(ShareError::Expired(expires_at));
    }
    Ok(ShareClaims {
        team_id: team.parse().map_err(|_| ShareError::Malformed)?,
        report: report.to_owned(),
        period: period.to_owned(),
        expires_at,
        issued_at,
    })
}

/// Checks a verified link against its report's revocations: `Revoked` when the team voided the
/// report's links at or after the link was issued.
pub async fn check_revocation(
    db: &Db,
    claims: &ShareClaims,
) -> Result<Result<(), ShareError>, StoreError> {
    let cutoff = share_links::links_valid_after(db, claims.team_id, &claims.report).await?;
    Ok(match cutoff {
        Some(at) if claims.issued_at <= at => Err(ShareError::Revoked(at)),
        _ => Ok(()),
    })
}

/// Voids every share link of the team's report `report` issued up to `now`; returns the
/// cut-off.
pub async fn revoke_links(
    db: &Db,
    team_id: i32,
    report: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, StoreError> {
    share_links::revoke_all(db, team_id, report, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn claims() -> ShareClaims {
        ShareClaims {
            team_id: 7,
            report: "weekly".into(),
            period: "2026-W45".into(),
            expires_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
            issued_at: DateTime::from_timestamp_millis(1_790_000_000_123).unwrap_or_default(),
        }
    }

    #[test]
    fn a_link_carries_its_issue_time_and_older_links_read_as_issued_at_the_epoch() {
        let token = sign(b"secret", &claims());
        let now = claims().expires_at - Duration::days(1);
        assert_eq!(
            verify(b"secret", &token, now).map(|c| c.issued_at),
            Ok(claims().issued_at)
        );
        // A link signed before links carried their issue time.
        let c = claims();
        let payload = format!(
            "{}|{}|{}|{}",
            c.team_id,
            c.report,
            c.period,
            c.expires_at.timestamp()
        );
        let sig = mac(b"secret", &payload).finalize().into_bytes();
        let old = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(sig)
        );
        assert_eq!(
            verify(b"secret", &old, now).map(|c| c.issued_at),
            Ok(DateTime::UNIX_EPOCH)
        );
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let token = sign(b"secret", &claims());
        let before = claims().expires_at - Duration::seconds(1);
        assert_eq!(verify(b"secret", &token, before), Ok(claims()));
        assert_eq!(
            verify(b"secret", &token, claims().expires_at),
            Err(ShareError::Expired(claims().expires_at))
        );
    }

    #[test]
    fn a_tampered_or_foreign_link_is_refused() {
        let token = sign(b"secret", &claims());
        let now = claims().expires_at - Duration::days(1);
        assert_eq!(verify(b"other", &token, now), Err(ShareError::BadSignature));
        let mut forged = claims();
        forged.team_id = 8;
        let forged_payload = sign(b"secret", &forged);
        let (payload, _) = forged_payload.split_once('.').unwrap_or_default();
        let (_, sig) = token.split_once('.').unwrap_or_default();
        assert_eq!(
            verify(b"secret", &format!("{payload}.{sig}"), now),
            Err(ShareError::BadSignature)
        );
        assert_eq!(
            verify(b"secret", "nonsense", now),
            Err(ShareError::Malformed)
        );
    }
}
