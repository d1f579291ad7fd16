//! A small builder for the hand-written aggregate queries: it writes each backend's placeholder
//! (`?` or `$n`) so one query text serves SQLite and PostgreSQL.

use sea_orm::{DbBackend, Statement, Value};

pub struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(backend: DbBackend) -> Sql {
        Sql {
            backend,
            text: String::with_capacity(1024),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    pub fn param(&mut self, v: impl Into<Value>) -> &mut Self {
        self.values.push(v.into());
        match self.backend {
            DbBackend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
            _ => self.text.push('?'),
        }
        self
    }

    /// `a, b, c` as bound parameters, for `IN (…)` lists.
    pub fn params<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.param(v);
        }
        self
    }

    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// Rows of a per-team table keyed by a name column: all of the team's, ordered by that column,
/// or (with `name`) just the one. `columns` is the select list `read` expects.
pub async fn team_rows<T>(
    db: &crate::Db,
    table: &str,
    columns: &str,
    key_column: &str,
    team_id: i32,
    name: Option<&str>,
    read: impl Fn(&sea_orm::QueryResult) -> crate::error::Result<T>,
) -> crate::error::Result<Vec<T>> {
    use sea_orm::ConnectionTrait;
    let mut sql = Sql::new(db.backend());
    sql.push(&format!("SELECT {columns} FROM {table} WHERE team_id = "))
        .param(team_id);
    match name {
        Some(name) => {
            sql.push(&format!(" AND {key_column} = ")).param(name);
        }
        None => {
            sql.push(&format!(" ORDER BY {key_column}"));
        }
    }
    let rows = db.conn().query_all_raw(sql.build()).await?;
    rows.iter().map(read).collect()
}
