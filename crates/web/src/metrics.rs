//! Request counts and latencies by route, in Prometheus text format, and one log line per request.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};

use crate::state::AppState;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Rows stored by the loading API and imports.
    pub(crate) rows_loaded: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route.to_owned()).or_default();
            for (i, le) in BUCKETS.iter().enumerate() {
                if seconds <= *le {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP lodestar_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE lodestar_http_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for ((method, route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "lodestar_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str(
            "# HELP lodestar_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE lodestar_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                let route = escape(route);
                for (i, le) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "lodestar_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "lodestar_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "lodestar_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "lodestar_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        out
    }
}

/// `build_info`, the script engine's counters and what the process uses (Linux: from /proc).
pub fn process_and_scripts(scripts: &lodestar_script::ScriptEngine) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP lodestar_build_info The running build; always 1.\n\
         # TYPE lodestar_build_info gauge\n\
         lodestar_build_info{{version=\"{}\"}} 1",
        escape(env!("CARGO_PKG_VERSION"))
    );
    let _ = writeln!(
        out,
        "# HELP lodestar_script_runs_total KPI script runs started.\n\
         # TYPE lodestar_script_runs_total counter\n\
         lodestar_script_runs_total {}",
        scripts.runs()
    );
    let _ = writeln!(
        out,
        "# HELP lodestar_script_budget_exhausted_total Script runs stopped or skipped because \
         their request's script budget was spent.\n\
         # TYPE lodestar_script_budget_exhausted_total counter\n\
         lodestar_script_budget_exhausted_total {}",
        scripts.budget_stops()
    );
    let started = process_start();
    let _ = writeln!(
        out,
        "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n\
         # TYPE process_start_time_seconds gauge\n\
         process_start_time_seconds {}",
        started
    );
    if let Some(bytes) = resident_bytes() {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
             # TYPE process_resident_memory_bytes gauge\n\
             process_resident_memory_bytes {bytes}"
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        let _ = writeln!(
            out,
            "# HELP process_open_fds Open file descriptors.\n\
             # TYPE process_open_fds gauge\n\
             process_open_fds {}",
            fds.count()
        );
    }
    out
}

/// The scheduler's delivery counters (zero in a process without a scheduler).
pub fn deliveries(scheduler: Option<&lodestar_scheduler::Scheduler>) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let mut out = String::new();
    let value = |pick: fn(&lodestar_scheduler::DeliveryCounters) -> u64| {
        scheduler.map_or(0, |s| pick(s.counters()))
    };
    for (name, help, n) in [
        (
            "lodestar_deliveries_sent_total",
            "Digest messages accepted by the SMTP server or the outbox.",
            value(|c| c.sent.load(Relaxed)),
        ),
        (
            "lodestar_deliveries_failed_total",
            "Digest deliveries recorded as failed.",
            value(|c| c.failed.load(Relaxed)),
        ),
        (
            "lodestar_deliveries_retried_total",
            "Transient delivery failures followed by another attempt.",
            value(|c| c.retried.load(Relaxed)),
        ),
        (
            "lodestar_delivery_takeovers_total",
            "Deliveries whose sender stopped, taken over by this process.",
            value(|c| c.takeovers.load(Relaxed)),
        ),
        (
            "lodestar_alert_evaluations_total",
            "Alerts evaluated, one per alert per check.",
            value(|c| c.alert_evaluations.load(Relaxed)),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {n}"
        );
    }
    out
}

/// Digest deliveries claimed and not yet settled, and how long the oldest has waited: the
/// delivery queue, read from the database (all replicas' claims).
pub fn queue(pending: u64, oldest_seconds: Option<f64>) -> String {
    format!(
        "# HELP lodestar_deliveries_pending Digest deliveries claimed and not yet sent or failed.\n\
         # TYPE lodestar_deliveries_pending gauge\n\
         lodestar_deliveries_pending {pending}\n\
         # HELP lodestar_deliveries_oldest_pending_seconds Age of the oldest pending delivery (0 when none).\n\
         # TYPE lodestar_deliveries_oldest_pending_seconds gauge\n\
         lodestar_deliveries_oldest_pending_seconds {}\n",
        oldest_seconds.unwrap_or(0.0)
    )
}

/// Rows stored by loads and imports since the process started.
pub fn loaded(rows: u64) -> String {
    format!(
        "# HELP lodestar_rows_loaded_total Rows stored by the loading API and imports.\n\
         # TYPE lodestar_rows_loaded_total counter\n\
         lodestar_rows_loaded_total {rows}\n"
    )
}

/// When the process started, as first asked (close enough: the server asks at start-up).
pub(crate) fn process_start() -> f64 {
    static START: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    })
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    // The route pattern, not the path: label cardinality stays bounded.
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    // Known methods only: a made-up method must not add a series.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let path = req.path().to_owned();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let res = next.call(req).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let status = res.status().as_u16();
    if let Some(m) = metrics {
        m.record(&method, &route, status, elapsed);
    }
    tracing::info!(%method, %path, status, ms = elapsed * 1000.0, "request");
    Ok(res)
}
