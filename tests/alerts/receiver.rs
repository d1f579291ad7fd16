//! A real HTTP receiver for Slack and webhook channels, in the test process: it records every
//! request (headers and body) and answers the statuses it is told to, then 200.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub signature: Option<String>,
    pub delivery: Option<String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// Statuses to answer next, in order; 200 once empty.
    script: Mutex<VecDeque<u16>>,
    /// Answer this to everything when set.
    always: Mutex<Option<u16>>,
}

pub struct Receiver {
    pub base: String,
    shared: Arc<Shared>,
}

async fn take(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    shared.received.lock().unwrap().push(Received {
        path: req.path().to_owned(),
        signature: header("X-Lodestar-Signature"),
        delivery: header("X-Lodestar-Delivery"),
        body: body.to_vec(),
    });
    let status = match *shared.always.lock().unwrap() {
        Some(s) => s,
        None => shared.script.lock().unwrap().pop_front().unwrap_or(200),
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body("answer")
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(Arc::clone(&shared));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(take))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        actix_web::rt::spawn(server.run());
        Receiver {
            base: format!("http://{addr}"),
            shared,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn answer_next(&self, statuses: &[u16]) {
        self.shared.script.lock().unwrap().extend(statuses);
    }

    pub fn answer_always(&self, status: u16) {
        *self.shared.always.lock().unwrap() = Some(status);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came in (or panics after 20 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited for {n} requests, got {}",
                got.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
