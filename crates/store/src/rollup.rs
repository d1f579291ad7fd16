//! Keeping the daily rollups (`lead_days`, `event_days`; see migration 000007) exact.
//!
//! Ingest reads the rows a chunk is about to replace, subtracts their contributions, adds the
//! new rows' contributions, and writes the net change per (day, dimensions) as
//! `INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`, in the chunk's transaction. Reloading
//! identical rows therefore writes nothing here. The "day" of an instant is the local calendar
//! day of the team's timezone whose local midnight is the latest at or before it, which is exactly
//! how period buckets are cut, DST days and skipped midnights included.

use std::collections::HashMap;
use std::fmt::Write;

use chrono::{NaiveDate, TimeDelta};
use lodestar_core::domain::{event_kind, nps};
use lodestar_core::period::{Timezone, local_midnight};
use lodestar_core::stage::Stage;
use sea_orm::{ConnectionTrait, DbBackend, QueryResult};

use crate::error::{Result, StoreError};
use crate::sql::{Sql, stable_chunks};

mod engaged;
mod rebuild;

use engaged::EngagedKey;
pub use engaged::{Reach, any_engagement, engagement_times, kind_of, reach_of};
pub use rebuild::{rebuild, rebuild_stale, rebuild_with_progress};

const DAY_MS: i64 = 86_400_000;

/// The version a team's rollups are at when built; `teams.rollup_version` below it means
/// "rebuild from the rows".
/// 2 added the lead score and customer lifetime sums (migration 000008); 3 the stage entries
/// (migration 000015).
pub const VERSION: i32 = 3;

/// Pending deltas are written once this many (day, dimensions) keys have accumulated.
const FLUSH_AT: usize = 20_000;

/// Rollup rows per statement: at most 512 × 32 bound values, under SQLite's 32,766.
const ROWS_PER_STATEMENT: usize = 512;

/// Maps instants to the team's local days, remembering each local midnight it computed.
pub struct DayClock {
    tz: Timezone,
    midnights: HashMap<i32, i64>,
    /// The last day found, as `[start, end)` in ms: rows come roughly in time order.
    last: (i64, i64, i32),
}

impl DayClock {
    pub fn new(tz: Timezone) -> DayClock {
        DayClock {
            tz,
            midnights: HashMap::new(),
            last: (0, 0, 0),
        }
    }

    pub fn midnight(&mut self, day: i32) -> i64 {
        let tz = self.tz.0;
        *self.midnights.entry(day).or_insert_with(|| {
            let date = NaiveDate::default() + TimeDelta::days(i64::from(day));
            local_midnight(date, tz).timestamp_millis()
        })
    }

    /// Days since 1970-01-01 of the local day holding `ms`: the latest day whose local midnight
    /// is at or before it. Every UTC offset is within a day, so it is one of three.
    pub fn day_of(&mut self, ms: i64) -> i32 {
        let (start, end, day) = self.last;
        if start <= ms && ms < end {
            return day;
        }
        let utc_day = ms.div_euclid(DAY_MS) as i32;
        for day in [utc_day + 1, utc_day, utc_day - 1] {
            let start = self.midnight(day);
            if start <= ms {
                self.last = (start, self.midnight(day + 1), day);
                return day;
            }
        }
        utc_day - 2
    }
}

/// A lead as the rollup sees it.
#[derive(Debug, Clone, Default)]
pub struct LeadFacts {
    pub created: i64,
    pub mql: Option<i64>,
    pub sal: Option<i64>,
    pub sql: Option<i64>,
    pub opportunity: Option<i64>,
    pub won: Option<i64>,
    pub lost: Option<i64>,
    pub churned: Option<i64>,
    pub value: i64,
    pub deal_value: i64,
    pub score: Option<i64>,
    pub channel: String,
    pub campaign: String,
    pub source: String,
}

/// An event as the rollup sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFacts {
    pub kind: String,
    pub lead_id: Option<String>,
    pub occurred: i64,
    pub value: Option<i64>,
    pub channel: String,
    pub campaign: String,
}

/// What one stored row contributes.
pub enum Facts {
    Lead(LeadFacts),
    Event(EventFacts),
}

/// The columns [`Facts::from_stored`] reads, `ext_id` first, for tables with a rollup.
pub fn stored_columns(table: &str) -> Option<&'static str> {
    match table {
        "leads" => Some(
            "ext_id, created_at, mql_at, sal_at, sql_at, opportunity_at, won_at, lost_at, \
             churned_at, value, deal_value, channel, campaign, source, score",
        ),
        "events" => Some("ext_id, kind, occurred_at, value, channel, campaign, lead_id"),
        _ => None,
    }
}

impl Facts {
    /// A stored row read with [`stored_columns`].
    pub fn from_stored(table: &str, row: &QueryResult) -> Result<Facts> {
        let at = |i: usize| -> Result<Option<i64>> { Ok(row.try_get_by_index(i)?) };
        let text = |i: usize| -> Result<String> { Ok(row.try_get_by_index(i)?) };
        match table {
            "leads" => Ok(Facts::Lead(LeadFacts {
                created: at(1)?.unwrap_or(0),
                mql: at(2)?,
                sal: at(3)?,
                sql: at(4)?,
                opportunity: at(5)?,
                won: at(6)?,
                lost: at(7)?,
                churned: at(8)?,
                value: at(9)?.unwrap_or(0),
                deal_value: at(10)?.unwrap_or(0),
                channel: text(11)?,
                campaign: text(12)?,
                source: text(13)?,
                score: row.try_get_by_index::<Option<i32>>(14)?.map(i64::from),
            })),
            "events" => Ok(Facts::Event(EventFacts {
                kind: text(1)?,
                occurred: at(2)?.unwrap_or(0),
                value: at(3)?,
                channel: text(4)?,
                campaign: text(5)?,
                lead_id: row.try_get_by_index(6)?,
            })),
            other => Err(StoreError::Invalid(format!("`{other}` has no rollup"))),
        }
    }
}

// Column positions in `lead_days` (the order of `LEAD_COLUMNS`).
pub(crate) const LEADS: usize = 0;
pub(crate) const LEAD_VALUE: usize = 1;
pub(crate) const COHORT_WON: usize = 2;
pub(crate) const MQLS: usize = 3;
pub(crate) const SALS: usize = 4;
pub(crate) const SQLS: usize = 5;
pub(crate) const OPPORTUNITIES: usize = 6;
pub(crate) const LOST: usize = 7;
pub(crate) const WON: usize = 8;
pub(crate) const WON_VALUE: usize = 9;
pub(crate) const TO_CONVERSION_MS: usize = 10;
pub(crate) const CYCLE_MS: usize = 11;
pub(crate) const CYCLE_N: usize = 12;
pub(crate) const CHURNED: usize = 13;
pub(crate) const ENDED: usize = 14;
pub(crate) const SETTLED: usize = 15;
pub(crate) const SCORE_SUM: usize = 16;
pub(crate) const SCORE_N: usize = 17;
pub(crate) const LIFETIME_MS: usize = 18;
/// The net stage entries, one column per stage in [`Stage::ALL`] order from here.
pub(crate) const STAGE_ENTRIES: usize = 19;

/// Counters per (day, dimensions) of `lead_days`.
pub const LEAD_COUNTERS: usize = 27;

pub const LEAD_COLUMNS: [&str; LEAD_COUNTERS] = [
    "leads",
    "lead_value",
    "cohort_won",
    "mqls",
    "sals",
    "sqls",
    "opportunities",
    "lost",
    "won",
    "won_value",
    "to_conversion_ms",
    "cycle_ms",
    "cycle_n",
    "churned",
    "ended",
    "settled",
    "score_sum",
    "score_n",
    "lifetime_ms",
    "stage_churned",
    "stage_customer",
    "stage_lost",
    "stage_opportunity",
    "stage_sql",
    "stage_sal",
    "stage_mql",
    "stage_lead",
];

const N: usize = 0;
const VALUE_SUM: usize = 1;
const PROMOTERS: usize = 2;
const DETRACTORS: usize = 3;

pub const EVENT_COLUMNS: [&str; 4] = ["n", "value_sum", "promoters", "detractors"];

/// The stage (a position in [`Stage::ALL`]) a lead is in at every instant after `at`: the first
/// whose timestamp is at or before it.
fn stage_after(l: &LeadFacts, at: i64) -> usize {
    let times = [l.churned, l.won, l.lost, l.opportunity, l.sql, l.sal, l.mql];
    times
        .iter()
        .position(|t| t.is_some_and(|t| t <= at))
        .unwrap_or(Stage::ALL.len() - 1)
}

/// When a lead's stage changes, in time order: `(instant, stage entered, stage left)`, the first
/// at its creation (leaving none). Its stage at an instant `end` (spec/KPIS.md, "Stage
/// distribution") is the one entered by the last change before `end`; a timestamp before its
/// creation counts from its creation, when the lead starts to count.
fn stage_changes(l: &LeadFacts) -> Vec<(i64, usize, Option<usize>)> {
    let mut points: Vec<i64> = [l.churned, l.won, l.lost, l.opportunity, l.sql, l.sal, l.mql]
        .iter()
        .flatten()
        .map(|&t| t.max(l.created))
        .chain([l.created])
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut changes = Vec::with_capacity(points.len());
    let mut current = None;
    for at in points {
        let stage = stage_after(l, at);
        if current != Some(stage) {
            changes.push((at, stage, current));
            current = Some(stage);
        }
    }
    changes
}

/// Interned dimension tuples: rollup keys hold a number, so accumulating a row's
/// contributions allocates nothing once its dimensions have been seen.
#[derive(Default)]
struct Dims {
    ids: HashMap<String, u32>,
    values: Vec<Vec<String>>,
    buf: String,
}

impl Dims {
    fn id(&mut self, parts: &[&str]) -> u32 {
        // Length-prefixed, so no value can run into the next.
        self.buf.clear();
        for p in parts {
            let _ = write!(self.buf, "{}:{p}", p.len());
        }
        if let Some(&id) = self.ids.get(self.buf.as_str()) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values
            .push(parts.iter().map(|p| (*p).to_owned()).collect());
        self.ids.insert(self.buf.clone(), id);
        id
    }

    fn values(&self, id: u32) -> Vec<&str> {
        self.values
            .get(id as usize)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct DayKey {
    day: i32,
    /// (channel, campaign, source) for leads; (kind, channel, campaign) for events.
    dims: u32,
}

/// Net changes not yet written.
#[derive(Default)]
pub struct Pending {
    leads: HashMap<DayKey, [i64; LEAD_COUNTERS]>,
    events: HashMap<DayKey, [i64; 4]>,
    engaged: HashMap<EngagedKey, i64>,
    engaged_first: HashMap<EngagedKey, i64>,
    dims: Dims,
}

impl Pending {
    pub fn len(&self) -> usize {
        self.leads.len() + self.events.len() + self.engaged.len() + self.engaged_first.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds (`sign` 1) or removes (`sign` −1) a row's contributions.
    pub fn add(&mut self, clock: &mut DayClock, facts: &Facts, sign: i64) {
        match facts {
            Facts::Lead(l) => self.add_lead(clock, l, sign),
            Facts::Event(e) => self.add_event(clock, e, sign),
        }
    }

    fn lead_at(&mut self, clock: &mut DayClock, dims: u32, at: i64) -> &mut [i64; LEAD_COUNTERS] {
        let key = DayKey {
            day: clock.day_of(at),
            dims,
        };
        self.leads.entry(key).or_default()
    }

    fn add_lead(&mut self, clock: &mut DayClock, l: &LeadFacts, sign: i64) {
        let dims = self
            .dims
            .id(&[l.channel.as_str(), l.campaign.as_str(), l.source.as_str()]);
        let row = self.lead_at(clock, dims, l.created);
        row[LEADS] += sign;
        row[LEAD_VALUE] += sign * l.value;
        row[COHORT_WON] += sign * i64::from(l.won.is_some());
        if let Some(score) = l.score {
            row[SCORE_SUM] += sign * score;
            row[SCORE_N] += sign;
        }
        for (at, col) in [
            (l.mql, MQLS),
            (l.sal, SALS),
            (l.sql, SQLS),
            (l.opportunity, OPPORTUNITIES),
            (l.lost, LOST),
        ] {
            if let Some(at) = at {
                self.lead_at(clock, dims, at)[col] += sign;
            }
        }
        if let Some(won) = l.won {
            let row = self.lead_at(clock, dims, won);
            row[WON] += sign;
            row[WON_VALUE] += sign * l.deal_value;
            row[TO_CONVERSION_MS] += sign * (won - l.created);
            if let Some(sql) = l.sql {
                row[CYCLE_MS] += sign * (won - sql);
                row[CYCLE_N] += sign;
            }
            if let Some(churned) = l.churned {
                let row = self.lead_at(clock, dims, churned);
                row[CHURNED] += sign;
                row[LIFETIME_MS] += sign * (churned - won);
                self.lead_at(clock, dims, won.max(churned))[ENDED] += sign;
            }
        }
        let closed = match (l.won, l.lost) {
            (Some(w), Some(x)) => Some(w.min(x)),
            (w, x) => w.or(x),
        };
        if let Some(closed) = closed {
            self.lead_at(clock, dims, l.created.max(closed))[SETTLED] += sign;
        }
        for (at, stage, left) in stage_changes(l) {
            let row = self.lead_at(clock, dims, at);
            row[STAGE_ENTRIES + stage] += sign;
            if let Some(left) = left {
                row[STAGE_ENTRIES + left] -= sign;
            }
        }
    }

    fn add_event(&mut self, clock: &mut DayClock, e: &EventFacts, sign: i64) {
        let key = DayKey {
            day: clock.day_of(e.occurred),
            dims: self
                .dims
                .id(&[e.kind.as_str(), e.channel.as_str(), e.campaign.as_str()]),
        };
        let row = self.events.entry(key).or_default();
        row[N] += sign;
        row[VALUE_SUM] += sign * e.value.unwrap_or(0);
        if e.kind == event_kind::NPS
            && let Some(v) = e.value
        {
            row[PROMOTERS] += sign * i64::from(nps::is_promoter(v));
            row[DETRACTORS] += sign * i64::from(nps::is_detractor(v));
        }
    }

    /// Writes every pending change (inside the caller's transaction) and forgets it.
    pub async fn flush(&mut self, tx: &impl ConnectionTrait, team_id: i32) -> Result<()> {
        let dims = &self.dims;
        let leads: Vec<_> = self.leads.drain().collect();
        let rows: Vec<_> = leads
            .iter()
            .map(|(k, v)| (k.day, dims.values(k.dims), &v[..]))
            .collect();
        let lead_keys = ["channel", "campaign", "source"];
        write(tx, team_id, "lead_days", &lead_keys, &LEAD_COLUMNS, &rows).await?;
        let events: Vec<_> = self.events.drain().collect();
        let rows: Vec<_> = events
            .iter()
            .map(|(k, v)| (k.day, dims.values(k.dims), &v[..]))
            .collect();
        let event_keys = ["kind", "channel", "campaign"];
        write(
            tx,
            team_id,
            "event_days",
            &event_keys,
            &EVENT_COLUMNS,
            &rows,
        )
        .await?;
        let engaged_keys = ["period_kind", "channel", "campaign", "source"];
        for (table, pending) in [
            ("engaged_periods", &mut self.engaged),
            ("engaged_first", &mut self.engaged_first),
        ] {
            let engaged: Vec<_> = pending.drain().collect();
            let rows: Vec<_> = engaged
                .iter()
                .map(|(k, v)| {
                    let mut keys = vec![k.kind.as_str()];
                    keys.extend(dims.values(k.dims));
                    (k.first, keys, std::slice::from_ref(v))
                })
                .collect();
            write(tx, team_id, table, &engaged_keys, &["leads"], &rows).await?;
        }
        Ok(())
    }

    /// Flushes when enough has accumulated, to keep memory flat on long loads.
    pub async fn flush_if_large(&mut self, tx: &impl ConnectionTrait, team_id: i32) -> Result<()> {
        if self.len() >= FLUSH_AT {
            self.flush(tx, team_id).await?;
        }
        Ok(())
    }
}

/// Adds each row's `counters` to the row keyed (team, day, `keys`) (`day` is a period's first day
/// in `engaged_periods`), in multi-row upserts; rows whose changes cancel out are skipped.
/// Everything is bound, so the statement texts repeat (see [`stable_chunks`]).
async fn write(
    tx: &impl ConnectionTrait,
    team_id: i32,
    table: &str,
    keys: &[&str],
    counters: &[&str],
    rows: &[(i32, Vec<&str>, &[i64])],
) -> Result<()> {
    let changed: Vec<_> = rows
        .iter()
        .filter(|(_, _, values)| values.iter().any(|&v| v != 0))
        .collect();
    let sets: Vec<String> = counters
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    if tx.get_database_backend() == DbBackend::Postgres {
        return write_arrays(tx, team_id, table, keys, counters, &sets, &changed).await;
    }
    for chunk in stable_chunks(&changed, ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(tx.get_database_backend());
        sql.push(&format!(
            "INSERT INTO {table} (team_id, day, {}, {}) VALUES ",
            keys.join(", "),
            counters.join(", ")
        ));
        for (i, (day, dims, values)) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.param(team_id).push(", ").param(*day);
            for d in dims {
                sql.push(", ").param(*d);
            }
            for v in values.iter() {
                sql.push(", ").param(*v);
            }
            sql.push(")");
        }
        sql.push(&format!(
            " ON CONFLICT (team_id, day, {}) DO UPDATE SET {}",
            keys.join(", "),
            sets.join(", ")
        ));
        tx.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// PostgreSQL rows per statement of [`write_arrays`].
const ROWS_PER_ARRAY_STATEMENT: usize = 50_000;

/// [`write`] on PostgreSQL: one statement per table (up to 50,000 rows), each column bound as
/// one array (`unnest`) instead of one parameter per value. A 512-row upsert of 21 counters is
/// 11,000 parameters; sqlx sends its socket writes without `TCP_NODELAY`, and such a message's
/// short last segment cost tens of milliseconds per statement.
async fn write_arrays(
    tx: &impl ConnectionTrait,
    team_id: i32,
    table: &str,
    keys: &[&str],
    counters: &[&str],
    sets: &[String],
    rows: &[&(i32, Vec<&str>, &[i64])],
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_ARRAY_STATEMENT) {
        let mut sql = Sql::new(DbBackend::Postgres);
        sql.push(&format!(
            "INSERT INTO {table} (team_id, day, {}, {}) SELECT ",
            keys.join(", "),
            counters.join(", ")
        ))
        .param(team_id)
        .push(", * FROM unnest(")
        .param(array_text(chunk.iter().map(|(day, _, _)| day.to_string())))
        .push("::text::int[]");
        for k in 0..keys.len() {
            let texts = chunk
                .iter()
                .map(|(_, dims, _)| quoted(dims.get(k).copied().unwrap_or("")));
            sql.push(", ")
                .param(array_text(texts))
                .push("::text::text[]");
        }
        for c in 0..counters.len() {
            let values = chunk
                .iter()
                .map(|(_, _, values)| values.get(c).copied().unwrap_or(0).to_string());
            sql.push(", ")
                .param(array_text(values))
                .push("::text::bigint[]");
        }
        sql.push(&format!(
            ") ON CONFLICT (team_id, day, {}) DO UPDATE SET {}",
            keys.join(", "),
            sets.join(", ")
        ));
        tx.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// `{a,b,c}`: a PostgreSQL array literal of already quoted elements.
fn array_text(items: impl Iterator<Item = String>) -> String {
    let mut out = String::from("{");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push('}');
    out
}

/// A text element of an array literal: double-quoted, `"` and `\` escaped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The team's timezone, read inside a transaction.
pub async fn team_clock(tx: &impl ConnectionTrait, team_id: i32) -> Result<DayClock> {
    let mut sql = Sql::new(tx.get_database_backend());
    sql.push("SELECT timezone FROM teams WHERE id = ")
        .param(team_id);
    let row = tx
        .query_one_raw(sql.build())
        .await?
        .ok_or_else(|| StoreError::NoSuchTeam(team_id.to_string()))?;
    let name: String = row.try_get_by_index(0)?;
    let tz = Timezone::parse(&name).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(DayClock::new(tz))
}

#[cfg(test)]
mod tests;
