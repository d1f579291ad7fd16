//! `serve` and `demo`: the long-running server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use lodestar_mail::{MailSettings, Mailer};
use lodestar_scheduler::{Scheduler, SchedulerConfig};
use lodestar_store::Db;
use lodestar_web::{AppState, WebSettings};

use crate::settings::Settings;

pub fn web_settings(settings: &Settings) -> WebSettings {
    WebSettings {
        public_url: settings.server.public_url.trim_end_matches('/').to_owned(),
        max_body_bytes: settings.server.max_body_bytes,
        scripts_dir: Some(settings.scripts.dir.clone()),
        script_deadline: std::time::Duration::from_millis(settings.scripts.deadline_ms),
    }
}

/// Test-only: with this set to 1, a process kills itself (SIGKILL) right after it claims a
/// delivery and before sending it, so tests can prove the claim's lease is taken over.
const CRASH_AFTER_CLAIM: &str = "LODESTAR_TEST_CRASH_AFTER_CLAIM";

pub fn mailer(settings: &Settings) -> anyhow::Result<Mailer> {
    let smtp = settings.smtp.url.trim();
    Ok(Mailer::new(&MailSettings {
        smtp_url: (!smtp.is_empty()).then(|| smtp.to_owned()),
        from: settings.mail.from.clone(),
        outbox_dir: settings.mail.outbox_dir.clone(),
    })?)
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
        test_crash_after_claim: std::env::var(CRASH_AFTER_CLAIM).is_ok_and(|v| v == "1"),
    }
}

pub async fn serve(db: Db, settings: &Settings) -> anyhow::Result<()> {
    let addr = settings.bind_addr()?;
    let listener = TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
    let workers = match settings.server.workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    tracing::info!(%addr, "serving");
    let state = AppState::new(db.clone(), web_settings(settings));
    let scheduler = Arc::new(Scheduler::new(
        db,
        state.kpis.clone(),
        Arc::new(mailer(settings)?),
        scheduler_config(settings),
    ));
    scheduler.start().await.context("starting the scheduler")?;
    let state = state.with_scheduler(Arc::clone(&scheduler));
    let served = lodestar_web::server(state, listener, workers)?
        .await
        .context("HTTP server");
    scheduler.shutdown().await;
    served
}

pub async fn demo(settings: &Settings) -> anyhow::Result<()> {
    let db = crate::cli::open_db(settings).await?;
    let team = crate::demo::ensure_demo_team(&db).await?;
    let token =
        lodestar_store::tokens::create(&db, team.id, lodestar_store::tokens::Role::Admin).await?;
    let base = settings.server.public_url.trim_end_matches('/');
    println!("Lodestar demo team `{}` is ready.", team.slug);
    println!("  token:  {token}");
    println!(
        "  KPIs:   curl -H 'Authorization: Bearer {token}' '{base}/api/v1/kpis?segment_by=channel'"
    );
    println!("  report: {base}/reports/weekly");
    serve(db, settings).await
}
