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

    /// `(SELECT …)`: the strings of `values` as rows, bound as ONE JSON array parameter, for
    /// `x IN (…)` tests whose lists come from users (segment sets): any number of values costs
    /// one bound variable, so no list reaches the backends' limits on variables.
    pub fn param_list(&mut self, values: &[String]) -> &mut Self {
        let json = serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned());
        match self.backend {
            DbBackend::Postgres => {
                self.push("(SELECT jsonb_array_elements_text(CAST(");
                self.param(json);
                self.push(" AS jsonb)))")
            }
            _ => {
                self.push("(SELECT value FROM json_each(");
                self.param(json);
                self.push("))")
            }
        }
    }

    /// `a, b, c` as bound parameters, for `IN (…)` lists. The list is padded to a power of two
    /// by repeating its last value (which an `IN` list ignores), so that lists of any length
    /// share a few statement texts (see [`stable_chunks`]).
    pub fn params<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        let start = self.values.len();
        for v in values {
            if self.values.len() > start {
                self.text.push_str(", ");
            }
            self.param(v);
        }
        let n = self.values.len() - start;
        if let Some(last) = self.values.last().filter(|_| n > 0).cloned() {
            for _ in n..n.next_power_of_two() {
                self.text.push_str(", ");
                self.param(last.clone());
            }
        }
        self
    }

    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// Splits `items` into statement-sized pieces whose lengths come from a small fixed set: full
/// pieces of `max`, then the rest in descending powers of two. The drivers cache each prepared
/// statement by its text, so a multi-row statement written for every length would be parsed
/// again each time and fill the cache with large one-off statements.
pub fn stable_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = max.max(1);
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= max {
            max
        } else {
            1 << rest.len().ilog2()
        };
        let (piece, tail) = rest.split_at(n);
        rest = tail;
        Some(piece)
    })
}

/// `'a', 'b', 'c'`: constant names for an SQL `IN (…)` list. Only for the domain's own
/// constants, which hold no quote; anything a user sent goes through [`Sql::params`].
pub fn quoted_list(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    quoted.join(", ")
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;

    use super::{Sql, quoted_list, stable_chunks};
    use lodestar_core::domain::event_kind;

    #[test]
    fn the_built_in_event_kinds_read_as_the_in_list_the_queries_always_had() {
        assert_eq!(
            quoted_list(&event_kind::BUILT_IN),
            "'session', 'visit', 'engagement', 'revenue', 'nps'"
        );
    }

    #[test]
    fn in_lists_are_padded_to_a_power_of_two_with_their_last_value() {
        let mut sql = Sql::new(DbBackend::Postgres);
        sql.push("x IN (").params(["a", "b", "c"]).push(")");
        let built = sql.build();
        assert_eq!(built.sql, "x IN ($1, $2, $3, $4)");
        let values = built.values.expect("bound values").0;
        assert_eq!(values.len(), 4);
        assert_eq!(values[2], values[3]);
        let mut sql = Sql::new(DbBackend::Sqlite);
        sql.push("x IN (").params(["a"]).push(")");
        assert_eq!(sql.build().sql, "x IN (?)");
    }

    #[test]
    fn stable_chunks_cover_everything_in_few_lengths() {
        let items: Vec<u32> = (0..1300).collect();
        let lengths: Vec<usize> = stable_chunks(&items, 512).map(<[u32]>::len).collect();
        assert_eq!(lengths, [512, 512, 256, 16, 4]);
        let joined: Vec<u32> = stable_chunks(&items, 512).flatten().copied().collect();
        assert_eq!(joined, items);
        assert_eq!(stable_chunks(&items[..0], 512).count(), 0);
        assert_eq!(
            stable_chunks(&items[..7], 512)
                .map(<[u32]>::len)
                .collect::<Vec<_>>(),
            [4, 2, 1]
        );
    }
}
