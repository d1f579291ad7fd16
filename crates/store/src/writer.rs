//! Where an [`crate::ingest::Loader`] writes: a sea-orm transaction on either backend, or, for
//! bulk loads, a [`SqliteTx`] that takes inserts bound ahead on another thread (SQLite) or a
//! [`PgTx`] that takes rows through `COPY` (PostgreSQL).

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

use crate::error::{Result, StoreError};
use crate::pg_tx::{CopyRows, PgTx};
use crate::sqlite_tx::{Bound, Retained, SqliteTx};

/// A bulk-load transaction (see `Db::begin_bulk`). Dropped uncommitted, it rolls back.
pub enum BulkTx {
    Orm(DatabaseTransaction),
    Sqlite(SqliteTx),
    Postgres(PgTx),
}

impl BulkTx {
    pub fn writer(&self) -> Writer<'_> {
        match self {
            BulkTx::Orm(tx) => Writer::Orm(tx),
            BulkTx::Sqlite(tx) => Writer::Sqlite(tx),
            BulkTx::Postgres(tx) => Writer::Postgres(tx),
        }
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            BulkTx::Orm(tx) => tx.commit().await?,
            BulkTx::Sqlite(tx) => tx.commit().await?,
            BulkTx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self {
            BulkTx::Orm(tx) => tx.rollback().await?,
            BulkTx::Sqlite(tx) => tx.rollback().await?,
            BulkTx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// An open write transaction, by reference.
#[derive(Clone, Copy)]
pub enum Writer<'t> {
    Orm(&'t DatabaseTransaction),
    Sqlite(&'t SqliteTx),
    Postgres(&'t PgTx),
}

impl<'t> From<&'t DatabaseTransaction> for Writer<'t> {
    fn from(tx: &'t DatabaseTransaction) -> Writer<'t> {
        Writer::Orm(tx)
    }
}

/// The form a writer takes its inserts in, for preparing them ahead (`ingest::prepare`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertForm {
    /// A sea-orm statement for this backend.
    Statement(DbBackend),
    /// SQLite arguments bound ahead.
    Bound,
    /// Rows in PostgreSQL's `COPY` text format.
    Copy,
}

impl InsertForm {
    pub(crate) fn backend(self) -> DbBackend {
        match self {
            InsertForm::Statement(backend) => backend,
            InsertForm::Bound => DbBackend::Sqlite,
            InsertForm::Copy => DbBackend::Postgres,
        }
    }

    pub(crate) fn insert(self, statement: Statement) -> Insert {
        match (self, statement.values) {
            (InsertForm::Bound, Some(values)) => {
                Insert::Bound(Bound::new(statement.sql.into(), values))
            }
            (_, values) => Insert::Statement(Statement {
                values,
                ..statement
            }),
        }
    }
}

/// An insert prepared in a writer's [`InsertForm`].
pub(crate) enum Insert {
    Statement(Statement),
    Bound(Bound),
    Copy(CopyRows),
}

impl Insert {
    pub(crate) fn form(&self) -> InsertForm {
        match self {
            Insert::Statement(statement) => InsertForm::Statement(statement.db_backend),
            Insert::Bound(_) => InsertForm::Bound,
            Insert::Copy(_) => InsertForm::Copy,
        }
    }

    /// For a bound insert, a hold on its values (see [`Retained`]).
    pub(crate) fn retain(&self) -> Option<Retained> {
        match self {
            Insert::Bound(bound) => Some(bound.retain()),
            Insert::Statement(_) | Insert::Copy(_) => None,
        }
    }
}

impl Writer<'_> {
    pub fn form(&self) -> InsertForm {
        match self {
            Writer::Orm(tx) => InsertForm::Statement(tx.get_database_backend()),
            Writer::Sqlite(_) => InsertForm::Bound,
            Writer::Postgres(_) => InsertForm::Copy,
        }
    }

    /// Whether this writer can run an insert prepared in `form`.
    pub(crate) fn takes(&self, form: InsertForm) -> bool {
        form == self.form() || form == InsertForm::Statement(self.get_database_backend())
    }

    /// Runs an insert; `new_keys` says none of its keys is stored yet (see `PgTx::copy_rows`).
    pub(crate) async fn insert(&self, insert: Insert, new_keys: bool) -> Result<()> {
        match (self, insert) {
            (Writer::Sqlite(tx), Insert::Bound(bound)) => {
                tx.execute_bound(bound).await?;
            }
            (Writer::Postgres(tx), Insert::Copy(rows)) => tx.copy_rows(rows, new_keys).await?,
            (_, Insert::Statement(statement)) => {
                self.execute_raw(statement).await?;
            }
            (_, Insert::Bound(_) | Insert::Copy(_)) => {
                return Err(StoreError::Invalid(
                    "an insert prepared for another writer reached this one".to_owned(),
                ));
            }
        };
        Ok(())
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Writer<'_> {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Writer::Orm(tx) => tx.get_database_backend(),
            Writer::Sqlite(tx) => tx.get_database_backend(),
            Writer::Postgres(tx) => tx.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Writer::Orm(tx) => tx.execute_raw(stmt).await,
            Writer::Sqlite(tx) => tx.execute_raw(stmt).await,
            Writer::Postgres(tx) => tx.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Writer::Orm(tx) => tx.execute_unprepared(sql).await,
            Writer::Sqlite(tx) => tx.execute_unprepared(sql).await,
            Writer::Postgres(tx) => tx.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Writer::Orm(tx) => tx.query_one_raw(stmt).await,
            Writer::Sqlite(tx) => tx.query_one_raw(stmt).await,
            Writer::Postgres(tx) => tx.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Writer::Orm(tx) => tx.query_all_raw(stmt).await,
            Writer::Sqlite(tx) => tx.query_all_raw(stmt).await,
            Writer::Postgres(tx) => tx.query_all_raw(stmt).await,
        }
    }
}
