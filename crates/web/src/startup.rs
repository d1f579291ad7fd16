//! The one place that wires the application from plain settings: the database (migrated), the
//! script engine, the KPI packs, the KPI engine, the mailer, the scheduler and the listener.
//! `lodestar serve`, the end-to-end tests and the benches all build it here.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, dev::Server, web};
use lodestar_core::catalog::Builtin;
use lodestar_mail::{MailError, MailSettings, Mailer, MailerConfig, SmtpConfig};
use lodestar_report::KpiEngine;
pub use lodestar_report::engine::RequestLimits;
use lodestar_scheduler::{Clock, Scheduler, SchedulerConfig, SchedulerError};
use lodestar_script::{Limits, PackWatcher, ScriptEngine};
use lodestar_store::Db;
use lodestar_store::error::StoreError;

use crate::graceful::{self, Drain, Listening};
use crate::limits::{Limiters, RateLimits};
use crate::state::{AppState, WebSettings};
use crate::{client_watch, conventions, metrics, request_id, routes};

/// Everything [`Application::build`] needs, as plain values: the binary maps its configuration
/// into this, tests and benches fill it in themselves.
#[derive(Clone)]
pub struct AppSettings {
    /// `sqlite://…` or `postgres://…`; migrated when the application is built.
    pub database_url: String,
    /// Where to listen; port 0 picks a free port (see [`Application::port`]).
    pub bind: SocketAddr,
    /// HTTP worker threads; 0: one per core.
    pub workers: usize,
    /// Base URL for links that leave the server (e-mails); `None`: `http://` and the bound
    /// address, for servers on port 0.
    pub public_url: Option<String>,
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    pub scripts: ScriptSettings,
    /// What "now" is, to the KPI engine (periods in progress) and the scheduler.
    pub clock: Clock,
    /// Digests; `None` in processes that only serve pages.
    pub digests: Option<DigestSettings>,
    /// Rate limits (sign-in attempts per address, send-now per team), per process.
    pub limits: RateLimits,
}

#[derive(Debug, Clone)]
pub struct ScriptSettings {
    /// KPI packs folder, watched for changes; `None`: no packs.
    pub packs_dir: Option<PathBuf>,
    /// Wall-clock limit of one script run.
    pub deadline: Duration,
    /// What all of one request's runs may use together, and a team's evaluations at once.
    pub request_limits: RequestLimits,
}

impl Default for ScriptSettings {
    fn default() -> Self {
        ScriptSettings {
            packs_dir: None,
            deadline: Limits::default().deadline,
            request_limits: RequestLimits::default(),
        }
    }
}

/// The mailer and the scheduler of digests.
#[derive(Clone)]
pub struct DigestSettings {
    pub mail: MailSettings,
    /// Bound of one message's whole SMTP exchange (connect, greeting, commands, the answer).
    pub smtp_timeout: Duration,
    /// Pooled SMTP connections at most.
    pub smtp_pool_max_size: u32,
    /// The scheduler's tuning; its `public_url` is the application's.
    pub scheduler: SchedulerConfig,
    /// Start the cron jobs and the resync loop when the application runs. Off in tests that
    /// fire schedules themselves.
    pub start: bool,
}

impl DigestSettings {
    pub fn new(mail: MailSettings, scheduler: SchedulerConfig) -> DigestSettings {
        DigestSettings {
            mail,
            smtp_timeout: SmtpConfig::DEFAULT_TIMEOUT,
            smtp_pool_max_size: SmtpConfig::DEFAULT_POOL_MAX_SIZE,
            scheduler,
            start: true,
        }
    }

    fn mailer(&self) -> Result<Mailer, MailError> {
        let mut config =
            MailerConfig::from_settings(self.mail.smtp_url.as_deref(), &self.mail.outbox_dir)?;
        if let MailerConfig::Smtp(smtp) = &mut config {
            smtp.timeout = self.smtp_timeout;
            smtp.pool_max_size = self.smtp_pool_max_size;
        }
        Mailer::from_config(config, &self.mail.from)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("connecting to {url}")]
    Connect {
        /// Redacted.
        url: String,
        #[source]
        source: StoreError,
    },
    #[error("applying migrations")]
    Migrate(#[source] StoreError),
    #[error("binding {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("starting the scheduler")]
    Scheduler(#[source] SchedulerError),
    #[error(transparent)]
    Listen(std::io::Error),
    #[error("HTTP server")]
    Serve(#[source] std::io::Error),
}

/// How long digest runs in progress get to finish after SIGTERM (beside the requests' grace);
/// those cut off leave their claims to be taken over. Shorter than a stuck SMTP server's timeout.
const DELIVERY_GRACE: Duration = Duration::from_secs(8);

/// How often the packs folder is checked for changes.
const PACK_POLL: Duration = Duration::from_secs(2);

/// A built application: its database migrated, its listener bound, not yet serving.
pub struct Application {
    listener: TcpListener,
    /// A second handle on the listener, to stop accepting gracefully (`None`: it could not be
    /// duplicated, the listener closes when the workers stop).
    listening: Option<Listening>,
    address: SocketAddr,
    workers: usize,
    state: AppState,
    start_scheduler: bool,
}

impl Application {
    pub async fn build(settings: AppSettings) -> Result<Application, StartupError> {
        let db = Db::connect(&settings.database_url)
            .await
            .map_err(|source| StartupError::Connect {
                url: lodestar_store::db::redact(&settings.database_url),
                source,
            })?;
        db.migrate().await.map_err(StartupError::Migrate)?;

        metrics::process_start();
        let addr = settings.bind;
        let listener =
            TcpListener::bind(addr).map_err(|source| StartupError::Bind { addr, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;
        let workers = match settings.workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        };
        let listening = Listening::new(&listener)
            .inspect_err(|e| tracing::warn!(error = %e, "no second handle on the listener"))
            .ok();
        tracing::info!(%addr, "serving");
        let public_url = match &settings.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{address}"),
        };

        // The one script engine of the process: ASTs stay cached between requests.
        let scripts = Arc::new(ScriptEngine::new(Limits {
            deadline: settings.scripts.deadline,
            ..Limits::default()
        }));
        let packs = settings.scripts.packs_dir.as_ref().map(|dir| {
            let reserved = Builtin::ALL.iter().map(|b| b.key().to_owned()).collect();
            Arc::new(PackWatcher::start(
                dir.clone(),
                Arc::clone(&scripts),
                PACK_POLL,
                reserved,
            ))
        });
        let kpis = KpiEngine::new(db.clone(), scripts, packs.clone())
            .with_clock(settings.clock)
            .with_limits(settings.scripts.request_limits);

        let (scheduler, start_scheduler) = match settings.digests {
            Some(digests) => {
                let mailer = Arc::new(digests.mailer()?);
                let config = SchedulerConfig {
                    public_url: public_url.clone(),
                    ..digests.scheduler
                };
                let scheduler = Scheduler::with_clock(
                    db.clone(),
                    kpis.clone(),
                    mailer,
                    config,
                    kpis.clock().clone(),
                );
                (Some(Arc::new(scheduler)), digests.start)
            }
            None => (None, false),
        };

        let web = WebSettings {
            public_url,
            max_body_bytes: settings.max_body_bytes,
        };
        Ok(Application {
            listener,
            listening,
            address,
            workers,
            state: AppState::new(
                db,
                web,
                kpis,
                packs,
                scheduler,
                Limiters::new(&settings.limits),
            ),
            start_scheduler,
        })
    }

    /// The bound address (the real port when the settings asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// What the handlers see: the database, the KPI engine and the scheduler among others.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Starts the scheduler (when the settings say so) and serves until SIGTERM or Ctrl-C, then
    /// stops gracefully (see [`graceful`]): the HTTP server stops accepting and answers what it
    /// accepted while the scheduler stops starting digests and lets the runs in progress finish;
    /// a second signal cuts the requests' wait short.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(StartupError::Listen)?;
        let mut int = signal(SignalKind::interrupt()).map_err(StartupError::Listen)?;
        let scheduler = self.state.scheduler.clone();
        if let Some(scheduler) = &scheduler
            && self.start_scheduler
        {
            scheduler.start().await.map_err(StartupError::Scheduler)?;
        }
        let drain = Arc::new(Drain::default());
        let server = server(self.state, self.listener, self.workers, &drain)
            .map_err(StartupError::Listen)?;
        let handle = server.handle();
        let mut serving = std::pin::pin!(server);
        let signalled = tokio::select! {
            served = &mut serving => {
                // Stopped without a signal (through another handle, or by an error).
                if let Some(scheduler) = &scheduler {
                    scheduler.shutdown().await;
                }
                return served.map_err(StartupError::Serve);
            }
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "Ctrl-C",
        };
        tracing::info!(
            signal = signalled,
            "stopping: no new connections; finishing accepted requests and digest runs"
        );
        let stopping = async {
            let second = async {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            };
            let http = graceful::stop_http(&drain, self.listening.as_ref(), &handle, second);
            let deliveries = async {
                if let Some(scheduler) = &scheduler {
                    scheduler.stop(DELIVERY_GRACE).await;
                }
            };
            tokio::join!(http, deliveries);
            if let Some(scheduler) = &scheduler {
                scheduler.shutdown().await;
            }
        };
        let (served, ()) = tokio::join!(serving, stopping);
        tracing::info!("stopped");
        served.map_err(StartupError::Serve)
    }
}

/// The HTTP server on an already bound listener. It does not handle signals itself: see
/// [`Application::run_until_stopped`].
fn server(
    state: AppState,
    listener: TcpListener,
    workers: usize,
    drain: &Arc<Drain>,
) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    let drain_data = web::Data::from(Arc::clone(drain));
    let connections = Arc::clone(drain);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(drain_data.clone())
            .wrap(actix_web::middleware::from_fn(conventions::apply))
            .wrap(actix_web::middleware::from_fn(client_watch::watch))
            .wrap(actix_web::middleware::from_fn(metrics::observe))
            .wrap(actix_web::middleware::from_fn(request_id::tag))
            .wrap(actix_web::middleware::from_fn(
                graceful::close_when_draining,
            ))
            .configure(conventions::extractors)
            .configure(routes::config)
            .default_service(web::to(conventions::not_found))
    })
    .workers(workers.max(1))
    .disable_signals()
    .on_connect(move |conn, ext| {
        client_watch::on_connect(conn, ext);
        connections.on_connect(ext);
    })
    .listen(listener)?
    .run();
    Ok(server)
}
