use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lodestar_core::catalog::Builtin;
use lodestar_report::KpiEngine;
use lodestar_report::cache::ReportCache;
use lodestar_scheduler::Scheduler;
use lodestar_script::{Limits, PackWatcher, ScriptEngine};
use lodestar_store::Db;

use crate::defs::Definitions;
use crate::metrics::Metrics;
use crate::session::Keys;
use crate::views::CachedReport;

#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Base URL for links that leave the server (e-mails).
    pub public_url: String,
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// KPI packs folder, watched for changes; `None`: no packs.
    pub scripts_dir: Option<PathBuf>,
    /// Wall-clock limit of one script run.
    pub script_deadline: Duration,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            public_url: "http://127.0.0.1:8080".to_owned(),
            max_body_bytes: 32 * 1024 * 1024,
            scripts_dir: None,
            script_deadline: Duration::from_millis(250),
        }
    }
}

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<WebSettings>,
    /// Evaluates built-in and custom KPIs; hand it to anything else that needs numbers.
    pub kpis: KpiEngine,
    pub(crate) metrics: Arc<Metrics>,
    /// Server secrets for sessions and share links, read once.
    pub(crate) keys: Arc<Keys>,
    /// Assembled reports by (team, report, period, data version): a bounded LRU.
    pub(crate) reports: Arc<ReportCache<Arc<CachedReport>>>,
    pub(crate) defs: Arc<Definitions>,
    /// The KPI packs, whose reloads change KPIs without touching any team's data version.
    pub(crate) packs: Option<Arc<PackWatcher>>,
    /// Digest schedules: jobs, send-now and re-sends. `None` in processes that only serve pages.
    pub scheduler: Option<Arc<Scheduler>>,
}

/// Reports kept in memory; one is a few tens of kilobytes.
const REPORT_CACHE_ENTRIES: usize = 512;

/// How often the packs folder is checked for changes.
const PACK_POLL: Duration = Duration::from_secs(2);

impl AppState {
    /// Builds the one script engine of the process and starts watching the packs folder.
    pub fn new(db: Db, settings: WebSettings) -> AppState {
        let scripts = Arc::new(ScriptEngine::new(Limits {
            deadline: settings.script_deadline,
            ..Limits::default()
        }));
        let packs = settings.scripts_dir.as_ref().map(|dir| {
            let reserved = Builtin::ALL.iter().map(|b| b.key().to_owned()).collect();
            Arc::new(PackWatcher::start(
                dir.clone(),
                Arc::clone(&scripts),
                PACK_POLL,
                reserved,
            ))
        });
        AppState {
            kpis: KpiEngine::new(db.clone(), scripts, packs.clone()),
            packs,
            db,
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::default()),
            keys: Arc::new(Keys::default()),
            reports: Arc::new(ReportCache::new(REPORT_CACHE_ENTRIES)),
            defs: Arc::new(Definitions::default()),
            scheduler: None,
        }
    }

    /// Counts KPI pack reloads: cached reports key on it besides the team's data version.
    pub(crate) fn kpi_generation(&self) -> u64 {
        self.packs.as_ref().map_or(0, |p| p.generation())
    }

    /// Hands the running scheduler to the schedule routes.
    pub fn with_scheduler(mut self, scheduler: Arc<Scheduler>) -> AppState {
        self.scheduler = Some(scheduler);
        self
    }
}
