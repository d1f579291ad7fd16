//! What an operator meets first: `--help`, configuration mistakes, database URLs that cannot
//! work, quiet one-shot commands, `team list`, and `serve`/`demo --bind`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::backend_tests;
use crate::common::{Backend, TestDb};

mod rolling_restart;

fn lodestar(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lodestar"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running lodestar")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails unless the command failed with `code` and its stderr is one line containing `says`.
fn fails_saying(out: &Output, code: i32, says: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(says), "expected `{says}` in: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
}

/// The subcommands a `-h` text lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.split("Commands:")
        .nth(1)
        .map(|rest| {
            rest.lines()
                .skip(1)
                .take_while(|l| l.starts_with("  "))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|name| *name != "help")
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_command_and_argument_has_help_and_every_command_an_example() {
    let mut queue: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("-h");
        let out = lodestar(&args, &[]);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let children = subcommands(&help);
        if children.is_empty() {
            let example = help.lines().find(|l| l.starts_with("Example: "));
            assert!(
                example.is_some_and(|l| l.contains("lodestar ")),
                "{args:?} has no example:\n{help}"
            );
        }
        for section in ["Arguments:", "Options:"] {
            let Some(rest) = help.split(section).nth(1) else {
                continue;
            };
            for line in rest.lines().skip(1).take_while(|l| l.starts_with("  ")) {
                let spec = line.trim_start();
                // `  --name <NAME>  Description`: the description follows two spaces.
                let described = spec
                    .split_once("  ")
                    .is_some_and(|(_, text)| !text.trim().is_empty());
                assert!(described, "{args:?}: `{spec}` has no description:\n{help}");
            }
        }
        for child in children {
            let mut next = path.clone();
            next.push(child);
            queue.push(next);
        }
        seen += 1;
    }
    assert!(seen >= 15, "walked only {seen} commands");

    // Allowed values are listed.
    for args in [
        &["team", "create", "--help"][..],
        &["token", "create", "--help"][..],
    ] {
        let help = String::from_utf8_lossy(&lodestar(args, &[]).stdout).into_owned();
        for role in ["admin", "editor", "viewer"] {
            assert!(
                help.contains(role),
                "{args:?} does not list {role}:\n{help}"
            );
        }
    }
    let help = String::from_utf8_lossy(&lodestar(&["serve", "--help"], &[]).stdout).into_owned();
    for arg in ["--bind <ADDR>", "--wait-for-db", "--config <FILE>"] {
        assert!(help.contains(arg), "serve lacks {arg}:\n{help}");
    }
    let help = String::from_utf8_lossy(&lodestar(&["--help"], &[]).stdout).into_owned();
    assert!(help.contains("Exit codes"), "{help}");
}

#[test]
fn misspelt_sections_keys_and_variables_are_errors_naming_the_closest_setting() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    let config = file.to_str().unwrap();

    std::fs::write(&file, "[schedular]\nconcurrency = 4\n").unwrap();
    fails_saying(
        &lodestar(&["--config", config, "migrate"], &[]),
        2,
        "unknown section [schedular]: did you mean [scheduler]?",
    );
    // LODESTAR_CONFIG is the same as --config.
    fails_saying(
        &lodestar(&["migrate"], &[("LODESTAR_CONFIG", config)]),
        2,
        "[schedular]",
    );
    std::fs::write(&file, "[server]\nbnd = \"127.0.0.1:9\"\n").unwrap();
    fails_saying(
        &lodestar(&["--config", config, "migrate"], &[]),
        2,
        "unknown key server.bnd: did you mean server.bind?",
    );
    fails_saying(
        &lodestar(&["migrate"], &[("LODESTAR_SERVR__BIND", "127.0.0.1:9")]),
        2,
        "LODESTAR_SERVR__BIND names no setting: did you mean LODESTAR_SERVER__BIND?",
    );
    fails_saying(
        &lodestar(&["migrate"], &[("LODESTAR_LOG__FILTER", "verbose")]),
        2,
        "`verbose` is not a level",
    );
    fails_saying(
        &lodestar(&["migrate"], &[("LODESTAR_MAIL__FROM", "Lodestar")]),
        2,
        "mail.from (LODESTAR_MAIL__FROM) `Lodestar` is not an e-mail address",
    );
    fails_saying(
        &lodestar(
            &["migrate"],
            &[("LODESTAR_SERVER__PUBLIC_URL", "example.com")],
        ),
        2,
        "server.public_url",
    );
    fails_saying(
        &lodestar(&["migrate"], &[("LODESTAR_LOG__FORMAT", "xml")]),
        2,
        "log.format",
    );
}

#[test]
fn database_urls_that_cannot_work_say_what_to_do_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let url = format!("sqlite://{}", db.display());
    let out = lodestar(&["migrate"], &[("LODESTAR_DATABASE__URL", &url)]);
    fails_saying(&out, 1, "add `?mode=rwc`");
    assert!(!stderr(&out).contains("unable to open"), "{}", stderr(&out));

    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let url = format!("sqlite://{}/sub/x.db?mode=rwc", blocker.display());
    fails_saying(
        &lodestar(&["migrate"], &[("LODESTAR_DATABASE__URL", &url)]),
        1,
        "does not exist and cannot be created",
    );
}

#[test]
fn an_unreachable_postgres_fails_within_5_seconds_naming_host_port_and_cause() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://lodestar:secret@127.0.0.1:{port}/lodestar");
    let started = Instant::now();
    let out = lodestar(&["team", "list"], &[("LODESTAR_DATABASE__URL", &url)]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    fails_saying(
        &out,
        1,
        &format!("cannot reach PostgreSQL at 127.0.0.1:{port}: Connection refused"),
    );
    assert!(!stderr(&out).contains("secret"), "{}", stderr(&out));
}

backend_tests!(one_shot_commands_are_quiet_and_team_list_shows_a_table_or_json,);

async fn one_shot_commands_are_quiet_and_team_list_shows_a_table_or_json(b: Backend) {
    let (url, _dir) = TestDb::unmigrated(&b).await;
    let env = [
        ("LODESTAR_DATABASE__URL", url.as_str()),
        ("LODESTAR_LOG__FILTER", "info"),
    ];
    // The first command migrates a new database: still nothing on stderr.
    let out = lodestar(&["team", "create", "acme", "--currency", "EUR"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "a CLI command logged");
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["team"], "acme");
    let out = lodestar(
        &["team", "create", "bistro", "--timezone", "Europe/Paris"],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = lodestar(&["team", "list"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("SLUG"), "{table}");
    assert!(
        lines[1].starts_with("acme ") && lines[1].contains("EUR"),
        "{table}"
    );
    assert!(lines[2].contains("Europe/Paris"), "{table}");

    let out = lodestar(&["team", "list", "--json"], &env);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["teams"][1],
        serde_json::json!({"slug": "bistro", "name": "bistro", "timezone": "Europe/Paris", "currency": "USD"})
    );

    // A role outside the allowed values is refused by the parser, listing them.
    let out = lodestar(&["token", "create", "acme", "--role", "owner"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("admin, editor, viewer"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn demo_prints_the_address_it_really_listens_on() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/demo.db?mode=rwc", dir.path().display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(["demo", "--bind", "127.0.0.1:0"])
        .env("LODESTAR_DATABASE__URL", &url)
        .env("LODESTAR_SERVER__PUBLIC_URL", "http://reports.example.com")
        .env("LODESTAR_LOG__FILTER", "warn")
        .env("LODESTAR_MAIL__OUTBOX_DIR", dir.path().join("outbox"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let report = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("report:"));
    let _ = child.kill();
    let _ = child.wait();
    let report = report.expect("demo printed its report URL");
    assert!(report.contains("http://127.0.0.1:"), "{report}");
    assert!(!report.contains("127.0.0.1:0/"), "{report}");
    assert!(!report.contains("example.com"), "{report}");
}

/// Every response names its request; a JSON error carries the same id, and a proxy's own id
/// (nginx's `$request_id`) is kept when it is a plain token.
#[actix_web::test]
async fn every_response_has_a_request_id_that_errors_carry() {
    let app = crate::common::TestApp::spawn(Backend::Sqlite).await;
    let client = awc::Client::default();
    let base = format!("http://{}", app.address());

    let mut res = client
        .get(format!("{base}/api/v1/no-such-thing"))
        .send()
        .await
        .unwrap();
    let id = res
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 16, "{id}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["request_id"], id.as_str(), "{body}");
    assert_eq!(body["error"], "not_found", "{body}");

    let res = client
        .get(format!("{base}/api/v1/kpis"))
        .insert_header(("X-Request-Id", "edge-42"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("x-request-id").unwrap(), "edge-42");
    let res = client
        .get(format!("{base}/login"))
        .insert_header(("X-Request-Id", "bad id\twith spaces"))
        .send()
        .await
        .unwrap();
    let id = res.headers().get("x-request-id").unwrap().to_str().unwrap();
    assert_eq!(
        id.len(),
        16,
        "a made-up id replaces one that is not a plain token: {id}"
    );
}

/// The checks of the Prometheus text format (0.0.4) a scraper applies: every sample belongs to a
/// family declared once by `# TYPE` before it, names and labels are well formed, values parse.
fn check_prometheus_text(text: &str) -> Result<usize, String> {
    fn name_ok(n: &str) -> bool {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut types: std::collections::HashMap<String, String> = Default::default();
    let mut samples = 0;
    for (i, line) in text.lines().enumerate() {
        let at = |m: &str| format!("line {}: {m}: {line}", i + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), _) if name_ok(name) => {}
                (Some("TYPE"), Some(name), Some(kind)) if name_ok(name) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(at("unknown type"));
                    }
                    if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                        return Err(at("family declared twice"));
                    }
                }
                _ => return Err(at("bad comment")),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or_else(|| at("no value"))?;
        let ok_value = matches!(value, "+Inf" | "-Inf" | "NaN") || value.parse::<f64>().is_ok();
        if !ok_value {
            return Err(at("bad value"));
        }
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (
                name,
                Some(
                    rest.strip_suffix('}')
                        .ok_or_else(|| at("unclosed labels"))?,
                ),
            ),
            None => (series, None),
        };
        if !name_ok(name) {
            return Err(at("bad metric name"));
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        if !types.contains_key(family) {
            return Err(at("sample before its # TYPE"));
        }
        if let Some(mut labels) = labels {
            while !labels.is_empty() {
                let (label, rest) = labels.split_once("=\"").ok_or_else(|| at("bad label"))?;
                if !name_ok(label) {
                    return Err(at("bad label name"));
                }
                // The value runs to the first quote not escaped.
                let mut end = None;
                let mut escaped = false;
                for (j, c) in rest.char_indices() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => {
                            end = Some(j);
                            break;
                        }
                        '\n' => return Err(at("newline in label")),
                        _ => escaped = false,
                    }
                }
                let end = end.ok_or_else(|| at("unterminated label value"))?;
                labels = rest[end + 1..]
                    .strip_prefix(',')
                    .unwrap_or(&rest[end + 1..]);
            }
        }
        samples += 1;
    }
    Ok(samples)
}

#[test]
fn the_format_checker_refuses_what_a_scraper_refuses() {
    assert!(check_prometheus_text("# TYPE a counter\na 1\n").is_ok());
    assert!(check_prometheus_text("a 1\n").is_err(), "no TYPE");
    assert!(check_prometheus_text("# TYPE a counter\na{x=\"1} 1\n").is_err());
    assert!(check_prometheus_text("# TYPE a counter\na one\n").is_err());
    assert!(check_prometheus_text("# TYPE a counter\n# TYPE a counter\n").is_err());
}

#[actix_web::test]
async fn metrics_pass_a_prometheus_text_format_check_and_include_build_info() {
    let (app, _team) = crate::common::TestApp::with_fixture(Backend::Sqlite).await;
    let fixture_rows: usize = ["leads", "spend", "events"]
        .iter()
        .map(|t| {
            crate::common::read_fixture(&format!("{t}.json"))
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    let client = awc::Client::default();
    let base = format!("http://{}", app.address());
    // Some traffic, so the request families have samples.
    for path in ["/api/v1/kpis", "/healthz", "/nothing"] {
        client.get(format!("{base}{path}")).send().await.unwrap();
    }
    let mut res = client.get(format!("{base}/metrics")).send().await.unwrap();
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    let samples = check_prometheus_text(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(samples > 10, "{text}");
    for family in [
        "lodestar_build_info{version=",
        "lodestar_script_runs_total ",
        "lodestar_script_budget_exhausted_total ",
        "process_start_time_seconds ",
        "lodestar_http_requests_total{",
        "lodestar_deliveries_sent_total ",
        "lodestar_deliveries_retried_total ",
        "lodestar_delivery_takeovers_total ",
        "lodestar_alert_evaluations_total ",
        "lodestar_deliveries_pending 0\n",
        "lodestar_deliveries_oldest_pending_seconds 0\n",
    ] {
        assert!(text.contains(family), "no {family}:\n{text}");
    }
    // The fixture's rows, loaded through the API.
    assert!(
        text.contains(&format!("lodestar_rows_loaded_total {fixture_rows}\n")),
        "{fixture_rows} rows loaded:\n{text}"
    );
}

/// Every table's row count, by table name.
async fn row_counts(url: &str) -> std::collections::BTreeMap<String, i64> {
    use sea_orm::ConnectionTrait;
    let db = lodestar_store::Db::connect(url).await.unwrap();
    let backend = db.backend();
    let sql = match backend {
        sea_orm::DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        _ => "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    };
    let tables = db
        .conn()
        .query_all_raw(sea_orm::Statement::from_string(backend, sql))
        .await
        .unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for row in tables {
        let table: String = row.try_get_by_index(0).unwrap();
        let count = db
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                format!("SELECT COUNT(*) FROM \"{table}\""),
            ))
            .await
            .unwrap()
            .unwrap();
        counts.insert(table, count.try_get_by_index::<i64>(0).unwrap());
    }
    counts
}

backend_tests!(a_backup_taken_while_serving_restores_every_table,);

/// `backup` while the server runs, `restore` into another database: every table holds the same
/// number of rows. Restore refuses to overwrite a database without `--force`.
async fn a_backup_taken_while_serving_restores_every_table(b: Backend) {
    let (app, _team) = crate::common::TestApp::with_fixture(b.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lodestar.backup");
    let file = file.to_str().unwrap();
    let out = lodestar(
        &["backup", file],
        &[("LODESTAR_DATABASE__URL", &app.database_url)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // A second backup into the same file is refused: backups are never overwritten.
    let out = lodestar(
        &["backup", file],
        &[("LODESTAR_DATABASE__URL", &app.database_url)],
    );
    fails_saying(&out, 1, "already exists");

    let (target, _keep) = TestDb::unmigrated(&b).await;
    // The target made and migrated first: restore must refuse it without --force.
    let out = lodestar(&["migrate"], &[("LODESTAR_DATABASE__URL", &target)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lodestar(&["restore", file], &[("LODESTAR_DATABASE__URL", &target)]);
    fails_saying(&out, 1, "--force");
    let out = lodestar(
        &["restore", file, "--force"],
        &[("LODESTAR_DATABASE__URL", &target)],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let before = row_counts(&app.database_url).await;
    let after = row_counts(&target).await;
    assert!(before.len() > 10, "{before:?}");
    assert!(before.get("leads").is_some_and(|n| *n > 0), "{before:?}");
    assert_eq!(before, after);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `--wait-for-db` keeps trying a database that is not up yet, then gives up with the same
/// one-line cause; without it `serve` fails at once.
#[test]
fn serve_waits_for_the_database_only_when_asked() {
    let port = free_port();
    let url = format!("postgres://lodestar@127.0.0.1:{port}/lodestar");
    let env = [
        ("LODESTAR_DATABASE__URL", url.as_str()),
        ("LODESTAR_LOG__FORMAT", "json"),
    ];
    let started = Instant::now();
    let out = lodestar(&["serve", "--bind", "127.0.0.1:0"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(5));

    let started = Instant::now();
    let out = lodestar(
        &["serve", "--bind", "127.0.0.1:0", "--wait-for-db", "4"],
        &env,
    );
    let waited = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    let err = stderr(&out);
    let retries = err.matches("database not reachable yet").count();
    assert!(retries >= 2, "{err}");
    // Every log line is JSON; the final error is the one plain line.
    let (logs, last) = err.trim_end().rsplit_once('\n').unwrap();
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|_| panic!("{line}"));
    }
    assert!(
        last.contains(&format!("cannot reach PostgreSQL at 127.0.0.1:{port}")),
        "{last}"
    );
}

/// `GET /healthz` on `port` answers 200.
fn answers_health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    if conn
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = conn.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200")
}

/// Sends SIGTERM to `child`.
fn sigterm(child: &std::process::Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// Waits for `child` to exit; past `bound`, kills it and fails with `what`.
fn exit_within(
    child: &mut std::process::Child,
    bound: Duration,
    what: &str,
) -> std::process::ExitStatus {
    let stopping = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if stopping.elapsed() > bound {
            let _ = child.kill();
            panic!("{what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM: the server stops accepting, stops its scheduler and exits 0 well within its bound.
#[test]
fn serve_exits_0_soon_after_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/s.db?mode=rwc", dir.path().display());
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("LODESTAR_DATABASE__URL", &url)
        .env("LODESTAR_MAIL__OUTBOX_DIR", dir.path().join("outbox"))
        .env("LODESTAR_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Up means answering HTTP: the port accepts connections as soon as it is bound, before the
    // server runs and handles signals.
    let up = Instant::now();
    while !answers_health(port) {
        assert!(
            up.elapsed() < Duration::from_secs(20),
            "serve did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    sigterm(&child);
    let status = exit_within(
        &mut child,
        Duration::from_secs(10),
        "serve still running 10 s after SIGTERM",
    );
    let out = child.wait_with_output().unwrap();
    assert!(status.success(), "{status}: {}", stderr(&out));
}

/// SIGTERM while a long request runs: the request still gets its whole answer, then `serve`
/// exits 0.
#[test]
fn sigterm_lets_a_running_request_finish() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/l.db?mode=rwc", dir.path().display());
    let out = lodestar(
        &["team", "create", "acme"],
        &[("LODESTAR_DATABASE__URL", &url)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("LODESTAR_DATABASE__URL", &url)
        .env("LODESTAR_MAIL__OUTBOX_DIR", dir.path().join("outbox"))
        .env("LODESTAR_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let up = Instant::now();
    while !answers_health(port) {
        assert!(
            up.elapsed() < Duration::from_secs(20),
            "serve did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // An import of 300,000 leads: seconds of work.
    const LEADS: usize = 300_000;
    let mut body = String::from("id,created_at,channel\n");
    for i in 0..LEADS {
        body.push_str(&format!("L{i},2026-11-0{}T10:00:00Z,email\n", 1 + i % 9));
    }
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        conn,
        "POST /api/v1/imports?table=leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: text/csv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Nothing has come back yet: the request is still running when the signal arrives.
    conn.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let pending = conn.peek(&mut byte);
    assert!(
        matches!(&pending, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the reply came before SIGTERM: {pending:?}"
    );
    conn.set_nonblocking(false).unwrap();
    sigterm(&child);
    let mut reply = String::new();
    conn.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        reply.contains(&format!("\"inserted\":{LEADS}")),
        "the whole answer: {reply}"
    );
    let status = exit_within(
        &mut child,
        Duration::from_secs(10),
        "serve still running 10 s after the request finished",
    );
    let out = child.wait_with_output().unwrap();
    assert!(status.success(), "{status}: {}", stderr(&out));
    // What it answered is stored (team 1: the only team of the fresh database).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stored = rt.block_on(async {
        let db = lodestar_store::Db::connect(&url).await.unwrap();
        lodestar_store::loaded::table_counts(&db, 1).await.unwrap()
    });
    assert_eq!(stored[0], ("leads".to_owned(), LEADS as u64));
}

/// SIGTERM while `serve` is still starting (here: waiting for a PostgreSQL that is not there)
/// stops it at once with status 0, not the default action's 143.
#[test]
fn serve_stopped_while_starting_exits_0() {
    let port = free_port(); // nothing listens there
    let mut child = Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(["serve", "--wait-for-db", "60"])
        .env(
            "LODESTAR_DATABASE__URL",
            format!("postgres://lodestar@127.0.0.1:{port}/lodestar"),
        )
        .env("LODESTAR_LOG__FILTER", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It is starting once it has said it is waiting for the database.
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let started = Instant::now();
    while !seen.contains("database not reachable yet") {
        assert!(started.elapsed() < Duration::from_secs(20), "{seen}");
        std::io::BufRead::read_line(&mut err, &mut seen).unwrap();
    }
    sigterm(&child);
    let status = exit_within(
        &mut child,
        Duration::from_secs(5),
        "serve still starting 5 s after SIGTERM",
    );
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    assert_eq!(status.code(), Some(0), "{seen}{rest}");
    assert!(rest.contains("stopped before serving"), "{seen}{rest}");
}

/// Run from a folder with no `scripts/` in it, `serve` still finds the shipped packs (beside the
/// executable, else the source tree it was built from): the catalog lists their KPIs.
#[actix_web::test]
async fn the_shipped_packs_load_whatever_the_working_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/p.db?mode=rwc", cwd.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(["team", "create", "acme"])
        .current_dir(cwd.path())
        .env("LODESTAR_DATABASE__URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = token["token"].as_str().unwrap().to_owned();

    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .current_dir(cwd.path())
        .env("LODESTAR_DATABASE__URL", &url)
        .env("LODESTAR_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            up.elapsed() < Duration::from_secs(20),
            "serve did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut res = awc::Client::default()
        .get(format!("http://127.0.0.1:{port}/api/v1/catalog"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let body = res.body().limit(8 << 20).await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("gross_roi"), "{text}");
}
