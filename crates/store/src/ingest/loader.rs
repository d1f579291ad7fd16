//! The loader: writes prepared chunks into one open write transaction and keeps the daily
//! rollups (engagement included) in step with every row it inserts or replaces.

use std::collections::{BTreeSet, HashMap};

use futures_util::FutureExt;
use lodestar_core::domain::event_kind;
use lodestar_core::rows::InputRow;
use sea_orm::ConnectionTrait;

use super::bloom::Written;
use super::prepare::{Prepared, prepare_chunk};
use super::{CHUNK, StoredRow, UpsertCounts};
use crate::error::Result;
use crate::rollup::{self, DayClock, Facts, Pending, Reach};
use crate::sql::{Sql, stable_chunks};
use crate::writer::{Insert, Writer};

/// Loads many chunks into one open write transaction, keeping the daily rollups' changes in
/// memory between chunks (bounded) and writing them at the latest in [`Loader::finish`], which
/// must run before the caller commits.
pub struct Loader<'t> {
    tx: Writer<'t>,
    team_id: i32,
    clock: DayClock,
    pending: Pending,
    /// Whether the team has engagement events (looked up once, when a lead chunk first asks).
    engagements: Option<bool>,
    /// Per table: `Some(the keys this loader wrote)` when the table held none of the team's rows
    /// as this loader first wrote to it. Only keys written before can then replace a row, so
    /// only those are looked up (a fresh import of a million leads saves a million probes).
    fresh: HashMap<&'static str, Option<Written>>,
}

/// Engagement contributions of the leads an event chunk touches: their state, and their
/// engagement instants before the chunk is written.
struct EventsWork {
    leads: HashMap<String, Reach>,
    before: HashMap<String, Vec<i64>>,
}

impl<'t> Loader<'t> {
    pub async fn new(tx: impl Into<Writer<'t>>, team_id: i32) -> Result<Loader<'t>> {
        let tx = tx.into();
        Ok(Loader {
            clock: rollup::team_clock(&tx, team_id).await?,
            tx,
            team_id,
            pending: Pending::default(),
            engagements: None,
            fresh: HashMap::new(),
        })
    }

    /// Upserts one batch of rows (the last of repeated keys wins).
    pub async fn upsert<R: StoredRow>(&mut self, rows: &[R]) -> Result<UpsertCounts> {
        let form = self.tx.form();
        let keys: Vec<String> = rows.iter().map(InputRow::key).collect();
        let mut last_of: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
        for (i, key) in keys.iter().enumerate() {
            last_of.insert(key, i);
        }
        let unique: Vec<&R> = rows
            .iter()
            .zip(&keys)
            .enumerate()
            .filter(|(i, (_, key))| last_of.get(key.as_str()) == Some(i))
            .map(|(_, (row, _))| row)
            .collect();
        let mut counts = UpsertCounts::default();
        for chunk in stable_chunks(&unique, CHUNK) {
            let mut prepared = prepare_chunk(form, self.team_id, chunk.iter().copied());
            counts += self.write(chunk.iter().copied(), &mut prepared).await?;
        }
        // Repeats inside the batch count as updates of the row the batch itself inserted.
        counts.updated += (rows.len() - unique.len()) as u64;
        self.pending.flush_if_large(&self.tx, self.team_id).await?;
        Ok(counts)
    }

    /// [`Loader::upsert`] of rows whose work was done ahead by [`prepare`] (on the thread that
    /// parses a file, say), so this thread mostly waits for the database. Rows that do not fit
    /// one statement or repeat a key take the ordinary path. The insert is taken out of
    /// `prepared`; the rest stays with the caller, which may free it on the thread that made it.
    pub async fn upsert_prepared<R: StoredRow>(
        &mut self,
        rows: &[R],
        prepared: &mut Prepared,
    ) -> Result<UpsertCounts> {
        let takes = |insert: &Insert| self.tx.takes(insert.form());
        if !prepared.unique
            || !prepared.insert.as_ref().is_some_and(takes)
            || prepared.keys.len() != rows.len()
            || rows.len() > CHUNK
        {
            return self.upsert(rows).await;
        }
        let counts = self.write(rows.iter(), prepared).await?;
        self.pending.flush_if_large(&self.tx, self.team_id).await?;
        Ok(counts)
    }

    /// Writes the rollups' remaining changes.
    pub async fn finish(mut self) -> Result<()> {
        self.pending.flush(&self.tx, self.team_id).await
    }

    /// Writes one prepared chunk of rows with distinct keys and moves the rollups with it.
    async fn write<'a, R: StoredRow + 'a>(
        &mut self,
        rows: impl Iterator<Item = &'a R> + Clone,
        prepared: &mut Prepared,
    ) -> Result<UpsertCounts> {
        let total = prepared.keys.len() as u64;
        let Some(insert) = prepared.insert.take().filter(|_| total > 0) else {
            return Ok(UpsertCounts::default());
        };
        let (keys, hashes, facts) = (&prepared.keys, &prepared.hashes, &prepared.facts);
        // Whether every key is certainly new: none stored when this loader began, none written
        // by it since (a bulk writer then appends instead of upserting).
        let mut new_keys = false;
        let (existing, olds) = match rollup::stored_columns(R::TABLE) {
            Some(columns) => {
                let suspects = self.maybe_stored::<R>(keys, hashes).await?;
                new_keys = suspects.is_empty() && matches!(self.fresh.get(R::TABLE), Some(Some(_)));
                let olds = if suspects.is_empty() {
                    HashMap::new()
                } else {
                    self.retract_existing::<R>(columns, &suspects).await?
                };
                (olds.len() as u64, olds)
            }
            None => (
                count_existing(&self.tx, self.team_id, rows).await?,
                HashMap::new(),
            ),
        };
        let news: Vec<(&str, &Facts)> = keys.iter().map(String::as_str).zip(facts).collect();
        let work = self.engagement_before(&olds, &news).await?;
        // The rollup arithmetic runs while the database executes the insert (the statement is
        // sent on the insert's first poll).
        let (pending, clock) = (&mut self.pending, &mut self.clock);
        let (inserted, ()) = futures_util::future::join(
            self.tx.insert(insert, new_keys),
            std::future::ready(()).map(|()| {
                for f in facts {
                    pending.add(clock, f, 1);
                }
            }),
        )
        .await;
        inserted?;
        if let Some(work) = work {
            self.engagement_after(work).await?;
        }
        Ok(UpsertCounts {
            inserted: total - existing,
            updated: existing,
        })
    }

    /// Reads the stored rows these keys will replace, takes their contributions out of the
    /// rollups, and returns them by key. Keys are a plain `IN` list on the unique
    /// `(team_id, ext_id)` index, which every planner turns into index probes.
    async fn retract_existing<R: StoredRow>(
        &mut self,
        columns: &str,
        keys: &[&str],
    ) -> Result<HashMap<String, Facts>> {
        let mut sql = Sql::new(self.tx.get_database_backend());
        sql.push(&format!(
            "SELECT {columns} FROM {} WHERE team_id = ",
            R::TABLE
        ))
        .param(self.team_id)
        .push(" AND ext_id IN (")
        .params(keys.iter().copied())
        .push(")");
        let mut olds = HashMap::new();
        for row in self.tx.query_all_raw(sql.build()).await? {
            let facts = Facts::from_stored(R::TABLE, &row)?;
            self.pending.add(&mut self.clock, &facts, -1);
            olds.insert(row.try_get_by_index::<String>(0)?, facts);
        }
        Ok(olds)
    }

    /// Before a chunk is written: moves the engagement contributions of leads whose reach or
    /// dimensions change (lead chunks), or gathers what an event chunk needs to do the same once
    /// its engagement events are written.
    async fn engagement_before(
        &mut self,
        olds: &HashMap<String, Facts>,
        news: &[(&str, &Facts)],
    ) -> Result<Option<EventsWork>> {
        let mut changed_leads: Vec<(&str, Option<Reach>, Reach)> = Vec::new();
        let mut event_leads: BTreeSet<&str> = BTreeSet::new();
        for &(id, facts) in news {
            match (facts, olds.get(id)) {
                (Facts::Lead(new), old) => {
                    let new = Reach::of(new);
                    let old = match old {
                        Some(Facts::Lead(o)) => Some(Reach::of(o)),
                        _ => None,
                    };
                    if old.as_ref() != Some(&new) {
                        changed_leads.push((id, old, new));
                    }
                }
                (Facts::Event(new), old) => {
                    let old = match old {
                        Some(Facts::Event(o)) => Some(o),
                        _ => None,
                    };
                    if old == Some(new) {
                        continue;
                    }
                    for e in std::iter::once(new).chain(old) {
                        if e.kind == event_kind::ENGAGEMENT
                            && let Some(lead) = &e.lead_id
                        {
                            event_leads.insert(lead);
                        }
                    }
                }
            }
        }
        if !changed_leads.is_empty() && self.has_engagements().await? {
            let ids: Vec<&str> = changed_leads.iter().map(|(id, _, _)| *id).collect();
            let times = rollup::engagement_times(&self.tx, self.team_id, &ids).await?;
            for (id, old, new) in &changed_leads {
                if let Some(times) = times.get(*id) {
                    if let Some(old) = old {
                        self.pending.add_engaged(&mut self.clock, old, times, -1);
                    }
                    self.pending.add_engaged(&mut self.clock, new, times, 1);
                }
            }
        }
        if event_leads.is_empty() {
            return Ok(None);
        }
        self.engagements = Some(true);
        let ids: Vec<&str> = event_leads.into_iter().collect();
        let leads = rollup::reach_of(&self.tx, self.team_id, &ids).await?;
        if leads.is_empty() {
            return Ok(None);
        }
        let ids: Vec<&str> = leads.keys().map(String::as_str).collect();
        let before = rollup::engagement_times(&self.tx, self.team_id, &ids).await?;
        Ok(Some(EventsWork { leads, before }))
    }

    /// After an event chunk is written: each touched lead's contribution from its engagement
    /// events before, out; from those after, in.
    async fn engagement_after(&mut self, work: EventsWork) -> Result<()> {
        let ids: Vec<&str> = work.leads.keys().map(String::as_str).collect();
        let after = rollup::engagement_times(&self.tx, self.team_id, &ids).await?;
        for (id, lead) in &work.leads {
            if let Some(times) = work.before.get(id) {
                self.pending.add_engaged(&mut self.clock, lead, times, -1);
            }
            if let Some(times) = after.get(id) {
                self.pending.add_engaged(&mut self.clock, lead, times, 1);
            }
        }
        Ok(())
    }

    /// The keys that may replace a stored row: all of them, unless the table was empty for the
    /// team when this loader started writing to it (see `fresh`).
    async fn maybe_stored<'k, R: StoredRow>(
        &mut self,
        keys: &'k [String],
        hashes: &[u64],
    ) -> Result<Vec<&'k str>> {
        if !self.fresh.contains_key(R::TABLE) {
            let mut sql = Sql::new(self.tx.get_database_backend());
            sql.push(&format!("SELECT 1 FROM {} WHERE team_id = ", R::TABLE))
                .param(self.team_id)
                .push(" LIMIT 1");
            let empty = self.tx.query_one_raw(sql.build()).await?.is_none();
            self.fresh.insert(R::TABLE, empty.then(Written::new));
        }
        let keys = keys.iter().map(String::as_str);
        Ok(match self.fresh.get_mut(R::TABLE) {
            Some(Some(written)) => keys
                .zip(hashes)
                .filter(|&(_, &h)| written.insert(h))
                .map(|(k, _)| k)
                .collect(),
            _ => keys.collect(),
        })
    }

    async fn has_engagements(&mut self) -> Result<bool> {
        if let Some(known) = self.engagements {
            return Ok(known);
        }
        let known = rollup::any_engagement(&self.tx, self.team_id).await?;
        self.engagements = Some(known);
        Ok(known)
    }
}

/// How many of these keys are stored already (spend, which has no rollup to correct).
async fn count_existing<'a, R: StoredRow + 'a>(
    tx: &impl ConnectionTrait,
    team_id: i32,
    rows: impl Iterator<Item = &'a R>,
) -> Result<u64> {
    let mut sql = Sql::new(tx.get_database_backend());
    let key_cols = &R::KEY[1..];
    sql.push("SELECT COUNT(*) FROM ")
        .push(R::TABLE)
        .push(" WHERE team_id = ")
        .param(team_id)
        .push(" AND (")
        .push(&key_cols.join(", "))
        .push(") IN (VALUES ");
    let mut key = Vec::with_capacity(key_cols.len());
    for (i, row) in rows.enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        key.clear();
        row.push_key(&mut key);
        sql.push("(");
        for (j, v) in key.drain(..).enumerate() {
            if j > 0 {
                sql.push(", ");
            }
            sql.param(v);
        }
        sql.push(")");
    }
    sql.push(")");
    let row = tx.query_one_raw(sql.build()).await?;
    let n: i64 = match row {
        Some(r) => r.try_get_by_index(0)?,
        None => 0,
    };
    Ok(n as u64)
}
