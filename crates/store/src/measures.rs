//! Base measures for period buckets (contiguous spans, see `Buckets`), optionally split by a dimension, in a handful
//! of grouped statements: one over leads anchored on each lifecycle timestamp, one for
//! point-in-time customer counts, one for engagement reach, one over events, one over spend.
//! Each groups by (bucket, segment), so the cost does not grow with the number of KPIs.
//!
//! Those row passes (`rows`) serve segmentations by `attrs.*` and segment sets; for none,
//! channel, campaign and source the same measures come from the daily rollups (`daily`), which
//! read days instead of rows. `compute_from_rows` keeps the row passes callable as the reference.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use lodestar_core::dimension::{Dimension, Table};
use lodestar_core::measure::{Measure, MeasureValues};
use lodestar_core::period::Buckets;
use sea_orm::{ConnectionTrait, QueryResult};

use crate::Db;
use crate::error::Result;
use crate::segment_sql::Segments;
use crate::sql::Sql;

mod daily;
mod rows;

/// The segment key used when nothing is segmented.
pub const TOTAL: &str = "";

const MS_PER_DAY: f64 = 86_400_000.0;
const MICROS: f64 = 1_000_000.0;

pub struct MeasureQuery<'a> {
    pub team_id: i32,
    pub bounds: &'a Buckets,
    pub dimension: Option<&'a Dimension>,
    pub measures: &'a BTreeSet<Measure>,
}

/// For each bucket, the values of each segment that has rows in it.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub buckets: Vec<HashMap<String, MeasureValues>>,
    /// Which tables were queried: measures of other tables are left undefined.
    pub tables: BTreeSet<Table>,
    /// The segments of a segment set, in its order: each is listed even without rows.
    pub declared: Vec<String>,
}

impl Measured {
    /// The values of a segment in a bucket; a segment without rows there has zero counts.
    pub fn get(&self, bucket: usize, segment: &str) -> MeasureValues {
        self.buckets
            .get(bucket)
            .and_then(|b| b.get(segment))
            .cloned()
            .unwrap_or_else(|| self.empty())
    }

    fn empty(&self) -> MeasureValues {
        let mut v = MeasureValues::default();
        for &m in Measure::ALL {
            if m.is_additive() && self.tables.contains(&m.table()) {
                v.set(m, Some(0.0));
            }
        }
        v
    }

    /// Segments with rows in any of the given buckets, sorted; a segment set's segments, all of
    /// them in its order.
    pub fn segments(&self, buckets: impl IntoIterator<Item = usize>) -> Vec<String> {
        if !self.declared.is_empty() {
            return self.declared.clone();
        }
        let mut out: BTreeSet<&String> = BTreeSet::new();
        for b in buckets {
            if let Some(map) = self.buckets.get(b) {
                out.extend(map.keys());
            }
        }
        out.into_iter().cloned().collect()
    }
}

/// Raw sums and counts of one (bucket, segment); `finish` turns them into measures.
#[derive(Debug, Default, Clone)]
struct Raw {
    leads: i64,
    lead_value: i64,
    cohort_won: i64,
    mqls: i64,
    sals: i64,
    sqls: i64,
    opportunities: i64,
    lost: i64,
    won: i64,
    won_value: i64,
    to_conversion_ms: i64,
    cycle_ms: i64,
    cycle_n: i64,
    score_sum: i64,
    score_n: i64,
    churned: i64,
    lifetime_ms: i64,
    active_end: i64,
    active_start: i64,
    churned_of_start: i64,
    reachable: i64,
    engaged: i64,
    sessions: i64,
    visits: i64,
    engagements: i64,
    recurring: i64,
    nps_n: i64,
    nps_promoters: i64,
    nps_detractors: i64,
    ad_spend: i64,
    marketing_spend: i64,
    total_spend: i64,
    impressions: i64,
    clicks: i64,
}

fn count(n: i64) -> Option<f64> {
    Some(n as f64)
}

fn money(n: i64) -> Option<f64> {
    Some(n as f64 / MICROS)
}

fn mean(sum: i64, n: i64) -> Option<f64> {
    (n > 0).then(|| sum as f64 / n as f64)
}

fn mean_days(sum_ms: i64, n: i64) -> Option<f64> {
    mean(sum_ms, n).map(|ms| ms / MS_PER_DAY)
}

fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64 * 100.0)
}

impl Raw {
    fn finish(&self, tables: &BTreeSet<Table>) -> MeasureValues {
        use Measure as M;
        let mut v = MeasureValues::default();
        if tables.contains(&Table::Leads) {
            v.set(M::Leads, count(self.leads));
            v.set(M::TotalLeadValue, money(self.lead_value));
            v.set(M::Mqls, count(self.mqls));
            v.set(M::Sals, count(self.sals));
            v.set(M::Sqls, count(self.sqls));
            v.set(M::Opportunities, count(self.opportunities));
            v.set(M::CustomersWon, count(self.won));
            v.set(M::DealsLost, count(self.lost));
            v.set(M::WonRevenue, money(self.won_value));
            v.set(M::ChurnedCustomers, count(self.churned));
            v.set(M::ActiveCustomers, count(self.active_end));
            v.set(M::ActiveAtStart, count(self.active_start));
            v.set(M::ChurnedOfActiveAtStart, count(self.churned_of_start));
            v.set(
                M::TimeToConversionDays,
                mean_days(self.to_conversion_ms, self.won),
            );
            v.set(M::SalesCycleDays, mean_days(self.cycle_ms, self.cycle_n));
            v.set(M::AvgLeadScore, mean(self.score_sum, self.score_n));
            v.set(
                M::AvgCustomerLifetimeDays,
                mean_days(self.lifetime_ms, self.churned),
            );
            v.set(
                M::CohortConversionRate,
                percent(self.cohort_won, self.leads),
            );
            v.set(M::EngagementRate, percent(self.engaged, self.reachable));
        }
        if tables.contains(&Table::Events) {
            v.set(M::Sessions, count(self.sessions));
            v.set(M::Visits, count(self.visits));
            v.set(M::Engagements, count(self.engagements));
            v.set(M::RecurringRevenue, money(self.recurring));
            v.set(
                M::Nps,
                (self.nps_n > 0).then(|| {
                    (self.nps_promoters - self.nps_detractors) as f64 / self.nps_n as f64 * 100.0
                }),
            );
        }
        if tables.contains(&Table::Spend) {
            v.set(M::AdSpend, money(self.ad_spend));
            v.set(M::MarketingSpend, money(self.marketing_spend));
            v.set(M::TotalSpend, money(self.total_spend));
            v.set(M::Impressions, count(self.impressions));
            v.set(M::Clicks, count(self.clicks));
        }
        v
    }
}

/// Accumulates raw numbers per (bucket, segment).
struct Acc {
    raw: Vec<HashMap<String, Raw>>,
}

impl Acc {
    fn at(&mut self, bucket: usize, segment: String) -> &mut Raw {
        self.raw[bucket].entry(segment).or_default()
    }
}

/// The segmentation of a query over rows of `alias`.
fn segments<'a>(db: &Db, alias: &'a str, q: &MeasureQuery<'a>) -> Result<Segments<'a>> {
    Segments::new(db.backend(), alias, q.dimension)
}

/// Computes the requested measures for every bucket (and segment): from the daily rollups
/// where they keep the segmentation, else from the rows.
pub async fn compute(db: &Db, q: &MeasureQuery<'_>) -> Result<Measured> {
    compute_with(db, q, false).await
}

/// The same, always from the rows: the reference the rollups are checked against.
pub async fn compute_from_rows(db: &Db, q: &MeasureQuery<'_>) -> Result<Measured> {
    compute_with(db, q, true).await
}

async fn compute_with(db: &Db, q: &MeasureQuery<'_>, from_rows: bool) -> Result<Measured> {
    let n = q.bounds.span_count();
    let mut tables = BTreeSet::new();
    for m in q.measures {
        let table = m.table();
        if q.dimension.is_none_or(|d| d.supported_by(table)) {
            tables.insert(table);
        }
    }
    let mut acc = Acc {
        raw: vec![HashMap::new(); n],
    };
    if n > 0 {
        let needs = |m: Measure| q.measures.contains(&m);
        let daily = daily::covers(q.dimension) && !from_rows;
        if tables.contains(&Table::Leads) {
            let customers_needed = needs(Measure::ActiveCustomers)
                || needs(Measure::ActiveAtStart)
                || needs(Measure::ChurnedOfActiveAtStart);
            let reach_needed = needs(Measure::EngagementRate);
            if daily {
                let lead_needs = daily::LeadNeeds {
                    customers: customers_needed,
                    churn_of_start: needs(Measure::ChurnedOfActiveAtStart),
                    reach: reach_needed,
                };
                daily::leads(db, q, &lead_needs, &mut acc).await?;
            } else {
                rows::lead_flows(db, q, &mut acc).await?;
                if customers_needed {
                    rows::customers(db, q, &mut acc).await?;
                }
                if reach_needed {
                    rows::reach(db, q, &mut acc).await?;
                }
            }
            if reach_needed {
                // The daily summaries answer spans that are whole periods; the rows the rest.
                let left = if daily {
                    daily::engaged(db, q, &mut acc).await?
                } else {
                    q.bounds.spans.clone()
                };
                if !left.is_empty() {
                    rows::engaged(db, q, &left, &mut acc).await?;
                }
            }
        }
        if tables.contains(&Table::Events) {
            if daily {
                daily::events(db, q, &mut acc).await?;
            } else {
                rows::events(db, q, &mut acc).await?;
            }
        }
        if tables.contains(&Table::Spend) {
            rows::spend(db, q, &mut acc).await?;
        }
    }
    let seg = segments(db, "l", q)?;
    // The periods' spans; the gaps between them were read only to keep the spans contiguous.
    let mut raw: Vec<Option<HashMap<String, Raw>>> = acc.raw.into_iter().map(Some).collect();
    let buckets = q
        .bounds
        .spans
        .iter()
        .map(|&s| {
            raw.get_mut(s)
                .and_then(Option::take)
                .unwrap_or_default()
                .into_iter()
                .map(|(s, raw)| (seg.name(s), raw.finish(&tables)))
                .collect()
        })
        .collect();
    Ok(Measured {
        buckets,
        tables,
        declared: seg.declared(),
    })
}

/// `(col >= a AND col < b OR …)`: the spans `spans` of `bounds` (a query's instants or days),
/// adjacent spans as one range. Passes that count per bucket read only the periods' spans, not
/// the gaps between them (a year between a week and the same week last year).
fn in_spans<T: std::fmt::Display>(col: &str, bounds: &[T], spans: &[usize]) -> String {
    let mut sorted = spans.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for s in sorted {
        match ranges.last_mut() {
            Some((_, end)) if *end == s => *end = s + 1,
            _ => ranges.push((s, s + 1)),
        }
    }
    if ranges.is_empty() {
        return "1 = 0".to_owned();
    }
    let parts: Vec<String> = ranges
        .iter()
        .map(|&(a, b)| format!("{col} >= {} AND {col} < {}", bounds[a], bounds[b]))
        .collect();
    format!("({})", parts.join(" OR "))
}

/// `CASE WHEN col < b1 THEN 0 … END`: which bucket an in-range value falls in.
fn bucket_of<T: std::fmt::Display>(col: &str, bounds: &[T]) -> String {
    let n = bounds.len() - 1;
    if n == 1 {
        return "CAST(0 AS BIGINT)".to_owned();
    }
    let mut s = String::from("CAST(CASE");
    for (i, b) in bounds[1..n].iter().enumerate() {
        let _ = write!(s, " WHEN {col} < {b} THEN {i}");
    }
    let _ = write!(s, " ELSE {} END AS BIGINT)", n - 1);
    s
}

/// A bucket's own start or end, looked up from a bucket number column.
fn bound_of<T: std::fmt::Display>(bucket_col: &str, bounds: &[T]) -> String {
    let mut s = format!("CASE {bucket_col}");
    for (i, b) in bounds.iter().enumerate() {
        let _ = write!(s, " WHEN {i} THEN {b}");
    }
    s.push_str(" END");
    s
}

fn get_i64(row: &QueryResult, idx: usize) -> Result<i64> {
    let v: Option<i64> = row.try_get_by_index(idx)?;
    Ok(v.unwrap_or(0))
}

fn get_bucket(row: &QueryResult, idx: usize) -> Result<usize> {
    Ok(get_i64(row, idx)?.max(0) as usize)
}

/// Count and value sum of events of any kind, for custom KPI scripts' `count_events` and
/// `sum_events`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KindTotals {
    pub count: f64,
    pub sum: f64,
}

/// Totals per (bucket, segment, kind) for the given kinds, in one grouped statement.
pub async fn event_kinds(
    db: &Db,
    team_id: i32,
    bounds: &Buckets,
    dimension: Option<&Dimension>,
    kinds: &[String],
) -> Result<HashMap<(usize, String, String), KindTotals>> {
    let mut out = HashMap::new();
    let b = &bounds.instants;
    if kinds.is_empty() || b.len() < 2 {
        return Ok(out);
    }
    // Rows come back by span; replies are by period (gaps dropped).
    let period_of: HashMap<usize, usize> = bounds
        .spans
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, i))
        .collect();
    if daily::covers(dimension) {
        let q = MeasureQuery {
            team_id,
            bounds,
            dimension,
            measures: &BTreeSet::new(),
        };
        for (span, segment, kind, count, sum) in daily::event_kinds(db, &q, kinds).await? {
            let Some(&bucket) = period_of.get(&span) else {
                continue;
            };
            out.insert(
                (bucket, segment, kind),
                KindTotals {
                    count: count as f64,
                    sum: sum as f64 / MICROS,
                },
            );
        }
        return Ok(out);
    }
    let seg = Segments::new(db.backend(), "ev", dimension)?;
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {bucket}, {expr}, ev.kind, COUNT(*), CAST(SUM(COALESCE(ev.value, 0)) AS BIGINT) \
         FROM events ev{join} WHERE ev.team_id = {team_id} AND {within} AND ev.kind IN (",
        bucket = bucket_of("ev.occurred_at", b),
        expr = seg.expr(),
        join = seg.join(),
        within = in_spans("ev.occurred_at", b, &bounds.spans),
    ));
    sql.params(kinds.iter().map(String::as_str));
    sql.push(")");
    seg.push_where(&mut sql);
    sql.push(" GROUP BY 1, 2, 3");
    for row in db.conn().query_all_raw(sql.build()).await? {
        let Some(&bucket) = period_of.get(&get_bucket(&row, 0)?) else {
            continue;
        };
        let segment = seg.name(row.try_get_by_index(1)?);
        let kind: String = row.try_get_by_index(2)?;
        out.insert(
            (bucket, segment, kind),
            KindTotals {
                count: get_i64(&row, 3)? as f64,
                sum: get_i64(&row, 4)? as f64 / MICROS,
            },
        );
    }
    Ok(out)
}
