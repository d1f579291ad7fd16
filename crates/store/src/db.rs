//! Connecting, migrating, and the few settings each backend needs to behave under load.

use std::path::PathBuf;
use std::time::Duration;

use lodestar_migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::error::{Result, StoreError};
use crate::pg_tx::PgTx;
use crate::sqlite_tx::SqliteTx;
use crate::writer::BulkTx;

/// A handle on the team database (cheap to clone: a pool inside).
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    /// The SQLite file, whose neighbour `<file>.migrate-lock` serialises migrations.
    sqlite_path: Option<PathBuf>,
}

/// The PostgreSQL advisory lock that serialises migrations across replicas ("LODE" "STAR").
const MIGRATION_LOCK: i64 = 0x4c4f_4445_5354_4152;

impl Db {
    /// Connect to `sqlite://path?mode=rwc` or `postgres://…`. SQLite runs in WAL mode with a busy
    /// timeout so readers never block the writer and writers queue instead of failing.
    pub async fn connect(url: &str) -> Result<Db> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false);
        if url.starts_with("sqlite:") {
            create_parent_dir(url);
            check_sqlite_file(url)?;
            opts.max_connections(8)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .map_sqlx_sqlite_opts(|o| {
                    o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                        .busy_timeout(Duration::from_secs(30))
                        .foreign_keys(true)
                        // 16 MiB of page cache per connection: the OS caches the file anyway, and
                        // eight 64 MiB caches took the process past 800 MB under queries.
                        .pragma("cache_size", "-16384")
                        .pragma("temp_store", "memory")
                });
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            probe_postgres(url).await?;
            opts.max_connections(16)
                .connect_timeout(POSTGRES_CONNECT_TIMEOUT)
                .acquire_timeout(Duration::from_secs(30));
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        }
        let conn = Database::connect(opts).await?;
        Ok(Db {
            conn,
            sqlite_path: sqlite_path(url),
        })
    }

    /// The SQLite file, when the database is one.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.sqlite_path.as_deref()
    }

    /// A consistent copy of an SQLite database into the new file `to` (SQLite's `VACUUM INTO`:
    /// one read transaction, so servers may keep writing meanwhile).
    pub async fn sqlite_backup_into(&self, to: &std::path::Path) -> Result<()> {
        let Some(to) = to.to_str() else {
            return Err(StoreError::Invalid(format!(
                "the backup path {} is not UTF-8",
                to.display()
            )));
        };
        self.conn
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "VACUUM INTO ?",
                [to.into()],
            ))
            .await?;
        Ok(())
    }

    /// Applies the migrations and rebuilds stale rollups. Replicas starting together take turns:
    /// on PostgreSQL behind an advisory lock held by an open transaction, on SQLite behind an
    /// exclusive lock on a file beside the database; the later ones find nothing left to do.
    pub async fn migrate(&self) -> Result<()> {
        if self.backend() == DbBackend::Postgres {
            let lock = self.conn.begin().await?;
            lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                .await?;
            self.migrate_now().await?;
            lock.commit().await?;
            return Ok(());
        }
        let _lock = match &self.sqlite_path {
            Some(path) => Some(lock_file(path.with_extension("migrate-lock")).await?),
            None => None,
        };
        self.migrate_now().await
    }

    async fn migrate_now(&self) -> Result<()> {
        Migrator::up(&self.conn, None).await?;
        crate::rollup::rebuild_stale(self).await?;
        Ok(())
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// A write transaction. On SQLite it is `BEGIN IMMEDIATE`: a deferred transaction that later
    /// upgrades to a write fails with SQLITE_BUSY at once, ignoring the busy timeout.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction> {
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend() == DbBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let tx = self.conn.begin_with_options(options).await?;
        if self.backend() == DbBackend::Postgres {
            // A load grows its tables inside one transaction. PostgreSQL would otherwise keep the
            // generic plan of a prepared lookup chosen while the table was empty (a sequential
            // scan), and every later chunk would read all the rows loaded so far.
            tx.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
                .await?;
        }
        Ok(tx)
    }

    /// A write transaction for bulk loads (`lodestar import`). On PostgreSQL it is a [`PgTx`],
    /// which takes rows through `COPY`. On SQLite it is a [`SqliteTx`],
    /// which takes inserts whose arguments were bound ahead on another thread.
    pub async fn begin_bulk(&self) -> Result<BulkTx> {
        Ok(match self.backend() {
            DbBackend::Sqlite => {
                BulkTx::Sqlite(SqliteTx::begin(self.conn.get_sqlite_connection_pool()).await?)
            }
            DbBackend::Postgres => {
                BulkTx::Postgres(PgTx::begin(self.conn.get_postgres_connection_pool()).await?)
            }
            _ => BulkTx::Orm(self.begin_write().await?),
        })
    }

    /// `SELECT 1`, for health checks.
    pub async fn ping(&self) -> Result<()> {
        self.conn.execute_unprepared("SELECT 1").await?;
        Ok(())
    }
}

/// The file of an SQLite URL; `None` in memory.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite:")?
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Waits for an exclusive lock on `path` (created if missing); dropping the file releases it.
async fn lock_file(path: PathBuf) -> Result<std::fs::File> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| StoreError::Invalid(format!("waiting for the migration lock: {e}")))?
    .map_err(|e| StoreError::Invalid(format!("the migration lock file: {e}")))
}

/// How long reaching PostgreSQL may take before start-up gives up.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite's own "unable to open database file" names neither the file nor the fix.
fn check_sqlite_file(url: &str) -> Result<()> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
        && !parent.is_dir()
    {
        return Err(StoreError::Unavailable(format!(
            "the folder {} of the SQLite database does not exist and cannot be created: \
             create it, or point database.url (LODESTAR_DATABASE__URL) elsewhere",
            parent.display()
        )));
    }
    let creates = url
        .split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|p| p == "mode=rwc"));
    if !path.exists() && !creates {
        return Err(StoreError::Unavailable(format!(
            "the SQLite database {} does not exist: add `?mode=rwc` to database.url \
             (LODESTAR_DATABASE__URL) to create it, e.g. sqlite://{}?mode=rwc",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Host and port of a `postgres://user:pass@host:port/db` URL (5432 when none is given).
fn postgres_host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    if rest.contains("host=") {
        return None; // a socket folder or several hosts: leave those to the driver
    }
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || host_port.starts_with('[') => (h, p.parse().ok()?),
        _ => (host_port, 5432),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "localhost" } else { host };
    Some((host.to_owned(), port))
}

/// One TCP connection within [`POSTGRES_CONNECT_TIMEOUT`], so an unreachable server is reported
/// once with its address and cause instead of the pool retrying until its own timeout.
async fn probe_postgres(url: &str) -> Result<()> {
    let Some((host, port)) = postgres_host_port(url) else {
        return Ok(());
    };
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    let cause = match tokio::time::timeout(POSTGRES_CONNECT_TIMEOUT, connect).await {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", POSTGRES_CONNECT_TIMEOUT.as_secs()),
    };
    Err(StoreError::Unavailable(format!(
        "cannot reach PostgreSQL at {host}:{port}: {cause} (is it running, and does \
         database.url / LODESTAR_DATABASE__URL name the right host and port?)"
    )))
}

fn create_parent_dir(url: &str) {
    let Some(path) = sqlite_path(url) else {
        return;
    };
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        // A failure here surfaces as a clearer connection error right after.
        let _ = std::fs::create_dir_all(parent);
    }
}

/// The URL without its password, for error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// A migrated SQLite database in a fresh folder, for unit tests (the folder goes with the
/// returned guard).
#[cfg(test)]
pub(crate) async fn test_db() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
    let db = Db::connect(&url).await.expect("sqlite opens");
    db.migrate().await.expect("migrations run");
    (db, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_appears_in_a_redacted_url() {
        assert_eq!(
            redact("postgres://lodestar:secret@localhost/db"),
            "postgres://lodestar:***@localhost/db"
        );
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
