use std::sync::Arc;

use lodestar_store::Db;

use crate::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Base URL for links that leave the server (e-mails).
    pub public_url: String,
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            public_url: "http://127.0.0.1:8080".to_owned(),
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<WebSettings>,
    pub(crate) metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(db: Db, settings: WebSettings) -> AppState {
        AppState {
            db,
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::default()),
        }
    }
}
