//! A chunk's work that needs no database (keys, rollup facts, its `INSERT … ON CONFLICT`
//! statement), done on any thread ahead of the loader.

use lodestar_core::rows::InputRow;
use sea_orm::Statement;

use super::StoredRow;
use super::bloom::Written;
use crate::pg_tx::{CopyRows, push_copy_value};
use crate::rollup::Facts;
use crate::sql::Sql;
use crate::sqlite_tx::Retained;
use crate::writer::{Insert, InsertForm};

/// One chunk's work that needs no database: its keys, what its rows add to the rollups, and
/// its `INSERT … ON CONFLICT` statement. See [`prepare`] and [`Loader::upsert_prepared`].
pub struct Prepared {
    pub(super) keys: Vec<String>,
    /// Per key, for the fresh-table filter (`Written`).
    pub(super) hashes: Vec<u64>,
    /// Per row, in order; empty for a table without rollups.
    pub(super) facts: Vec<Facts>,
    /// Taken when the chunk is written.
    pub(super) insert: Option<Insert>,
    /// Keeps a bound insert's values alive after SQLite ran it, so that they are freed with this
    /// `Prepared`, on the thread that drops it (the import hands it back to its parser).
    _retained: Option<Retained>,
    pub(super) unique: bool,
}

/// Prepares `rows` (at most 1,000) for `team_id` on any thread, in the form of the writer that
/// will load them ([`Writer::form`]).
pub fn prepare<R: StoredRow>(form: InsertForm, team_id: i32, rows: &[R]) -> Prepared {
    let mut prepared = prepare_chunk(form, team_id, rows.iter());
    let mut seen = std::collections::HashSet::with_capacity(prepared.keys.len());
    prepared.unique = prepared.keys.iter().all(|k| seen.insert(k.as_str()));
    prepared
}

/// [`prepare`] for rows already known to have distinct keys.
pub(super) fn prepare_chunk<'a, R: StoredRow + 'a>(
    form: InsertForm,
    team_id: i32,
    rows: impl Iterator<Item = &'a R> + Clone,
) -> Prepared {
    let keys: Vec<String> = rows.clone().map(InputRow::key).collect();
    let copied = match form {
        InsertForm::Copy => copy_rows(team_id, rows.clone()),
        _ => None,
    };
    let insert = match copied {
        Some(rows) => Insert::Copy(rows),
        None => form.insert(insert_statement(form.backend(), team_id, rows.clone())),
    };
    Prepared {
        _retained: insert.retain(),
        insert: Some(insert),
        hashes: keys.iter().map(|k| Written::hash(k)).collect(),
        keys,
        facts: rows.clone().filter_map(StoredRow::facts).collect(),
        unique: true,
    }
}

/// The rows in `COPY`'s text format, one line each; `None` if a value cannot be written so
/// (then the ordinary insert runs).
fn copy_rows<'a, R: StoredRow + 'a>(
    team_id: i32,
    rows: impl Iterator<Item = &'a R>,
) -> Option<CopyRows> {
    let mut text = String::with_capacity(4096);
    let mut values = Vec::with_capacity(R::COLUMNS.len());
    for row in rows {
        values.clear();
        row.push_values(team_id, &mut values);
        for (j, v) in values.iter().enumerate() {
            if j > 0 {
                text.push('\t');
            }
            if !push_copy_value(&mut text, v) {
                return None;
            }
        }
        text.push('\n');
    }
    Some(CopyRows {
        table: R::TABLE,
        columns: R::COLUMNS,
        key: R::KEY,
        text,
    })
}

fn insert_statement<'a, R: StoredRow + 'a>(
    backend: sea_orm::DbBackend,
    team_id: i32,
    rows: impl Iterator<Item = &'a R>,
) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO ")
        .push(R::TABLE)
        .push(" (")
        .push(&R::COLUMNS.join(", "))
        .push(") VALUES ");
    let mut values = Vec::with_capacity(R::COLUMNS.len());
    for (i, row) in rows.enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        values.clear();
        row.push_values(team_id, &mut values);
        sql.push("(");
        for (j, v) in values.drain(..).enumerate() {
            if j > 0 {
                sql.push(", ");
            }
            sql.param(v);
        }
        sql.push(")");
    }
    sql.push(" ON CONFLICT (")
        .push(&R::KEY.join(", "))
        .push(") DO UPDATE SET ");
    let updates: Vec<String> = R::COLUMNS
        .iter()
        .filter(|c| !R::KEY.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    sql.push(&updates.join(", "));
    sql.build()
}
