//! How the scheduler is set up: its settings and its clock.

use std::time::Duration;

pub use lodestar_core::clock::{Clock, system_clock};

/// How the scheduler behaves; `serve` fills it from the `[scheduler]` settings.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Base URL of the "view in browser" links.
    pub public_url: String,
    /// A due occurrence missed (the server was down) is still sent when at most this old.
    pub grace: Duration,
    /// How long a claim stays with its sender without news before another may take it over.
    /// Longer than one SMTP attempt (lettre's timeout is 30 s).
    pub lease_timeout: Duration,
    /// The first wait after a transient failure; each next wait doubles.
    pub retry_initial: Duration,
    /// Attempts in all for one delivery, the first included.
    pub retry_max_attempts: u32,
    /// How often schedules are re-read (changes on other replicas), missed due times swept up and
    /// expired leases taken over.
    pub resync_interval: Duration,
    /// How long a digest's share link works.
    pub share_link_ttl: Duration,
    /// Digests made and sent at once.
    pub concurrency: usize,
    /// Of those, at most this many for one team: a team whose digests wait on a slow SMTP server
    /// (or a slow report) cannot take every slot from the others.
    pub team_concurrency: usize,
    /// Test-only (`LODESTAR_TEST_CRASH_AFTER_CLAIM=1`): the process kills itself with SIGKILL
    /// right after a claim commits, before sending, to prove a lease is taken over.
    pub test_crash_after_claim: bool,
    /// How Slack and webhook channels are reached.
    pub hooks: lodestar_mail::HookConfig,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            public_url: "http://127.0.0.1:8080".to_owned(),
            grace: Duration::from_secs(24 * 3600),
            lease_timeout: Duration::from_secs(300),
            retry_initial: Duration::from_secs(30),
            retry_max_attempts: 6,
            resync_interval: Duration::from_secs(30),
            share_link_ttl: Duration::from_secs(30 * 24 * 3600),
            concurrency: 8,
            team_concurrency: 2,
            test_crash_after_claim: false,
            hooks: lodestar_mail::HookConfig::default(),
        }
    }
}
