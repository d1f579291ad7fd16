//! A PostgreSQL write transaction for bulk loads, on a connection of the pool sea-orm uses, so
//! that chunks of rows go in through `COPY … FROM STDIN` (sqlx's `copy_in_raw`) rather than as
//! 17,000-parameter inserts. Every other statement goes through sea-orm's [`ConnectionTrait`],
//! implemented here over the same connection, so the store's queries (rollups, lookups) run in
//! it unchanged, in the same transaction: a failed or abandoned load stores nothing.

use std::collections::BTreeSet;

use futures_util::lock::Mutex;
use sea_orm::sqlx::postgres::{PgPool, Postgres};
use sea_orm::sqlx::{self, AssertSqlSafe, Transaction};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr, Statement, Values,
};
use sea_query_sqlx::SqlxValues;

/// `BEGIN … COMMIT` on one pooled connection; dropped uncommitted, it rolls back (and so does
/// the server when the process dies: nothing of an unfinished load is ever visible).
///
/// Rows copied straight into a table are held back and sent as one `COPY` of many chunks: sqlx
/// does not set `TCP_NODELAY`, so every `COPY` ends with a short write (`CopyDone`) behind the
/// short tail of its data, which Nagle's algorithm holds until the server's delayed ACK, some
/// 40 ms. The held rows are sent before any statement that names their table, and before commit.
pub struct PgTx {
    conn: Mutex<Transaction<'static, Postgres>>,
    /// Tables whose staging table this transaction has created.
    staged: Mutex<BTreeSet<&'static str>>,
    held: Mutex<Option<Held>>,
}

/// Rows for one table, not yet sent.
struct Held {
    table: &'static str,
    columns: &'static [&'static str],
    text: String,
}

/// Held rows are sent once they reach this size.
const HOLD_BYTES: usize = 32 << 20;

/// One chunk of rows in `COPY`'s text format, with where it goes.
pub struct CopyRows {
    pub(crate) table: &'static str,
    pub(crate) columns: &'static [&'static str],
    pub(crate) key: &'static [&'static str],
    pub(crate) text: String,
}

impl PgTx {
    pub async fn begin(pool: &PgPool) -> Result<PgTx, DbErr> {
        let mut tx = pool.begin().await.map_err(conn_err)?;
        // See `Db::begin_write`: the tables grow inside this transaction.
        sqlx::raw_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            .execute(&mut *tx)
            .await
            .map_err(exec_err)?;
        Ok(PgTx {
            conn: Mutex::new(tx),
            staged: Mutex::new(BTreeSet::new()),
            held: Mutex::new(None),
        })
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.send_held(None).await?;
        self.conn.into_inner().commit().await.map_err(exec_err)
    }

    /// Sends the held rows: all of them (`sql` `None`), or those of a table `sql` names.
    async fn send_held(&self, sql: Option<&str>) -> Result<(), DbErr> {
        let mut held = self.held.lock().await;
        let due = match (held.as_ref(), sql) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(h), Some(sql)) => names(sql, h.table),
        };
        if !due {
            return Ok(());
        }
        if let Some(h) = held.take() {
            let statement = format!("COPY {} ({}) FROM STDIN", h.table, h.columns.join(", "));
            self.copy_in(&statement, h.text).await?;
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.conn.into_inner().rollback().await.map_err(exec_err)
    }

    /// Writes a chunk of rows with distinct keys. `new_keys`: none of them is stored yet (the
    /// loader knows it of a table it filled from empty), so they are copied straight into the
    /// table; otherwise they are copied into a staging table and merged, `INSERT … SELECT … ON
    /// CONFLICT DO UPDATE`, the upsert the ordinary insert does.
    pub async fn copy_rows(&self, rows: CopyRows, new_keys: bool) -> Result<(), DbErr> {
        let columns = rows.columns.join(", ");
        if new_keys {
            let mut held = self.held.lock().await;
            let full = match held.as_mut() {
                Some(h) if h.table == rows.table => {
                    h.text.push_str(&rows.text);
                    h.text.len() >= HOLD_BYTES
                }
                _ => {
                    drop(held);
                    self.send_held(None).await?;
                    held = self.held.lock().await;
                    *held = Some(Held {
                        table: rows.table,
                        columns: rows.columns,
                        text: rows.text,
                    });
                    false
                }
            };
            drop(held);
            if full {
                self.send_held(None).await?;
            }
            return Ok(());
        }
        self.send_held(None).await?;
        let stage = format!("lodestar_stage_{}", rows.table);
        if self.staged.lock().await.insert(rows.table) {
            let mut conn = self.conn.lock().await;
            sqlx::raw_sql(AssertSqlSafe(format!(
                "CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {columns} FROM {} WITH NO DATA",
                rows.table
            )))
            .execute(&mut **conn)
            .await
            .map_err(exec_err)?;
        }
        self.copy_in(&format!("COPY {stage} ({columns}) FROM STDIN"), rows.text)
            .await?;
        let updates: Vec<String> = rows
            .columns
            .iter()
            .filter(|c| !rows.key.contains(c))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let merge = format!(
            "INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} \
             ON CONFLICT ({key}) DO UPDATE SET {updates}; TRUNCATE {stage}",
            table = rows.table,
            key = rows.key.join(", "),
            updates = updates.join(", "),
        );
        let mut conn = self.conn.lock().await;
        sqlx::raw_sql(AssertSqlSafe(merge))
            .execute(&mut **conn)
            .await
            .map_err(exec_err)?;
        Ok(())
    }

    async fn copy_in(&self, statement: &str, text: String) -> Result<(), DbErr> {
        let mut conn = self.conn.lock().await;
        let mut copy = conn.copy_in_raw(statement).await.map_err(exec_err)?;
        if let Err(e) = copy.send(text.into_bytes()).await {
            let _ = copy.abort("the load failed").await;
            return Err(exec_err(e));
        }
        copy.finish().await.map_err(exec_err)?;
        Ok(())
    }
}

/// Whether `sql` names `table` (as a whole word).
fn names(sql: &str, table: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    sql.match_indices(table).any(|(at, _)| {
        !word(sql[..at].chars().next_back()) && !word(sql[at + table.len()..].chars().next())
    })
}

/// Appends one value in `COPY`'s text format: `\N` for NULL, text with its backslashes, tabs
/// and line breaks escaped. `false` for a kind of value the loader never writes.
pub(crate) fn push_copy_value(out: &mut String, value: &sea_orm::Value) -> bool {
    use sea_orm::Value;
    use std::fmt::Write;
    match value {
        Value::Int(Some(v)) => {
            let _ = write!(out, "{v}");
        }
        Value::BigInt(Some(v)) => {
            let _ = write!(out, "{v}");
        }
        Value::String(Some(s)) => {
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
        Value::Int(None) | Value::BigInt(None) | Value::String(None) => out.push_str("\\N"),
        _ => return false,
    }
    true
}

fn conn_err(e: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(e.into()))
}

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(e.into()))
}

fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(e.into()))
}

fn query(stmt: Statement) -> sqlx::query::Query<'static, Postgres, SqlxValues> {
    let values = stmt.values.unwrap_or(Values(Vec::new()));
    sqlx::query_with(AssertSqlSafe(stmt.sql), SqlxValues(values))
}

#[async_trait::async_trait]
impl ConnectionTrait for PgTx {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.send_held(Some(&stmt.sql)).await?;
        let mut conn = self.conn.lock().await;
        query(stmt)
            .execute(&mut **conn)
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.send_held(Some(sql)).await?;
        let mut conn = self.conn.lock().await;
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut **conn)
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.send_held(Some(&stmt.sql)).await?;
        let mut conn = self.conn.lock().await;
        query(stmt)
            .fetch_optional(&mut **conn)
            .await
            .map(|row| row.map(Into::into))
            .map_err(query_err)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.send_held(Some(&stmt.sql)).await?;
        let mut conn = self.conn.lock().await;
        query(stmt)
            .fetch_all(&mut **conn)
            .await
            .map(|rows| rows.into_iter().map(Into::into).collect())
            .map_err(query_err)
    }
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn a_statement_names_a_table_as_a_whole_word() {
        assert!(names(
            "SELECT ext_id FROM leads WHERE team_id = $1",
            "leads"
        ));
        assert!(names("INSERT INTO leads(x)", "leads"));
        assert!(!names(
            "INSERT INTO lead_days (team_id) VALUES ($1)",
            "leads"
        ));
        assert!(!names("SELECT * FROM event_days", "events"));
        assert!(!names("SELECT * FROM my_leads_view", "leads"));
    }
}
