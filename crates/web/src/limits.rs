//! Rate limits: a token bucket per key (a client address, a team), in this process's memory.
//! Each replica counts on its own, so N replicas behind a balancer allow up to N times the rate;
//! the limits are there to stop floods (password guessing, mail storms), not to meter use.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

use crate::error::ApiError;

/// A rate: `per_minute` calls a minute, in bursts of up to `per_minute`. 0: unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
}

/// The limits the server applies (config.toml `[limits]`).
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Sign-in attempts (`POST /login`) per client address.
    pub sign_in: Rate,
    /// `send-now` calls per team.
    pub send_now: Rate,
    /// Password sign-in attempts per account (e-mail address).
    pub sign_in_per_account: Rate,
    /// Password-reset and invitation e-mails per recipient address.
    pub emails: Rate,
    /// Take the client address from `X-Forwarded-For`/`Forwarded` (only behind a proxy that sets
    /// them); otherwise the TCP peer's address.
    pub trust_forwarded_for: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            sign_in: Rate { per_minute: 10 },
            send_now: Rate { per_minute: 5 },
            sign_in_per_account: Rate { per_minute: 5 },
            emails: Rate { per_minute: 3 },
            trust_forwarded_for: false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Keys kept at most; beyond it, buckets that have filled up again are forgotten (a full bucket
/// is what a new key gets anyway).
const MAX_KEYS: usize = 10_000;

/// A token bucket per key.
pub struct RateLimiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub fn new(rate: Rate) -> Self {
        RateLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one call from `key`'s bucket, or says how long until one is there again.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        if self.rate.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.rate.per_minute);
        let per_second = capacity / 60.0;
        let refill = |b: &Bucket| {
            let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
            (b.tokens + elapsed * per_second).min(capacity)
        };
        // A poisoned lock only means another request panicked mid-update: the counts are
        // still numbers, so carry on with them.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            buckets.retain(|_, b| refill(b) < capacity);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let tokens = refill(bucket);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            Err(Duration::from_secs_f64((1.0 - tokens) / per_second))
        }
    }
}

/// The limiters of one process.
pub struct Limiters {
    pub sign_in: RateLimiter<IpAddr>,
    pub send_now: RateLimiter<i32>,
    pub sign_in_per_account: RateLimiter<String>,
    pub emails: RateLimiter<String>,
    pub trust_forwarded_for: bool,
}

impl Limiters {
    pub fn new(limits: &RateLimits) -> Limiters {
        Limiters {
            sign_in: RateLimiter::new(limits.sign_in),
            send_now: RateLimiter::new(limits.send_now),
            sign_in_per_account: RateLimiter::new(limits.sign_in_per_account),
            emails: RateLimiter::new(limits.emails),
            trust_forwarded_for: limits.trust_forwarded_for,
        }
    }
}

impl Limiters {
    /// One sign-in attempt from the request's client address.
    pub fn sign_in(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let ip = client_ip(req, self.trust_forwarded_for);
        self.sign_in.check(&ip).map_err(|wait| {
            tracing::warn!(%ip, "sign-in attempts over the limit");
            too_many(
                wait,
                "Too many sign-in attempts from your address. Wait a minute, then try again.",
            )
        })
    }

    /// One password attempt on account `email`: `false` over the limit. The caller answers
    /// exactly as for a wrong password, so the limit tells nothing about the account.
    pub fn sign_in_account(&self, email: &str) -> bool {
        let ok = self.sign_in_per_account.check(&email.to_owned()).is_ok();
        if !ok {
            tracing::warn!("password attempts on one account over the limit");
        }
        ok
    }

    /// One e-mail (reset, invitation) to `email`, whether or not it has an account.
    pub fn email(&self, email: &str) -> Result<(), ApiError> {
        self.emails.check(&email.to_owned()).map_err(|wait| {
            too_many(
                wait,
                "Too many e-mails to this address. Wait a minute, then try again.",
            )
        })
    }

    /// One `send-now` of team `team_id`.
    pub fn send_now(&self, team_id: i32) -> Result<(), ApiError> {
        self.send_now.check(&team_id).map_err(|wait| {
            too_many(
                wait,
                "too many send-now calls for this team: digests already went out, wait before sending again",
            )
        })
    }
}

fn too_many(wait: Duration, message: &str) -> ApiError {
    let retry_after = retry_after_secs(wait);
    ApiError::TooManyRequests {
        retry_after,
        message: format!("{message} (retry after {retry_after} s)"),
    }
}

/// The client's address: the TCP peer, or what the proxy in front says when it is trusted.
/// Without either (a test harness), every such client shares one bucket.
fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> IpAddr {
    let forwarded = trust_forwarded_for
        .then(|| {
            req.connection_info()
                .realip_remote_addr()
                .map(str::to_owned)
        })
        .flatten()
        .and_then(|a| {
            a.parse::<IpAddr>()
                .ok()
                .or_else(|| a.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        });
    forwarded
        .or_else(|| req.peer_addr().map(|a| a.ip()))
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// `Retry-After` in whole seconds, rounded up (never 0: "now" would invite a busy loop).
/// Whole milliseconds first, so float noise (20.000000000000004 s) does not add a second.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    millis.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_one_call_per_refill() {
        let limiter = RateLimiter::new(Rate { per_minute: 3 });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at(&"a", t0), Ok(()));
        }
        let wait = limiter.check_at(&"a", t0).expect_err("the fourth waits");
        assert_eq!(retry_after_secs(wait), 20);
        assert_eq!(limiter.check_at(&"b", t0), Ok(()), "keys are apart");
        assert!(
            limiter
                .check_at(&"a", t0 + Duration::from_secs(19))
                .is_err()
        );
        assert_eq!(limiter.check_at(&"a", t0 + Duration::from_secs(21)), Ok(()));
    }

    #[test]
    fn a_zero_rate_is_unlimited() {
        let limiter = RateLimiter::new(Rate { per_minute: 0 });
        for _ in 0..1000 {
            assert_eq!(limiter.check(&1), Ok(()));
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(5_999)), 6);
        assert_eq!(retry_after_secs(Duration::from_secs(6)), 6);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
