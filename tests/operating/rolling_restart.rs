//! A rolling restart of two `lodestar serve` replicas on one PostgreSQL, under steady load:
//! several client loops send real requests (KPIs read, leads loaded with distinct ids, digest
//! schedules created to fire during the restarts) to either replica, as a proxy would, while
//! replica 1 and then replica 2 get SIGTERM, exit 0 and start again on the same port. A refused
//! connection moves the client to the other replica; every request sent on a connection the
//! server accepted must get its whole answer, every loaded lead must be stored, and every
//! digest due must reach each recipient exactly once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use lodestar_core::period::Timezone;
use lodestar_mail::testing::SmtpServer;
use lodestar_store::teams;
use lodestar_store::tokens::{self, Role};
use sea_orm::ConnectionTrait;

use super::{answers_health, exit_within, free_port, sigterm};
use crate::common::{Backend, TestDb};

/// What the issue allows a replica between SIGTERM and its exit.
const EXIT_BOUND: Duration = Duration::from_secs(30);

/// Generous: a loaded two-core machine.
const WAIT: Duration = Duration::from_secs(60);

/// A `lodestar serve` replica on a fixed port; killed if still running when dropped.
struct Replica {
    child: Child,
    port: u16,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db_url: &str, smtp_url: &str, port: u16, log: &Path) -> Replica {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("LODESTAR_DATABASE__URL", db_url)
        .env("LODESTAR_SMTP__URL", smtp_url)
        .env("LODESTAR_SCHEDULER__RESYNC_INTERVAL_SECS", "1")
        .env("LODESTAR_SCHEDULER__LEASE_TIMEOUT_SECS", "2")
        .env("LODESTAR_SCHEDULER__RETRY_INITIAL_MS", "100")
        .env("LODESTAR_LOG__FILTER", "warn,lodestar_web=info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let replica = Replica { child, port };
    let up = Instant::now();
    while !answers_health(port) {
        assert!(up.elapsed() < WAIT, "replica on {port} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    replica
}

/// How one request went.
enum Outcome {
    /// Answered: the status and the body.
    Answered(u16, String),
    /// No replica accepted a connection (both down or refusing): not sent.
    NotSent,
}

/// The load's shared bookkeeping.
#[derive(Default)]
struct Tally {
    answered: AtomicUsize,
    refused: AtomicUsize,
    /// Requests sent on an accepted connection that got no whole answer, or a wrong one.
    lost: Mutex<Vec<String>>,
}

/// One request over a connection of its own (`Connection: close`), to `first` or, when it
/// refuses the connection, the other replica. Anything going wrong after the connection was
/// made is recorded in `tally.lost`.
fn request(ports: [u16; 2], first: usize, head: &str, body: &str, tally: &Tally) -> Outcome {
    for k in 0..2 {
        let port = ports[(first + k) % 2];
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let Ok(mut conn) = TcpStream::connect_timeout(&addr, Duration::from_secs(10)) else {
            tally.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let what = format!("{} on {port}", head.lines().next().unwrap_or(head));
        let _ = conn.set_read_timeout(Some(WAIT));
        let sent = format!(
            "{head}\r\nHost: lodestar\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if let Err(e) = conn.write_all(sent.as_bytes()) {
            tally
                .lost
                .lock()
                .unwrap()
                .push(format!("{what}: sending: {e}"));
            return Outcome::NotSent;
        }
        let mut reply = Vec::new();
        if let Err(e) = conn.read_to_end(&mut reply) {
            tally
                .lost
                .lock()
                .unwrap()
                .push(format!("{what}: reading after {} bytes: {e}", reply.len()));
            return Outcome::NotSent;
        }
        return match complete(&reply) {
            Ok((status, body)) => {
                tally.answered.fetch_add(1, Ordering::Relaxed);
                Outcome::Answered(status, body)
            }
            Err(why) => {
                tally.lost.lock().unwrap().push(format!("{what}: {why}"));
                Outcome::NotSent
            }
        };
    }
    Outcome::NotSent
}

/// The status and body of a whole HTTP/1.1 answer (its `Content-Length` all there).
fn complete(reply: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(reply);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Err(format!("no whole head in {} bytes: {text:?}", reply.len()));
    };
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("no status line: {head:?}"))?;
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .ok_or_else(|| format!("no Content-Length: {head:?}"))?;
    if body.len() != length {
        return Err(format!("{} of {length} body bytes", body.len()));
    }
    Ok((status, body.to_owned()))
}

/// A cron expression firing once, at `at` (UTC).
fn once_at(at: chrono::DateTime<Utc>) -> String {
    use chrono::Datelike;
    format!(
        "{} {} {} {} {} *",
        at.second(),
        at.minute(),
        at.hour(),
        at.day(),
        at.month()
    )
}

#[test]
fn a_rolling_restart_of_two_replicas_loses_no_request_and_no_digest() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tdb = rt.block_on(TestDb::new(&backend));
    let (team_id, token) = rt.block_on(async {
        let team = teams::create(&tdb.db, "acme", "Acme", &Timezone::default())
            .await
            .unwrap();
        let token = tokens::create(&tdb.db, team.id, Role::Editor)
            .await
            .unwrap();
        (team.id, token)
    });
    let smtp = rt.block_on(SmtpServer::start()).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log_of = |i: usize| logs.path().join(format!("replica-{i}.log"));
    let ports = [free_port(), free_port()];
    let mut replicas = [
        Some(start(&tdb.url, &smtp.url(), ports[0], &log_of(0))),
        Some(start(&tdb.url, &smtp.url(), ports[1], &log_of(1))),
    ];

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let auth = format!("Authorization: Bearer {token}");
    let mut loops = Vec::new();
    // Two loops reading the KPI catalog.
    for l in 0..2 {
        let (tally, stop, auth) = (Arc::clone(&tally), Arc::clone(&stop), auth.clone());
        loops.push(std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let head = format!("GET /api/v1/kpis HTTP/1.1\r\n{auth}");
                if let Outcome::Answered(status, body) = request(ports, l + i, &head, "", &tally)
                    && status != 200
                {
                    tally
                        .lost
                        .lock()
                        .unwrap()
                        .push(format!("kpis: {status} {body}"));
                }
                i += 1;
            }
            Vec::new()
        }));
    }
    // Two loops loading leads, five a batch, each with an id of its own.
    for l in 0..2 {
        let (tally, stop, auth) = (Arc::clone(&tally), Arc::clone(&stop), auth.clone());
        loops.push(std::thread::spawn(move || {
            let mut stored = Vec::new();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let ids: Vec<String> = (0..5).map(|k| format!("L{l}-{i}-{k}")).collect();
                let batch: Vec<serde_json::Value> = ids
                    .iter()
                    .map(|id| {
                        serde_json::json!({"id": id, "created_at": "2026-11-03T10:00:00Z",
                                           "channel": "email"})
                    })
                    .collect();
                let head = format!(
                    "POST /api/v1/leads HTTP/1.1\r\n{auth}\r\nContent-Type: application/json"
                );
                let body = serde_json::Value::from(batch).to_string();
                match request(ports, l + i, &head, &body, &tally) {
                    Outcome::Answered(200, _) => stored.extend(ids),
                    Outcome::Answered(status, body) => {
                        tally
                            .lost
                            .lock()
                            .unwrap()
                            .push(format!("leads: {status} {body}"));
                    }
                    Outcome::NotSent => {}
                }
                i += 1;
            }
            stored
        }));
    }
    // One loop creating, about every second, a schedule due three seconds later: digests fall
    // due all through the restarts.
    let schedules = {
        let (tally, stop, auth) = (Arc::clone(&tally), Arc::clone(&stop), auth.clone());
        std::thread::spawn(move || {
            let mut recipients = Vec::new();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let due = Utc::now() + chrono::TimeDelta::seconds(3);
                let to = [format!("s{i}-a@example.com"), format!("s{i}-b@example.com")];
                let body = serde_json::json!({"report": "weekly", "cron": once_at(due),
                    "timezone": "UTC", "recipients": to})
                .to_string();
                let head = format!(
                    "POST /api/v1/schedules HTTP/1.1\r\n{auth}\r\nContent-Type: application/json"
                );
                match request(ports, i, &head, &body, &tally) {
                    Outcome::Answered(201, _) => recipients.extend(to),
                    Outcome::Answered(status, body) => {
                        tally
                            .lost
                            .lock()
                            .unwrap()
                            .push(format!("schedule: {status} {body}"));
                    }
                    Outcome::NotSent => {}
                }
                i += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            recipients
        })
    };

    let settle = || std::thread::sleep(Duration::from_secs(3));
    settle();
    for (i, slot) in replicas.iter_mut().enumerate() {
        let before = tally.answered.load(Ordering::Relaxed);
        let mut replica = slot.take().unwrap();
        sigterm(&replica.child);
        let status = exit_within(
            &mut replica.child,
            EXIT_BOUND,
            &format!("replica {i} still running {EXIT_BOUND:?} after SIGTERM"),
        );
        let log = std::fs::read_to_string(log_of(i)).unwrap_or_default();
        assert!(status.success(), "replica {i}: {status}\n{log}");
        *slot = Some(start(&tdb.url, &smtp.url(), replica.port, &log_of(i)));
        settle();
        assert!(
            tally.answered.load(Ordering::Relaxed) > before,
            "the load went on during the restart of replica {i}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let mut loaded: Vec<String> = Vec::new();
    for l in loops {
        loaded.extend(l.join().unwrap());
    }
    let mut recipients = schedules.join().unwrap();

    let logs_text = || {
        (0..2)
            .map(|i| std::fs::read_to_string(log_of(i)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let lost = tally.lost.lock().unwrap().clone();
    assert!(
        lost.is_empty(),
        "{} of {} requests sent got no whole answer or a wrong one: {lost:#?}\n{}",
        lost.len(),
        tally.answered.load(Ordering::Relaxed) + lost.len(),
        logs_text()
    );
    eprintln!(
        "rolling restart: {} requests answered, {} connections refused, {} leads, {} digests",
        tally.answered.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
        loaded.len(),
        recipients.len()
    );

    // Every lead answered 200 is stored, once.
    let mut stored: Vec<String> = rt.block_on(async {
        let sql = format!("SELECT ext_id FROM leads WHERE team_id = {team_id}");
        tdb.db
            .conn()
            .query_all_raw(sea_orm::Statement::from_string(tdb.db.backend(), sql))
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect()
    });
    stored.sort_unstable();
    loaded.sort_unstable();
    assert_eq!(stored.len(), loaded.len(), "leads stored vs answered");
    assert_eq!(stored, loaded);

    // Every digest due reaches each recipient once: wait for them all, then for a lease's length
    // more, in which a second sender would show.
    assert!(!recipients.is_empty());
    rt.block_on(smtp.wait_for(recipients.len(), WAIT))
        .unwrap_or_else(|e| panic!("{e}\n{}", logs_text()));
    std::thread::sleep(Duration::from_secs(4));
    let mut got: Vec<String> = smtp.messages().iter().map(|m| m.to[0].clone()).collect();
    got.sort_unstable();
    recipients.sort_unstable();
    assert_eq!(got, recipients, "one digest per recipient\n{}", logs_text());
    drop(replicas);
}
