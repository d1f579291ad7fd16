//! `serve` and `demo`: the long-running server.

use std::time::Duration;

use lodestar_mail::MailSettings;
use lodestar_scheduler::SchedulerConfig;
use lodestar_web::{
    AppSettings, Application, DigestSettings, Rate, RateLimits, ScriptSettings, StartupError,
};

use crate::cli::ServeArgs;
use crate::settings::Settings;

/// The application as `lodestar serve` runs it: packs, digests and the scheduler all on.
pub fn app_settings(settings: &Settings) -> anyhow::Result<AppSettings> {
    Ok(AppSettings {
        database_url: settings.database.url.clone(),
        bind: settings.bind_addr()?,
        workers: settings.server.workers,
        public_url: Some(settings.server.public_url.clone()),
        max_body_bytes: settings.server.max_body_bytes,
        scripts: ScriptSettings {
            packs_dir: settings.packs_dir(),
            deadline: Duration::from_millis(settings.scripts.deadline_ms),
            request_limits: settings.scripts.request_limits(),
        },
        clock: lodestar_core::clock::system_clock(),
        digests: Some(DigestSettings {
            smtp_timeout: Duration::from_secs(settings.smtp.timeout_secs),
            ..DigestSettings::new(mail_settings(settings), scheduler_config(settings))
        }),
        limits: RateLimits {
            sign_in: Rate {
                per_minute: settings.limits.sign_in_per_minute,
            },
            send_now: Rate {
                per_minute: settings.limits.send_now_per_minute,
            },
            sign_in_per_account: Rate {
                per_minute: settings.limits.sign_in_per_account_per_minute,
            },
            emails: Rate {
                per_minute: settings.limits.emails_per_minute,
            },
            trust_forwarded_for: settings.limits.trust_forwarded_for,
        },
    })
}

/// Test-only: with this set to 1, a process kills itself (SIGKILL) right after it claims a
/// delivery and before sending it, so tests can prove the claim's lease is taken over.
const CRASH_AFTER_CLAIM: &str = "LODESTAR_TEST_CRASH_AFTER_CLAIM";

fn mail_settings(settings: &Settings) -> MailSettings {
    let smtp = settings.smtp.url.trim();
    MailSettings {
        smtp_url: (!smtp.is_empty()).then(|| smtp.to_owned()),
        from: settings.mail.from.clone(),
        outbox_dir: settings.mail.outbox_dir.clone(),
    }
}

pub fn scheduler_config(settings: &Settings) -> SchedulerConfig {
    let s = &settings.scheduler;
    SchedulerConfig {
        public_url: settings.server.public_url.trim_end_matches('/').to_owned(),
        grace: Duration::from_secs(s.grace_window_secs),
        lease_timeout: Duration::from_secs(s.lease_timeout_secs),
        retry_initial: Duration::from_millis(s.retry_initial_ms),
        retry_max_attempts: s.retry_max_attempts,
        resync_interval: Duration::from_secs(s.resync_interval_secs),
        share_link_ttl: Duration::from_secs(s.share_link_days.saturating_mul(86_400)),
        concurrency: s.concurrency,
        team_concurrency: s.team_concurrency,
        test_crash_after_claim: std::env::var(CRASH_AFTER_CLAIM).is_ok_and(|v| v == "1"),
        hooks: lodestar_mail::HookConfig {
            timeout: Duration::from_secs(settings.notify.timeout_secs),
            block_private_addresses: settings.notify.block_private_addresses,
        },
    }
}

/// Builds the application; with `--wait-for-db`, retries a failed first connection with
/// backoff (1 s, doubling up to 10 s) until the given number of seconds has passed.
async fn build(settings: &Settings, args: &ServeArgs) -> anyhow::Result<Application> {
    let mut app_settings = app_settings(settings)?;
    if let Some(bind) = args.bind {
        app_settings.bind = bind;
    }
    let deadline = args
        .wait_for_db
        .map(|secs| std::time::Instant::now() + Duration::from_secs(secs));
    let mut pause = Duration::from_secs(1);
    loop {
        match Application::build(app_settings.clone()).await {
            Err(e @ StartupError::Connect { .. })
                if deadline.is_some_and(|d| std::time::Instant::now() + pause < d) =>
            {
                tracing::warn!(
                    error = %crate::cli::chain(&e),
                    retry_in_secs = pause.as_secs(),
                    "database not reachable yet"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
            built => return Ok(built?),
        }
    }
}

pub async fn serve(settings: &Settings, args: &ServeArgs) -> anyhow::Result<()> {
    let Some(app) = build_unless_stopped(settings, args).await? else {
        return Ok(());
    };
    Ok(app.run_until_stopped().await?)
}

/// Builds the application (connecting, migrating, binding), or `None` when SIGTERM or Ctrl-C
/// arrives first: a process stopped while it starts (a rolling restart, a deploy that gave up
/// on it) exits 0 at once instead of being killed half-way by the default signal action. Once
/// it serves, `Application::run_until_stopped` handles those signals (stop accepting, answer
/// what was accepted, let digest runs finish).
async fn build_unless_stopped(
    settings: &Settings,
    args: &ServeArgs,
) -> anyhow::Result<Option<Application>> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        app = build(settings, args) => Ok(Some(app?)),
        _ = term.recv() => {
            tracing::info!("SIGTERM while starting: stopped before serving");
            Ok(None)
        }
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("Ctrl-C while starting: stopped before serving");
            Ok(None)
        }
    }
}

pub async fn demo(settings: &Settings, args: &ServeArgs) -> anyhow::Result<()> {
    let Some(app) = build_unless_stopped(settings, args).await? else {
        return Ok(());
    };
    let db = &app.state().db;
    let team = crate::demo::ensure_demo_team(db).await?;
    let token = lodestar_store::tokens::create_labelled(
        db,
        team.id,
        lodestar_store::tokens::Role::Admin,
        Some("lodestar demo"),
    )
    .await?;
    let (_, secret) = lodestar_store::people::create_member(
        db,
        crate::demo::DEMO_EMAIL,
        team.id,
        lodestar_store::tokens::Role::Admin,
        chrono::Utc::now(),
    )
    .await?;
    // The address really listened on: the configured public URL may name another host or port.
    let mut addr = app.address();
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let base = format!("http://{addr}");
    println!("Lodestar demo team `{}` is ready.", team.slug);
    println!(
        "  Open this link in your browser to sign in as {} (it works once, for 24 hours):",
        crate::demo::DEMO_EMAIL
    );
    println!("          {base}/login/link/{secret}");
    println!("  token:  {token}");
    println!(
        "  KPIs:   curl -H 'Authorization: Bearer {token}' '{base}/api/v1/kpis?segment_by=channel'"
    );
    println!("  report: {base}/reports/weekly");
    Ok(app.run_until_stopped().await?)
}
