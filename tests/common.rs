//! The test harness: a running app, its database, and HTTP helpers.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use awc::http::StatusCode;
use lodestar_core::period::Timezone;
use lodestar_store::tokens::Role;
use lodestar_store::{Db, teams, tokens};
use lodestar_web::{AppState, WebSettings};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

/// Declares a test that runs once per backend: `mod name { fn sqlite(); fn postgres(); }`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[actix_web::test]
            async fn postgres() {
                if let Some(b) = $crate::common::Backend::postgres() {
                    super::$name(b).await
                }
            }
        }
    )*};
}

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL server to test against. In CI it must be there: a silent skip would hide
    /// half of the storage tests.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("LODESTAR_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ if std::env::var_os("CI").is_some() => {
                panic!(
                    "LODESTAR_TEST_POSTGRES_URL must be set in CI: the PostgreSQL half may not skip"
                )
            }
            _ => {
                eprintln!("skipped: LODESTAR_TEST_POSTGRES_URL is not set");
                None
            }
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The package's folder, read when the test runs: `env!` would bake in the folder of whichever
/// checkout compiled the binary, and a shared target directory can hand a binary built in one
/// checkout to another.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
}

pub fn shared_fixture(name: &str) -> PathBuf {
    manifest_dir().join("../shared/fixtures/small").join(name)
}

pub fn read_fixture(name: &str) -> Value {
    let path = shared_fixture(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every built-in KPI's expected value for a period without segments: expected.json and
/// expected-added.json (the KPIs added later) together.
pub fn expected_kpis(period: &str) -> serde_json::Map<String, Value> {
    let mut all = serde_json::Map::new();
    for file in ["expected.json", "expected-added.json"] {
        let case = read_fixture(file)["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["period"] == period && c["segment_by"].is_null())
            .unwrap_or_else(|| panic!("{file} has no case {period}"))
            .clone();
        all.extend(case["kpis"].as_object().unwrap().clone());
    }
    all
}

/// A fresh, empty database for one test.
pub struct TestDb {
    pub url: String,
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: &Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
                let db = Db::connect(&url).await.unwrap();
                db.migrate().await.unwrap();
                TestDb {
                    url,
                    db,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres(admin_url) => {
                let name = format!(
                    "lodestar_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    rand_suffix()
                );
                let admin = Database::connect(admin_url.as_str()).await.unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap();
                admin.close().await.ok();
                let url = replace_db_name(admin_url, &name);
                let db = Db::connect(&url).await.unwrap();
                db.migrate().await.unwrap();
                TestDb {
                    url,
                    db,
                    _dir: None,
                }
            }
        }
    }
}

fn rand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    nanos % 100_000
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The real app listening on 127.0.0.1:0.
pub struct TestApp {
    pub base: String,
    pub tdb: TestDb,
    pub client: awc::Client,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, WebSettings::default()).await
    }

    pub async fn spawn_with(backend: Backend, settings: WebSettings) -> TestApp {
        let tdb = TestDb::new(&backend).await;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = AppState::new(tdb.db.clone(), settings);
        let server = lodestar_web::server(state, listener, 1).unwrap();
        actix_web::rt::spawn(server);
        let client = awc::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .finish();
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            tdb,
            client,
        }
    }

    pub fn db(&self) -> &Db {
        &self.tdb.db
    }

    /// Creates a team and returns (team id, token of the given role).
    pub async fn team(&self, slug: &str, timezone: &str, role: Role) -> (i32, String) {
        let tz = Timezone::parse(timezone).unwrap();
        let team = teams::create(self.db(), slug, slug, &tz).await.unwrap();
        let token = tokens::create(self.db(), team.id, role).await.unwrap();
        (team.id, token)
    }

    pub async fn token(&self, team_id: i32, role: Role) -> String {
        tokens::create(self.db(), team_id, role).await.unwrap()
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let mut resp = req.send().await.unwrap();
        let body = resp.body().limit(64 << 20).await.unwrap();
        (resp.status(), parse_body(&body))
    }

    pub async fn post_json(
        &self,
        token: Option<&str>,
        path: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        self.post_raw(
            token,
            path,
            "application/json",
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn post_raw(
        &self,
        token: Option<&str>,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .insert_header(("Content-Type", content_type));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let mut resp = req.send_body(body).await.unwrap();
        let body = resp.body().limit(64 << 20).await.unwrap();
        (resp.status(), parse_body(&body))
    }

    /// Loads the shared small fixture through the loading API.
    pub async fn load_fixture(&self, token: &str) {
        for table in ["leads", "spend", "events"] {
            let rows = read_fixture(&format!("{table}.json"));
            let (status, body) = self
                .post_json(Some(token), &format!("/api/v1/{table}"), &rows)
                .await;
            assert_eq!(status, StatusCode::OK, "loading {table}: {body}");
        }
    }

    pub async fn counts(&self, team_id: i32) -> Vec<(String, u64)> {
        lodestar_store::loaded::table_counts(self.db(), team_id)
            .await
            .unwrap()
            .to_vec()
    }
}

fn parse_body(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Equal within the spec's tolerance: relative 1e-9, or absolute 1e-6 near zero.
pub fn close(actual: f64, expected: f64) -> bool {
    let diff = (actual - expected).abs();
    diff <= 1e-6 || diff <= 1e-9 * expected.abs().max(actual.abs())
}
