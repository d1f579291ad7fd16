//! The test harness: a running app, its database, the small fixture, one HTTP helper, and a
//! browser by hand (cookies, no redirects) for the pages, in `common/browser.rs`.

mod browser;
pub mod cdp;

pub use browser::{Browser, Page, attr_after};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use awc::http::{Method, StatusCode};
use lodestar_core::period::Timezone;
use lodestar_scheduler::Scheduler;
use lodestar_store::tokens::Role;
use lodestar_store::{Db, teams, tokens};
use lodestar_web::{AppSettings, AppState, Application, RateLimits, ScriptSettings};
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

/// What a weekly report of a team in US dollars shows for built-in KPI `key` at `value` (the
/// formatting rules themselves are unit-tested in `lodestar_report::format`).
pub fn shown(key: &str, value: Option<f64>) -> String {
    let unit = lodestar_core::catalog::Builtin::from_key(key)
        .unwrap_or_else(|| panic!("no built-in {key}"))
        .unit();
    lodestar_report::format::Style {
        currency: lodestar_core::currency::Currency::USD,
        period: lodestar_core::period::PeriodKind::Week,
    }
    .value(key, unit, value)
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

/// A fresh, empty database for one test, connected and migrated.
pub struct TestDb {
    pub url: String,
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// The URL of a database nobody has connected to or migrated yet, and what keeps it (an
    /// SQLite file's folder).
    pub async fn unmigrated(backend: &Backend) -> (String, Option<tempfile::TempDir>) {
        let fresh = FreshDatabase::create(backend).await;
        (fresh.url, fresh.dir)
    }

    pub async fn new(backend: &Backend) -> TestDb {
        let fresh = FreshDatabase::create(backend).await;
        let db = Db::connect(&fresh.url).await.unwrap();
        db.migrate().await.unwrap();
        TestDb {
            url: fresh.url,
            db,
            _dir: fresh.dir,
        }
    }
}

/// A database nobody has connected to yet: an SQLite file in a folder of its own, or a new
/// PostgreSQL database.
struct FreshDatabase {
    url: String,
    /// Holds the SQLite file; removed when dropped.
    dir: Option<tempfile::TempDir>,
}

impl FreshDatabase {
    async fn create(backend: &Backend) -> FreshDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                FreshDatabase {
                    url: format!("sqlite://{}/test.db?mode=rwc", dir.path().display()),
                    dir: Some(dir),
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
                sweep_leftovers(&admin).await;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap();
                admin.close().await.ok();
                FreshDatabase {
                    url: replace_db_name(admin_url, &name),
                    dir: None,
                }
            }
        }
    }
}

/// Test databases are not dropped when their test ends (the app may still hold connections);
/// the first test of a run drops those of test processes that are gone, so a developer's server
/// does not fill up run after run.
async fn sweep_leftovers(admin: &sea_orm::DatabaseConnection) {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let Ok(rows) = admin
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname LIKE 'lodestar_test_%'",
        ))
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get_by_index::<String>(0) else {
            continue;
        };
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        let gone = pid.is_some_and(|p| {
            p != std::process::id() && !std::path::Path::new(&format!("/proc/{p}")).exists()
        });
        if gone {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
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

/// The settings of a test app on `database_url`: port 0, one worker, no packs, no digests.
/// The public URL is the app's own address.
pub fn app_settings(database_url: &str) -> AppSettings {
    AppSettings {
        database_url: database_url.to_owned(),
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        workers: 1,
        public_url: None,
        max_body_bytes: 32 * 1024 * 1024,
        scripts: ScriptSettings::default(),
        clock: lodestar_core::clock::system_clock(),
        digests: None,
        limits: RateLimits::default(),
    }
}

/// The small fixture's team (../shared/fixtures/small/team.json) with all its rows loaded.
pub struct FixtureTeam {
    pub id: i32,
    /// An editor's token.
    pub token: String,
}

/// The real app (`Application::build`) serving on 127.0.0.1:0 with a fresh database.
pub struct TestApp {
    pub base: String,
    pub client: awc::Client,
    /// The database the app was built on, for a second app or process on the same one.
    pub database_url: String,
    state: AppState,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns the app with the test settings as `configure` changes them.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut AppSettings)) -> TestApp {
        let fresh = FreshDatabase::create(&backend).await;
        let mut settings = app_settings(&fresh.url);
        configure(&mut settings);
        let app = Application::build(settings).await.unwrap();
        let base = format!("http://{}", app.address());
        let state = app.state().clone();
        actix_web::rt::spawn(app.run_until_stopped());
        let client = awc::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .finish();
        TestApp {
            base,
            client,
            database_url: fresh.url,
            state,
            _dir: fresh.dir,
        }
    }

    /// Another replica: a second app on this app's database, as `lodestar serve` on another
    /// machine would be.
    pub async fn replica(&self) -> TestApp {
        let app = Application::build(app_settings(&self.database_url))
            .await
            .unwrap();
        let base = format!("http://{}", app.address());
        let state = app.state().clone();
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            base,
            client: self.client.clone(),
            database_url: self.database_url.clone(),
            state,
            _dir: None,
        }
    }

    /// A fresh app with the small fixture loaded.
    pub async fn with_fixture(backend: Backend) -> (TestApp, FixtureTeam) {
        Self::with_fixture_and(backend, |_| {}).await
    }

    pub async fn with_fixture_and(
        backend: Backend,
        configure: impl FnOnce(&mut AppSettings),
    ) -> (TestApp, FixtureTeam) {
        let app = Self::spawn_with(backend, configure).await;
        let team = app.fixture_team().await;
        (app, team)
    }

    /// Creates the fixture's team and loads its rows through the loading API.
    pub async fn fixture_team(&self) -> FixtureTeam {
        let team = read_fixture("team.json");
        let field = |name: &str| team[name].as_str().unwrap().to_owned();
        let tz = Timezone::parse(&field("timezone")).unwrap();
        let created = teams::create(self.db(), &field("slug"), &field("name"), &tz)
            .await
            .unwrap();
        let token = self.token(created.id, Role::Editor).await;
        self.load_fixture(&token).await;
        FixtureTeam {
            id: created.id,
            token,
        }
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// The app's KPI engine (its script engine counts runs).
    pub fn kpis(&self) -> &lodestar_report::KpiEngine {
        &self.state.kpis
    }

    /// The address the app listens on, for raw TCP.
    pub fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The app's scheduler; the app must have been built with digests.
    pub fn scheduler(&self) -> &Arc<Scheduler> {
        self.state
            .scheduler
            .as_ref()
            .expect("the app was built with digests")
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

    /// One request with the token as bearer and `body` as JSON: the status and the reply, as
    /// JSON when it parses, else as a string (`null` when empty).
    pub async fn send(
        &self,
        method: &str,
        token: Option<&str>,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let body = body.map(|b| ("application/json", serde_json::to_vec(b).unwrap()));
        self.request(method, token, path, body).await
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        self.send("GET", token, path, None).await
    }

    pub async fn post_json(
        &self,
        token: Option<&str>,
        path: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        self.send("POST", token, path, Some(body)).await
    }

    pub async fn put_json(
        &self,
        token: Option<&str>,
        path: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        self.send("PUT", token, path, Some(body)).await
    }

    pub async fn delete(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        self.send("DELETE", token, path, None).await
    }

    pub async fn post_raw(
        &self,
        token: Option<&str>,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        self.request("POST", token, path, Some((content_type, body)))
            .await
    }

    async fn request(
        &self,
        method: &str,
        token: Option<&str>,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.base),
        );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let mut resp = match body {
            Some((content_type, bytes)) => req
                .insert_header(("Content-Type", content_type))
                .send_body(bytes)
                .await
                .unwrap(),
            None => req.send().await.unwrap(),
        };
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
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Equal within the spec's tolerance: relative 1e-9, or absolute 1e-6 near zero.
/// A KPI pack `constants` in `packs` with one script KPI, `pack_constant`, that is 41 until its
/// `constant.rhai` is rewritten; returns the pack's folder.
pub fn constant_pack(packs: &std::path::Path) -> PathBuf {
    let pack = packs.join("constants");
    std::fs::create_dir_all(&pack).unwrap();
    std::fs::write(
        pack.join("plugin.toml"),
        "[pack]\nname = \"constants\"\nversion = \"1.0.0\"\n\n[[kpi]]\nkey = \"pack_constant\"\n\
         name = \"Pack constant\"\nunit = \"count\"\ndirection = \"higher_is_better\"\n\
         kind = \"leading\"\ncategory = \"Lead volume & quality\"\nscript = \"constant.rhai\"\n",
    )
    .unwrap();
    std::fs::write(pack.join("constant.rhai"), "41\n").unwrap();
    pack
}

pub fn close(actual: f64, expected: f64) -> bool {
    let diff = (actual - expected).abs();
    diff <= 1e-6 || diff <= 1e-9 * expected.abs().max(actual.abs())
}
