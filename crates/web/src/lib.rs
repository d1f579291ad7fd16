//! Lodestar over HTTP: routes, auth and the JSON API. Handlers parse input into domain types and
//! call `store`/`report`; no business logic lives here.

mod accounts;
mod auth;
mod body;
mod client_watch;
mod conventions;
mod defs;
pub mod error;
mod graceful;
mod html;
mod limits;
mod metrics;
mod rebuilds;
mod request_id;
mod routes;
mod session;
mod startup;
mod state;
mod viewer;
mod views;

pub use limits::{Rate, RateLimits};
pub use startup::{
    AppSettings, Application, DigestSettings, RequestLimits, ScriptSettings, StartupError,
};
pub use state::{AppState, WebSettings};
