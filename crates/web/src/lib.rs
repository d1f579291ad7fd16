//! Lodestar over HTTP: routes, auth and the JSON API. Handlers parse input into domain types and
//! call `store`/`report`; no business logic lives here.

mod auth;
mod body;
mod defs;
pub mod error;
mod html;
mod metrics;
mod routes;
mod session;
mod state;
mod viewer;
mod views;

use std::net::TcpListener;

use actix_web::{App, HttpServer, dev::Server, web};

pub use state::{AppState, WebSettings};

/// Builds the HTTP server on an already bound listener (port 0 in tests).
pub fn server(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::from_fn(metrics::observe))
            .configure(routes::config)
    })
    .workers(workers.max(1))
    .listen(listener)?
    .run();
    Ok(server)
}
