//! Settings: the compiled-in defaults (the shipped `config.toml`), then the config file, then
//! `LODESTAR_<SECTION>__<KEY>` environment overrides. Read once in `main` and passed down;
//! nothing reads them globally. A section, key or variable that names no setting is an error
//! naming the closest one, never silently ignored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[serde(default)]
    pub notify: NotifySettings,
}

/// Slack and webhook channels (config.toml `[notify]`, `LODESTAR_NOTIFY__*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// Refuse channel URLs that resolve to loopback, private or link-local addresses.
    #[serde(default)]
    pub block_private_addresses: bool,
    /// Bound of one POST, in seconds.
    #[serde(default = "default_notify_timeout_secs")]
    pub timeout_secs: u64,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            block_private_addresses: false,
            timeout_secs: default_notify_timeout_secs(),
        }
    }
}

fn default_notify_timeout_secs() -> u64 {
    10
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
    #[serde(default)]
    pub format: LogFormat,
}

/// `log.format`: `text` (colour only on a terminal) or `json` (one object per line).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
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

/// The environment variables that are settings: `LODESTAR_<SECTION>__<KEY>`.
const ENV_PREFIX: &str = "LODESTAR_";

impl Settings {
    /// Defaults, then the file (`--config`/`LODESTAR_CONFIG` if given, else `./config.toml` if
    /// present), then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        Settings::load_from(file, std::env::vars())
    }

    fn load_from(
        file: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> anyhow::Result<Settings> {
        let known = known_keys();
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        let file = match file {
            Some(path) if !path.exists() => bail!("config file {} does not exist", path.display()),
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from("config.toml")).filter(|p| p.is_file()),
        };
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            let table: toml::Table =
                toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?;
            check_file_keys(&table, &known)
                .with_context(|| format!("config file {}", path.display()))?;
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            // Only names shaped like a setting are settings; LODESTAR_CONFIG and the tests'
            // LODESTAR_TEST_* are not.
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let (section, key) = (section.to_lowercase(), key.to_lowercase());
            if !known.iter().any(|(s, k)| *s == section && *k == key) {
                let closest = closest(
                    &format!("{section}.{key}"),
                    known.iter().map(|(s, k)| format!("{s}.{k}")),
                )
                .map(|c| format!(": did you mean {}?", env_name(&c)))
                .unwrap_or_default();
                bail!("environment variable {name} names no setting{closest}");
            }
            builder = builder
                .set_override(format!("{section}.{key}"), value)
                .with_context(|| format!("environment variable {name}"))?;
        }
        let settings: Settings = builder
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
        if self.notify.timeout_secs == 0 {
            bail!("notify.timeout_secs (LODESTAR_NOTIFY__TIMEOUT_SECS) must be at least 1");
        }
        validate_log_filter(&self.log.filter)?;
        validate_sender(&self.mail.from)?;
        Ok(())
    }

    /// The packs folder: as configured when it exists; else, for the default relative `scripts`,
    /// the one installed beside the executable or the one of the source tree it was built from,
    /// so the shipped packs load wherever the binary runs. `None` (a log line) when there is none.
    pub fn packs_dir(&self) -> Option<PathBuf> {
        let dir = &self.scripts.dir;
        if dir.is_dir() {
            return Some(dir.clone());
        }
        if dir.is_relative() {
            let beside_exe = std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(|p| p.join(dir)));
            let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            if let Some(found) = beside_exe
                .into_iter()
                .chain([source_tree])
                .find(|d| d.is_dir())
            {
                return Some(found);
            }
        }
        tracing::info!(dir = %dir.display(), "no KPI packs folder; only built-in KPIs and stored scripts");
        None
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

/// Every `(section, key)` there is: the shipped config.toml lists them all (a test checks that
/// each one deserializes, and `deny_unknown_fields` that none is missing).
fn known_keys() -> Vec<(String, String)> {
    let table: toml::Table = toml::from_str(DEFAULTS).unwrap_or_default();
    let mut keys = Vec::new();
    for (section, value) in table {
        if let toml::Value::Table(inner) = value {
            keys.extend(inner.keys().map(|k| (section.clone(), k.clone())));
        }
    }
    keys
}

fn check_file_keys(table: &toml::Table, known: &[(String, String)]) -> anyhow::Result<()> {
    let sections: Vec<&str> = {
        let mut s: Vec<&str> = known.iter().map(|(s, _)| s.as_str()).collect();
        s.dedup();
        s
    };
    for (section, value) in table {
        let suggest = |c: Option<String>| {
            c.map(|c| format!(": did you mean {c}?"))
                .unwrap_or_default()
        };
        if !sections.contains(&section.as_str()) {
            let c = closest(section, sections.iter().map(|s| format!("[{s}]")));
            bail!("unknown section [{section}]{}", suggest(c));
        }
        let toml::Value::Table(inner) = value else {
            bail!("`{section}` must be a section ([{section}]), not a value");
        };
        for key in inner.keys() {
            if !known.iter().any(|(s, k)| s == section && k == key) {
                let c = closest(
                    key,
                    known
                        .iter()
                        .filter(|(s, _)| s == section)
                        .map(|(_, k)| k.clone()),
                )
                .map(|k| format!("{section}.{k}"));
                bail!("unknown key {section}.{key}{}", suggest(c));
            }
        }
    }
    Ok(())
}

fn env_name(dotted: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        dotted.replacen('.', "__", 1).to_uppercase()
    )
}

/// The candidate nearest to `word` by edit distance, when near enough to be a typo.
fn closest(word: &str, candidates: impl Iterator<Item = String>) -> Option<String> {
    let bare = |s: &str| s.trim_matches(['[', ']']).to_owned();
    candidates
        .map(|c| (edit_distance(word, &bare(&c)), c))
        .filter(|(d, c)| *d <= (bare(c).len() / 2).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// tracing reads a bare word such as `verbose` as a target name and so shows nothing: each
/// directive must be a level or `target=level`.
fn validate_log_filter(filter: &str) -> anyhow::Result<()> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LEVELS.contains(&level.to_lowercase().as_str()) {
            bail!(
                "log.filter (LODESTAR_LOG__FILTER) `{filter}`: `{directive}` is not a level; \
                 use one of trace, debug, info, warn, error, off, or target=level such as \
                 `info,lodestar_web=debug`"
            );
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("log.filter (LODESTAR_LOG__FILTER) `{filter}`: {e}"))?;
    Ok(())
}

/// `mail.from`: `addr@host` or `Name <addr@host>`.
fn validate_sender(from: &str) -> anyhow::Result<()> {
    let addr = match (from.rfind('<'), from.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => from.trim(),
    };
    let ok = match addr.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !addr.contains(char::is_whitespace)
        }
        None => false,
    };
    if !ok {
        bail!(
            "mail.from (LODESTAR_MAIL__FROM) `{from}` is not an e-mail address: \
             use `lodestar@example.com` or `Lodestar <lodestar@example.com>`"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Settings::load_from(
            Some(Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/config.toml"
            ))),
            env.collect::<Vec<_>>().into_iter(),
        )
    }

    #[test]
    fn the_shipped_config_loads_and_other_lodestar_variables_are_left_alone() {
        let s = load(&[
            ("LODESTAR_TEST_POSTGRES_URL", "x"),
            ("LODESTAR_CONFIG", "y"),
        ]);
        assert!(s.is_ok(), "{s:?}");
    }

    #[test]
    fn a_misspelt_variable_names_the_setting_it_was_meant_for() {
        let e = load(&[("LODESTAR_SERVR__BIND", "0.0.0.0:1")]).expect_err("refused");
        assert!(e.to_string().contains("LODESTAR_SERVER__BIND"), "{e}");
    }

    #[test]
    fn a_verbose_log_filter_is_an_error_not_silence() {
        let e = load(&[("LODESTAR_LOG__FILTER", "verbose")]).expect_err("refused");
        assert!(format!("{e:#}").contains("not a level"), "{e:#}");
        assert!(load(&[("LODESTAR_LOG__FILTER", "info,lodestar_web=debug")]).is_ok());
    }

    #[test]
    fn a_sender_without_an_address_is_refused() {
        assert!(load(&[("LODESTAR_MAIL__FROM", "Lodestar")]).is_err());
        assert!(load(&[("LODESTAR_MAIL__FROM", "a@b.example")]).is_ok());
    }

    #[test]
    fn blocking_private_addresses_is_off_by_default_and_on_by_its_variable() {
        let s = load(&[]).expect("defaults");
        assert!(!s.notify.block_private_addresses);
        let s = load(&[("LODESTAR_NOTIFY__BLOCK_PRIVATE_ADDRESSES", "true")]).expect("on");
        assert!(s.notify.block_private_addresses);
        let config = crate::serve::scheduler_config(&s);
        assert!(config.hooks.block_private_addresses);
        assert!(load(&[("LODESTAR_NOTIFY__BLOCK_PRIVATE", "true")]).is_err());
    }
}
