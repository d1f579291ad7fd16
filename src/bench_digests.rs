//! `lodestar bench-digests`: many schedules of many small teams due in the same minute, every
//! digest made and delivered over SMTP to a local sink; how long from the due instant until the
//! last message is accepted, and whether any was lost or sent twice (BENCHMARKS.md).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use lodestar_core::period::{PeriodKey, PeriodKind, Timezone};
use lodestar_core::rows::{EventRow, InputRow, LeadRow, SpendRow};
use lodestar_mail::MailSettings;
use lodestar_scheduler::SchedulerConfig;
use lodestar_store::deliveries::{self, Status};
use lodestar_store::schedules::{self, ScheduleFields};
use lodestar_store::{ingest, teams};
use lodestar_web::{AppSettings, Application, DigestSettings, ScriptSettings};
use serde_json::json;

use crate::settings::Settings;

#[derive(clap::Args, Debug)]
pub struct BenchDigestsArgs {
    /// Teams, each with one schedule.
    #[arg(long, default_value_t = 1000)]
    pub teams: usize,
    /// Recipients per schedule.
    #[arg(long, default_value_t = 1)]
    pub recipients: usize,
    /// Digests made and sent at once (the `[scheduler] concurrency` setting).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Database to fill (default: a fresh SQLite file in a temporary folder). Give an empty one.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Give up after this many seconds past the due instant.
    #[arg(long, default_value_t = 180)]
    pub timeout_secs: u64,
}

/// What the SMTP sink accepted: each message's Message-ID.
#[derive(Default)]
struct Sink {
    ids: Mutex<Vec<String>>,
    last: Mutex<Option<Instant>>,
}

impl Sink {
    fn accepted(&self) -> usize {
        self.ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A minimal SMTP server on 127.0.0.1, a thread per connection: it accepts everything and keeps
/// only the Message-ID, so the sink costs next to nothing beside what is measured.
fn start_sink() -> anyhow::Result<(String, Arc<Sink>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("smtp://{}", listener.local_addr()?);
    let sink = Arc::new(Sink::default());
    let shared = Arc::clone(&sink);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let sink = Arc::clone(&shared);
            std::thread::spawn(move || {
                let _ = session(stream, &sink);
            });
        }
    });
    Ok((url, sink))
}

fn session(stream: TcpStream, sink: &Sink) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 sink ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => out.write_all(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?,
            "DATA" => {
                out.write_all(b"354 go ahead\r\n")?;
                let mut id = None;
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    if id.is_none() && line.to_ascii_lowercase().starts_with("message-id:") {
                        id = Some(line[11..].trim().to_owned());
                    }
                }
                sink.ids
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(id.unwrap_or_default());
                *sink.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                out.write_all(b"250 queued\r\n")?;
            }
            "QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"250 ok\r\n")?,
        }
    }
}

/// A small team's week: a couple of dozen leads, spend and events in the period the digest shows.
fn rows_for(
    team: usize,
    week: &PeriodKey,
) -> anyhow::Result<(Vec<LeadRow>, Vec<SpendRow>, Vec<EventRow>)> {
    let first = week.first_day();
    let channels = ["email", "paid_search", "social", "organic"];
    let day = |i: usize| first + chrono::Days::new((i % 7) as u64);
    let mut leads = Vec::new();
    for i in 0..24 {
        let created = format!("{}T{:02}:15:00Z", day(i), 8 + i % 10);
        let mut lead = json!({"id": format!("L{team}-{i}"), "created_at": created,
                              "channel": channels[i % 4], "value": 100 + i * 7, "attrs": {}});
        if i % 3 == 0 {
            lead["mql_at"] = json!(format!("{}T20:00:00Z", day(i)));
        }
        if i % 8 == 0 {
            lead["won_at"] = json!(format!("{}T21:00:00Z", day(i + 1)));
            lead["deal_value"] = json!(900 + i);
        }
        leads.push(LeadRow::from_json(&lead).map_err(|e| anyhow::anyhow!("{e:?}"))?);
    }
    let mut spend = Vec::new();
    for i in 0..7 {
        let row = json!({"day": day(i).to_string(), "channel": channels[i % 4],
                         "category": "advertising", "amount": 120.5 + i as f64,
                         "impressions": 9000 + i * 10, "clicks": 300 + i});
        spend.push(SpendRow::from_json(&row).map_err(|e| anyhow::anyhow!("{e:?}"))?);
    }
    let mut events = Vec::new();
    for i in 0..30 {
        let row = json!({"id": format!("E{team}-{i}"), "kind": "visit",
                         "occurred_at": format!("{}T{:02}:30:00Z", day(i), 9 + i % 8),
                         "channel": channels[i % 4]});
        events.push(EventRow::from_json(&row).map_err(|e| anyhow::anyhow!("{e:?}"))?);
    }
    Ok((leads, spend, events))
}

/// The start of the first whole minute at least `lead` from now.
fn next_minute(lead: TimeDelta) -> DateTime<Utc> {
    let t = Utc::now() + lead + TimeDelta::minutes(1);
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

pub async fn run(args: BenchDigestsArgs, settings: &Settings) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("lodestar-bench-digests-{}", std::process::id()));
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.display()));
    let (smtp_url, sink) = start_sink()?;
    let mut digests = DigestSettings::new(
        MailSettings {
            smtp_url: Some(smtp_url),
            from: settings.mail.from.clone(),
            outbox_dir: settings.mail.outbox_dir.clone(),
        },
        SchedulerConfig {
            concurrency: args.concurrency,
            resync_interval: Duration::from_secs(5),
            ..crate::serve::scheduler_config(settings)
        },
    );
    digests.smtp_pool_max_size = 8;
    digests.smtp_timeout = Duration::from_secs(settings.smtp.timeout_secs);
    // Started below, once every team and schedule is in.
    digests.start = false;
    // The application as the server builds it, minus packs; it is never run.
    let app = Application::build(AppSettings {
        database_url: url.clone(),
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        workers: 1,
        public_url: Some(settings.server.public_url.clone()),
        max_body_bytes: settings.server.max_body_bytes,
        scripts: ScriptSettings::default(),
        clock: lodestar_core::clock::system_clock(),
        digests: Some(digests),
        limits: Default::default(),
    })
    .await?;
    let db = &app.state().db;
    let scheduler = app
        .state()
        .scheduler
        .as_ref()
        .context("the application was built with digests")?;
    let setup = Instant::now();
    // Due at the next whole minute, leaving time to create everything first.
    let due = next_minute(TimeDelta::seconds(20 + (args.teams / 50) as i64));
    let week = PeriodKey::last_complete(PeriodKind::Week, due, Timezone::default().0);
    let cron = format!("0 {} {} * * *", due.minute(), due.hour());
    let mut expected = HashSet::new();
    for t in 0..args.teams {
        let slug = format!("bench-digest-{t}");
        let team = teams::create(db, &slug, &slug, &Timezone::default())
            .await
            .with_context(|| format!("creating team {slug} (give an empty database)"))?;
        let (leads, spend, events) = rows_for(t, &week)?;
        ingest::upsert_batch(db, team.id, &leads).await?;
        ingest::upsert_batch(db, team.id, &spend).await?;
        ingest::upsert_batch(db, team.id, &events).await?;
        let recipients: Vec<String> = (0..args.recipients)
            .map(|r| format!("reader{r}@team{t}.example"))
            .collect();
        let fields = ScheduleFields {
            report: "weekly".into(),
            cron: cron.clone(),
            timezone: "UTC".into(),
            recipients: recipients.clone(),
            channels: "[]".to_owned(),
            skip_empty: false,
            paused: false,
        };
        let schedule = schedules::create(db, team.id, &fields, None, Utc::now()).await?;
        for r in &recipients {
            expected.insert((schedule.id, r.clone()));
        }
    }
    let want = expected.len();
    eprintln!(
        "{} teams and schedules ({want} digests) created in {:.1} s; due at {due} (cron `{cron}`), week {week}",
        args.teams,
        setup.elapsed().as_secs_f64()
    );
    if Utc::now() >= due {
        bail!("set-up took past the due minute; use fewer --teams");
    }

    scheduler.start().await?;

    let wait = (due - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    let due_instant = Instant::now();
    let deadline = due_instant + Duration::from_secs(args.timeout_secs);
    while sink.accepted() < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Anything sent twice would arrive now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    scheduler.shutdown().await;

    let ids = sink
        .ids
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let distinct: HashSet<&String> = ids.iter().collect();
    let last = sink
        .last
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .map(|t| t.saturating_duration_since(due_instant));
    let statuses = deliveries::count_by_status(db).await?;
    let sent = statuses
        .iter()
        .find(|(s, _)| *s == Status::Sent)
        .map_or(0, |(_, n)| *n);
    let seconds = last.map_or(f64::NAN, |d| d.as_secs_f64());
    println!(
        "{}",
        json!({
            "teams": args.teams,
            "digests_expected": want,
            "messages_accepted": ids.len(),
            "distinct_message_ids": distinct.len(),
            "deliveries_sent": sent,
            "deliveries_by_status": statuses.iter().map(|(s, n)| (s.as_str(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
            "seconds_from_due_to_last": (seconds * 100.0).round() / 100.0,
            "concurrency": args.concurrency,
            "database": lodestar_store::db::redact(&url).split('?').next().unwrap_or_default(),
            "week": week.to_string(),
            "weekday_of_due": due.weekday().to_string(),
        })
    );
    if args.database_url.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if ids.len() != want || distinct.len() != want || sent != want as i64 {
        bail!(
            "expected {want} digests once each: {} messages, {} distinct, {sent} recorded sent",
            ids.len(),
            distinct.len()
        );
    }
    Ok(())
}
