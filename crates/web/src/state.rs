use std::sync::Arc;

use lodestar_report::cache::ReportCache;
use lodestar_report::{KpiEngine, KpiResult};
use lodestar_scheduler::Scheduler;
use lodestar_script::PackWatcher;
use lodestar_store::Db;

use crate::defs::Definitions;
use crate::limits::Limiters;
use crate::metrics::Metrics;
use crate::session::Keys;
use crate::views::CachedReport;

#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Base URL for links that leave the server (e-mails).
    pub public_url: String,
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
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
    /// `GET /api/v1/kpis` answers by (team, request, period, data version), the same way.
    pub(crate) kpi_answers: Arc<ReportCache<Arc<KpiResult>>>,
    pub(crate) defs: Arc<Definitions>,
    /// The KPI packs, whose reloads change KPIs without touching any team's data version.
    pub(crate) packs: Option<Arc<PackWatcher>>,
    /// Digest schedules: jobs, send-now and re-sends. `None` in processes that only serve pages.
    pub scheduler: Option<Arc<Scheduler>>,
    /// Rate limits of this process (sign-in attempts, send-now).
    pub(crate) limits: Arc<Limiters>,
    /// Daily-summary rebuilds after timezone changes, with their progress.
    pub(crate) rebuilds: crate::rebuilds::Rebuilds,
}

/// Reports kept in memory; one is a few tens of kilobytes.
const REPORT_CACHE_ENTRIES: usize = 512;
/// KPI answers kept in memory; a catalog with a 12-period trend is some tens of kilobytes.
const KPI_CACHE_ENTRIES: usize = 512;

impl AppState {
    /// Holds what `Application::build` made, with empty caches.
    pub(crate) fn new(
        db: Db,
        settings: WebSettings,
        kpis: KpiEngine,
        packs: Option<Arc<PackWatcher>>,
        scheduler: Option<Arc<Scheduler>>,
        limits: Limiters,
    ) -> AppState {
        AppState {
            db,
            settings: Arc::new(settings),
            kpis,
            metrics: Arc::new(Metrics::default()),
            keys: Arc::new(Keys::default()),
            reports: Arc::new(ReportCache::new(REPORT_CACHE_ENTRIES)),
            kpi_answers: Arc::new(ReportCache::new(KPI_CACHE_ENTRIES)),
            defs: Arc::new(Definitions::default()),
            packs,
            scheduler,
            limits: Arc::new(limits),
            rebuilds: crate::rebuilds::Rebuilds::default(),
        }
    }

    /// Counts KPI pack reloads: cached reports key on it besides the team's data version.
    pub(crate) fn kpi_generation(&self) -> u64 {
        self.packs.as_ref().map_or(0, |p| p.generation())
    }
}
