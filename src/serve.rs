//! `serve` and `demo`: the long-running server.

use std::net::TcpListener;

use anyhow::Context;
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
    let state = AppState::new(db, web_settings(settings));
    lodestar_web::server(state, listener, workers)?
        .await
        .context("HTTP server")
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
