//! Upserting validated rows. A batch runs in one write transaction: it is stored whole or not at
//! all. Rows go in as multi-row `INSERT … ON CONFLICT DO UPDATE` statements of up to 1,000 rows,
//! and the daily rollups (`crate::rollup`) change in the same transaction.

use std::collections::{BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::FutureExt;
use lodestar_core::domain::event_kind;
use lodestar_core::money::Micros;
use lodestar_core::rows::{EventRow, InputRow, LeadRow, SpendRow};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement, Value};

use crate::Db;
use crate::error::Result;
use crate::rollup::{self, DayClock, EventFacts, Facts, LeadFacts, Pending, Reach};
use crate::sql::{Sql, stable_chunks};
use crate::sqlite_tx::Retained;
use crate::teams;
use crate::writer::{Insert, InsertForm, Writer};

/// Rows per INSERT statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const CHUNK: usize = 1000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub updated: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, o: UpsertCounts) {
        self.inserted += o.inserted;
        self.updated += o.updated;
    }
}

/// How a row type maps onto its table.
pub trait StoredRow: InputRow {
    const TABLE: &'static str;
    /// Every column written, `team_id` first.
    const COLUMNS: &'static [&'static str];
    /// The upsert key, `team_id` first.
    const KEY: &'static [&'static str];
    fn push_values(&self, team_id: i32, out: &mut Vec<Value>);
    fn push_key(&self, out: &mut Vec<Value>);
    /// What the row adds to the daily rollups: `Some` for every row of a table with rollups
    /// (`rollup::stored_columns`), `None` for every row of one without (`Prepared` pairs them
    /// with keys by position).
    fn facts(&self) -> Option<Facts> {
        None
    }
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn opt_millis(t: Option<DateTime<Utc>>) -> Value {
    t.map(millis).into()
}

fn micros(m: Option<Micros>) -> Value {
    m.map(|m| m.0).into()
}

fn dim(s: &Option<String>) -> Value {
    s.clone().unwrap_or_default().into()
}

fn attrs_json(attrs: &std::collections::BTreeMap<String, String>) -> Value {
    serde_json::to_string(attrs)
        .unwrap_or_else(|_| "{}".to_owned())
        .into()
}

/// Spend days are stored as days since 1970-01-01 so period filters are integer ranges.
pub fn day_number(day: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (day - epoch).num_days() as i32
}

impl StoredRow for LeadRow {
    const TABLE: &'static str = "leads";
    const COLUMNS: &'static [&'static str] = &[
        "team_id",
        "ext_id",
        "created_at",
        "channel",
        "source",
        "campaign",
        "value",
        "score",
        "attrs",
        "mql_at",
        "sal_at",
        "sql_at",
        "opportunity_at",
        "won_at",
        "lost_at",
        "churned_at",
        "deal_value",
    ];
    const KEY: &'static [&'static str] = &["team_id", "ext_id"];

    fn push_values(&self, team_id: i32, out: &mut Vec<Value>) {
        out.extend([
            team_id.into(),
            self.id.clone().into(),
            millis(self.created_at).into(),
            dim(&self.channel),
            dim(&self.source),
            dim(&self.campaign),
            micros(self.value),
            self.score.into(),
            attrs_json(&self.attrs),
            opt_millis(self.mql_at),
            opt_millis(self.sal_at),
            opt_millis(self.sql_at),
            opt_millis(self.opportunity_at),
            opt_millis(self.won_at),
            opt_millis(self.lost_at),
            opt_millis(self.churned_at),
            micros(self.deal_value),
        ]);
    }

    fn push_key(&self, out: &mut Vec<Value>) {
        out.push(self.id.clone().into());
    }

    fn facts(&self) -> Option<Facts> {
        Some(Facts::Lead(LeadFacts {
            created: millis(self.created_at),
            mql: self.mql_at.map(millis),
            sal: self.sal_at.map(millis),
            sql: self.sql_at.map(millis),
            opportunity: self.opportunity_at.map(millis),
            won: self.won_at.map(millis),
            lost: self.lost_at.map(millis),
            churned: self.churned_at.map(millis),
            value: self.value.map_or(0, |m| m.0),
            deal_value: self.deal_value.map_or(0, |m| m.0),
            score: self.score.map(i64::from),
            channel: self.channel.clone().unwrap_or_default(),
            campaign: self.campaign.clone().unwrap_or_default(),
            source: self.source.clone().unwrap_or_default(),
        }))
    }
}

impl StoredRow for SpendRow {
    const TABLE: &'static str = "spend";
    const COLUMNS: &'static [&'static str] = &[
        "team_id",
        "day",
        "channel",
        "campaign",
        "category",
        "amount",
        "impressions",
        "clicks",
    ];
    const KEY: &'static [&'static str] = &["team_id", "day", "channel", "campaign", "category"];

    fn push_values(&self, team_id: i32, out: &mut Vec<Value>) {
        out.extend([
            team_id.into(),
            day_number(self.day).into(),
            dim(&self.channel),
            dim(&self.campaign),
            self.category.as_str().into(),
            self.amount.0.into(),
            self.impressions.into(),
            self.clicks.into(),
        ]);
    }

    fn push_key(&self, out: &mut Vec<Value>) {
        out.extend([
            day_number(self.day).into(),
            dim(&self.channel),
            dim(&self.campaign),
            self.category.as_str().into(),
        ]);
    }
}

impl StoredRow for EventRow {
    const TABLE: &'static str = "events";
    const COLUMNS: &'static [&'static str] = &[
        "team_id",
        "ext_id",
        "kind",
        "occurred_at",
        "channel",
        "campaign",
        "lead_id",
        "value",
        "attrs",
    ];
    const KEY: &'static [&'static str] = &["team_id", "ext_id"];

    fn push_values(&self, team_id: i32, out: &mut Vec<Value>) {
        out.extend([
            team_id.into(),
            self.id.clone().into(),
            self.kind.clone().into(),
            millis(self.occurred_at).into(),
            dim(&self.channel),
            dim(&self.campaign),
            self.lead_id.clone().into(),
            micros(self.value),
            attrs_json(&self.attrs),
        ]);
    }

    fn push_key(&self, out: &mut Vec<Value>) {
        out.push(self.id.clone().into());
    }

    fn facts(&self) -> Option<Facts> {
        Some(Facts::Event(EventFacts {
            kind: self.kind.clone(),
            occurred: millis(self.occurred_at),
            value: self.value.map(|m| m.0),
            channel: self.channel.clone().unwrap_or_default(),
            campaign: self.campaign.clone().unwrap_or_default(),
            lead_id: self.lead_id.clone(),
        }))
    }
}

/// Upserts a whole batch atomically and marks the team's data as changed.
pub async fn upsert_batch<R: StoredRow>(db: &Db, team_id: i32, rows: &[R]) -> Result<UpsertCounts> {
    let tx = db.begin_write().await?;
    // First statement of the transaction: on PostgreSQL it locks the team row, which serialises
    // concurrent batches of one team so the inserted/updated counts stay exact.
    teams::bump_data_version(&tx, team_id).await?;
    let counts = upsert(&tx, team_id, rows).await?;
    tx.commit().await?;
    Ok(counts)
}

/// Upserts rows inside an open write transaction (the caller commits). When a key appears
/// several times the last row wins, as if they had been sent one after the other.
pub async fn upsert<R: StoredRow>(
    tx: &DatabaseTransaction,
    team_id: i32,
    rows: &[R],
) -> Result<UpsertCounts> {
    let mut loader = Loader::new(tx, team_id).await?;
    let counts = loader.upsert(rows).await?;
    loader.finish().await?;
    Ok(counts)
}

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

/// A Bloom filter of keys: "maybe written" or "certainly not". 8 MiB; at a million keys about
/// one key in 90,000 is a false "maybe", which costs one index probe that finds nothing (at
/// 2 MiB it was one in 500, and a million-row import spent some 300 extra queries on them).
struct Written {
    bits: Vec<u64>,
}

impl Written {
    const BITS: u64 = 1 << 26;

    fn new() -> Written {
        Written {
            bits: vec![0; (Self::BITS / 64) as usize],
        }
    }

    /// The hash [`Written::insert`] takes (computed where the key is prepared).
    fn hash(key: &str) -> u64 {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        h.finish()
    }

    /// Adds a key by its [`Written::hash`]; true when it may have been added before.
    fn insert(&mut self, h: u64) -> bool {
        let (a, b) = (h & 0xffff_ffff, (h >> 32) | 1);
        let mut seen = true;
        for i in 0..4u64 {
            let bit = a.wrapping_add(i.wrapping_mul(b)) % Self::BITS;
            let (word, mask) = ((bit / 64) as usize, 1u64 << (bit % 64));
            if let Some(w) = self.bits.get_mut(word) {
                seen &= *w & mask != 0;
                *w |= mask;
            }
        }
        seen
    }
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
        let (existing, olds) = match rollup::stored_columns(R::TABLE) {
            Some(columns) => {
                let suspects = self.maybe_stored::<R>(keys, hashes).await?;
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
            self.tx.insert(insert),
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

/// One chunk's work that needs no database: its keys, what its rows add to the rollups, and
/// its `INSERT … ON CONFLICT` statement. See [`prepare`] and [`Loader::upsert_prepared`].
pub struct Prepared {
    keys: Vec<String>,
    /// Per key, for the fresh-table filter (`Written`).
    hashes: Vec<u64>,
    /// Per row, in order; empty for a table without rollups.
    facts: Vec<Facts>,
    /// Taken when the chunk is written.
    insert: Option<Insert>,
    /// Keeps a bound insert's values alive after SQLite ran it, so that they are freed with this
    /// `Prepared`, on the thread that drops it (the import hands it back to its parser).
    _retained: Option<Retained>,
    unique: bool,
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
fn prepare_chunk<'a, R: StoredRow + 'a>(
    form: InsertForm,
    team_id: i32,
    rows: impl Iterator<Item = &'a R> + Clone,
) -> Prepared {
    let keys: Vec<String> = rows.clone().map(InputRow::key).collect();
    let insert = form.insert(insert_statement(form.backend(), team_id, rows.clone()));
    Prepared {
        _retained: insert.retain(),
        insert: Some(insert),
        hashes: keys.iter().map(|k| Written::hash(k)).collect(),
        keys,
        facts: rows.clone().filter_map(StoredRow::facts).collect(),
        unique: true,
    }
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

/// Row counts of a team's tables (for tests, the CLI and the demo).
pub async fn table_counts(db: &Db, team_id: i32) -> Result<[(String, u64); 3]> {
    let mut out: [(String, u64); 3] = Default::default();
    for (i, table) in ["leads", "spend", "events"].into_iter().enumerate() {
        let mut sql = Sql::new(db.backend());
        sql.push("SELECT COUNT(*) FROM ")
            .push(table)
            .push(" WHERE team_id = ")
            .param(team_id);
        let n: i64 = match db.conn().query_one_raw(sql.build()).await? {
            Some(r) => r.try_get_by_index(0)?,
            None => 0,
        };
        out[i] = (table.to_owned(), n as u64);
    }
    Ok(out)
}

/// The newest instant of any row the team loaded (spend by its day), for "data as of" lines.
pub async fn newest_data(db: &Db, team_id: i32) -> Result<Option<DateTime<Utc>>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT MAX(created_at) FROM leads WHERE team_id = ")
        .param(team_id)
        .push(" UNION ALL SELECT MAX(occurred_at) FROM events WHERE team_id = ")
        .param(team_id)
        .push(" UNION ALL SELECT CAST(MAX(day) AS BIGINT) * 86400000 FROM spend WHERE team_id = ")
        .param(team_id);
    let mut newest: Option<i64> = None;
    for row in db.conn().query_all_raw(sql.build()).await? {
        let v: Option<i64> = row.try_get_by_index(0)?;
        newest = newest.max(v);
    }
    Ok(newest.and_then(DateTime::from_timestamp_millis))
}

#[cfg(test)]
mod tests {
    use super::Written;

    #[test]
    fn a_written_key_is_always_seen_again_and_new_keys_rarely_are() {
        let mut w = Written::new();
        let false_maybes = (0..200_000)
            .filter(|i| w.insert(Written::hash(&format!("lead-{i}"))))
            .count();
        assert!(false_maybes < 200, "{false_maybes} false maybes");
        assert!(
            (0..200_000)
                .step_by(997)
                .all(|i| w.insert(Written::hash(&format!("lead-{i}"))))
        );
    }
}
