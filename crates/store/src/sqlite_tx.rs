//! A SQLite write transaction for bulk loads, on a connection of the pool sea-orm uses.
//!
//! sea-orm's own transaction clones every bound value of a statement and converts it into SQLite
//! arguments on the task that awaits the statement, while SQLite's worker thread waits: a
//! 1,000-row lead insert binds 17,000 values. During `lodestar import` that hand-over was a third
//! of the wall time. [`SqliteTx`] also runs statements whose arguments were bound ahead, on
//! another thread ([`Bound`]). Every other statement goes through sea-orm's [`ConnectionTrait`],
//! implemented here over the same connection, so the store's queries run in it unchanged.

use std::sync::Arc;

use futures_util::lock::Mutex;
use sea_orm::sqlx::sqlite::{Sqlite, SqliteArguments, SqlitePool};
use sea_orm::sqlx::{self, AssertSqlSafe, IntoArguments, Transaction};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr, Statement, Values,
};
use sea_query_sqlx::SqlxValues;

/// `BEGIN IMMEDIATE … COMMIT` on one pooled connection; dropped uncommitted, it rolls back.
pub struct SqliteTx {
    conn: Mutex<Transaction<'static, Sqlite>>,
}

/// A statement whose values are already SQLite arguments (see [`Bound::new`]).
pub struct Bound {
    sql: Arc<str>,
    args: SqliteArguments,
}

/// A second reference to a bound statement's text values ([`Bound::retain`]). SQLite's worker
/// thread drops the arguments it ran; while this lives, that only lowers reference counts, and
/// the values are freed wherever this is dropped (glibc frees fastest on the allocating thread,
/// which a cross-thread free also contends with for the arena's lock).
pub struct Retained {
    _args: SqliteArguments,
}

impl Bound {
    /// Converts the statement's values, on whichever thread calls this. The text is
    /// reference-counted, so handing it to sqlx copies nothing.
    pub fn new(sql: Arc<str>, values: Values) -> Bound {
        Bound {
            sql,
            args: IntoArguments::<Sqlite>::into_arguments(SqlxValues(values)),
        }
    }

    pub fn retain(&self) -> Retained {
        Retained {
            _args: self.args.clone(),
        }
    }
}

impl SqliteTx {
    /// A write transaction (`BEGIN IMMEDIATE`: see `Db::begin_write`).
    pub async fn begin(pool: &SqlitePool) -> Result<SqliteTx, DbErr> {
        let tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e.into())))?;
        Ok(SqliteTx {
            conn: Mutex::new(tx),
        })
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.conn.into_inner().commit().await.map_err(exec_err)
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.conn.into_inner().rollback().await.map_err(exec_err)
    }

    /// Runs a statement bound ahead; this task only hands it to the connection.
    pub async fn execute_bound(&self, bound: Bound) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn.lock().await;
        sqlx::query_with(AssertSqlSafe(bound.sql), bound.args)
            .execute(&mut **conn)
            .await
            .map(Into::into)
            .map_err(exec_err)
    }
}

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(e.into()))
}

fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(e.into()))
}

fn query(stmt: Statement) -> sqlx::query::Query<'static, Sqlite, SqlxValues> {
    let values = stmt.values.unwrap_or(Values(Vec::new()));
    sqlx::query_with(AssertSqlSafe(stmt.sql), SqlxValues(values))
}

#[async_trait::async_trait]
impl ConnectionTrait for SqliteTx {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn.lock().await;
        query(stmt)
            .execute(&mut **conn)
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn.lock().await;
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut **conn)
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut conn = self.conn.lock().await;
        query(stmt)
            .fetch_optional(&mut **conn)
            .await
            .map(|row| row.map(Into::into))
            .map_err(query_err)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut conn = self.conn.lock().await;
        query(stmt)
            .fetch_all(&mut **conn)
            .await
            .map(|rows| rows.into_iter().map(Into::into).collect())
            .map_err(query_err)
    }
}
