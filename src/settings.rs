//! Settings: `config.toml` defaults, then `LODESTAR_<SECTION>__<KEY>` environment overrides.
//! Read once in `main` and passed down; nothing reads them globally.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

// Unknown top-level keys are tolerated: LODESTAR_TEST_POSTGRES_URL and friends share the prefix.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub server: ServerSettings,
    #[serde(default)]
    pub smtp: SmtpSettings,
    pub mail: MailSettings,
    pub scripts: ScriptSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub scheduler: SchedulerSettings,
    #[serde(default)]
    pub limits: LimitSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub public_url: String,
    pub max_body_bytes: usize,
    #[serde(default)]
    pub workers: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    #[serde(default)]
    pub url: String,
    /// Bound of one message's whole SMTP exchange, in seconds.
    #[serde(default = "default_smtp_timeout_secs")]
    pub timeout_secs: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            url: String::new(),
            timeout_secs: default_smtp_timeout_secs(),
        }
    }
}

fn default_smtp_timeout_secs() -> u64 {
    lodestar_mail::SmtpConfig::DEFAULT_TIMEOUT.as_secs()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub from: String,
    pub outbox_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptSettings {
    pub dir: PathBuf,
    pub deadline_ms: u64,
    /// Wall time of all of one request's script runs together.
    #[serde(default = "default_request_budget_ms")]
    pub request_budget_ms: u64,
    /// Operations of all of one request's script runs together (0: no limit).
    #[serde(default = "default_request_max_operations")]
    pub request_max_operations: u64,
    /// A team's KPI evaluations at once (0: half the cores, at least one).
    #[serde(default)]
    pub concurrent_per_team: usize,
}

fn default_request_budget_ms() -> u64 {
    3000
}

fn default_request_max_operations() -> u64 {
    50_000_000
}

impl ScriptSettings {
    /// The per-request limits these settings describe.
    pub fn request_limits(&self) -> lodestar_web::RequestLimits {
        let auto = lodestar_web::RequestLimits::default();
        lodestar_web::RequestLimits {
            script_time: std::time::Duration::from_millis(self.request_budget_ms),
            script_operations: self.request_max_operations,
            per_team: match self.concurrent_per_team {
                0 => auto.per_team,
                n => n,
            },
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub filter: String,
}

/// Digest delivery (config.toml `[scheduler]`, `LODESTAR_SCHEDULER__*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSettings {
    /// A firing missed while no server ran is sent at start-up when at most this old.
    pub grace_window_secs: u64,
    /// A claimed delivery whose sender gave no news for this long is taken over (once).
    pub lease_timeout_secs: u64,
    /// First wait after a transient SMTP failure; doubles on each retry.
    pub retry_initial_ms: u64,
    /// Attempts per delivery in all, the first included.
    pub retry_max_attempts: u32,
    /// How often schedules are re-read and missed due times and expired leases swept up.
    pub resync_interval_secs: u64,
    /// How long a digest's "view in browser" link works.
    pub share_link_days: u64,
    /// Digests made and sent at once.
    pub concurrency: usize,
    /// Of those, at most this many for one team.
    pub team_concurrency: usize,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            grace_window_secs: 86_400,
            lease_timeout_secs: 300,
            retry_initial_ms: 30_000,
            retry_max_attempts: 6,
            resync_interval_secs: 30,
            share_link_days: 30,
            concurrency: 8,
            team_concurrency: 2,
        }
    }
}

/// Rate limits (config.toml `[limits]`, `LODESTAR_LIMITS__*`), counted in each process's memory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Sign-in attempts (`POST /login`) per client address and minute; 0: unlimited.
    pub sign_in_per_minute: u32,
    /// `send-now` calls per team and minute; 0: unlimited.
    pub send_now_per_minute: u32,
    /// Password sign-in attempts per account and minute (beyond them an attempt fails like a
    /// wrong password); 0: unlimited.
    pub sign_in_per_account_per_minute: u32,
    /// Password-reset and invitation e-mails per address and minute; 0: unlimited.
    pub emails_per_minute: u32,
    /// Take the client address from `X-Forwarded-For`/`Forwarded`: only behind a proxy that
    /// sets them, or anyone can pick their own address.
    pub trust_forwarded_for: bool,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            sign_in_per_minute: 10,
            send_now_per_minute: 5,
            sign_in_per_account_per_minute: 5,
            emails_per_minute: 3,
            trust_forwarded_for: false,
        }
    }
}

/// The defaults compiled in, so the binary runs from any directory even without config.toml.
const DEFAULTS: &str = include_str!("../config.toml");

impl Settings {
    /// Defaults, then the file (if given, or `config.toml` if present), then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        match file {
            Some(path) => {
                if !path.exists() {
                    bail!("config file {} does not exist", path.display());
                }
                builder = builder.add_source(config::File::from(path));
            }
            None => {
                builder =
                    builder.add_source(config::File::with_name("config.toml").required(false));
            }
        }
        let settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("LODESTAR")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("invalid configuration (keys are section.key, or LODESTAR_SECTION__KEY in the environment)")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            bail!(
                "database.url (LODESTAR_DATABASE__URL) must start with sqlite:// or postgres://, got `{}`",
                lodestar_store::db::redact(url)
            );
        }
        self.bind_addr()?;
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            bail!(
                "server.public_url (LODESTAR_SERVER__PUBLIC_URL) must be an http(s) URL, got `{}`",
                self.server.public_url
            );
        }
        if self.server.max_body_bytes < 1024 {
            bail!("server.max_body_bytes (LODESTAR_SERVER__MAX_BODY_BYTES) must be at least 1024");
        }
        let smtp = self.smtp.url.trim();
        if !smtp.is_empty() && !smtp.starts_with("smtp://") && !smtp.starts_with("smtps://") {
            bail!(
                "smtp.url (LODESTAR_SMTP__URL) must start with smtp:// or smtps://, got `{smtp}`"
            );
        }
        if self.scripts.request_budget_ms < self.scripts.deadline_ms
            || self.scripts.request_budget_ms > 600_000
        {
            bail!(
                "scripts.request_budget_ms (LODESTAR_SCRIPTS__REQUEST_BUDGET_MS) must be at least \
                 scripts.deadline_ms and at most 600000"
            );
        }
        if self.scripts.deadline_ms == 0 || self.scripts.deadline_ms > 60_000 {
            bail!(
                "scripts.deadline_ms (LODESTAR_SCRIPTS__DEADLINE_MS) must be between 1 and 60000"
            );
        }
        let s = &self.scheduler;
        if s.lease_timeout_secs < 1 || s.resync_interval_secs < 1 {
            bail!(
                "scheduler.lease_timeout_secs and scheduler.resync_interval_secs \
                 (LODESTAR_SCHEDULER__LEASE_TIMEOUT_SECS, …__RESYNC_INTERVAL_SECS) must be at least 1"
            );
        }
        if s.retry_max_attempts < 1 || s.concurrency < 1 || s.team_concurrency < 1 {
            bail!(
                "scheduler.retry_max_attempts, scheduler.concurrency and scheduler.team_concurrency \
                 (LODESTAR_SCHEDULER__RETRY_MAX_ATTEMPTS, …__CONCURRENCY, …__TEAM_CONCURRENCY) \
                 must be at least 1"
            );
        }
        if self.smtp.timeout_secs < 1 {
            bail!("smtp.timeout_secs (LODESTAR_SMTP__TIMEOUT_SECS) must be at least 1");
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.filter).map_err(|e| {
            anyhow::anyhow!(
                "log.filter (LODESTAR_LOG__FILTER) `{}`: {e}",
                self.log.filter
            )
        })?;
        Ok(())
    }

    pub fn bind_addr(&self) -> anyhow::Result<SocketAddr> {
        self.server.bind.parse().map_err(|e| {
            anyhow::anyhow!(
                "server.bind (LODESTAR_SERVER__BIND) `{}` is not host:port: {e}",
                self.server.bind
            )
        })
    }
}
