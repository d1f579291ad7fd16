//! The same measures as the row passes, read from the daily rollups (`lead_days`, `event_days`)
//! when the segmentation is one the rollups keep (none, channel, campaign, source). A bucket is a
//! range of local days, so a week with a 12-week trend reads ~91 days × segments.
//!
//! Point-in-time counts come from running sums: the customers active at a boundary are those won
//! before it minus those whose later of won and churned is before it; the leads reachable in a
//! bucket are those created before its end minus those settled (created and closed) before its
//! start, minus the rare leads created in the bucket but closed before it started (read from the
//! rows through a partial index). How many of the customers active at a bucket's start churned in
//! it needs both timestamps of each churned customer, so it reads the bucket's churned rows.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use lodestar_core::dimension::Dimension;
use lodestar_core::domain::event_kind;
use lodestar_core::period::{PeriodKey, PeriodKind};
use sea_orm::ConnectionTrait;

use super::{Acc, MeasureQuery, bound_of, bucket_of, get_bucket, get_i64, in_spans, segments};
use crate::Db;
use crate::error::Result;
use crate::rollup::{
    CHURNED, COHORT_WON, CYCLE_MS, CYCLE_N, ENDED, LEAD_COLUMNS, LEAD_VALUE, LEADS, LIFETIME_MS,
    LOST, MQLS, OPPORTUNITIES, SALS, SCORE_N, SCORE_SUM, SETTLED, SQLS, TO_CONVERSION_MS, WON,
    WON_VALUE, kind_of,
};
use crate::sql::{Sql, quoted_list};

/// Whether the rollups can answer for this segmentation.
pub(super) fn covers(dimension: Option<&Dimension>) -> bool {
    matches!(
        dimension,
        None | Some(Dimension::Channel | Dimension::Campaign | Dimension::Source)
    )
}

/// Running totals of one segment.
#[derive(Debug, Default, Clone, Copy)]
struct Running {
    leads: i64,
    settled: i64,
    won: i64,
    ended: i64,
}

impl std::ops::AddAssign for Running {
    fn add_assign(&mut self, o: Running) {
        self.leads += o.leads;
        self.settled += o.settled;
        self.won += o.won;
        self.ended += o.ended;
    }
}

/// What the lead passes should produce besides the flows.
pub(super) struct LeadNeeds {
    pub customers: bool,
    pub churn_of_start: bool,
    pub reach: bool,
}

fn sums() -> String {
    LEAD_COLUMNS
        .iter()
        .map(|c| format!("CAST(SUM(r.{c}) AS BIGINT)"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) async fn leads(
    db: &Db,
    q: &MeasureQuery<'_>,
    needs: &LeadNeeds,
    acc: &mut Acc,
) -> Result<()> {
    let d = &q.bounds.days;
    let n = d.len() - 1;
    let seg = segments(db, "r", q)?;
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {bucket}, {expr}, {sums} FROM lead_days r WHERE r.team_id = {team} \
         AND r.day >= {lo} AND r.day < {hi} GROUP BY 1, 2",
        bucket = bucket_of("r.day", d),
        expr = seg.expr(),
        sums = sums(),
        team = q.team_id,
        lo = d[0],
        hi = d[n],
    ));
    let mut in_bucket: Vec<HashMap<String, Running>> = vec![HashMap::new(); n];
    for row in db.conn().query_all_raw(sql.build()).await? {
        let bucket = get_bucket(&row, 0)?;
        let segment: String = row.try_get_by_index(1)?;
        let v: Vec<i64> = (0..LEAD_COLUMNS.len())
            .map(|i| get_i64(&row, 2 + i))
            .collect::<Result<_>>()?;
        in_bucket[bucket].insert(
            segment.clone(),
            Running {
                leads: v[LEADS],
                settled: v[SETTLED],
                won: v[WON],
                ended: v[ENDED],
            },
        );
        // Only rows with some flow in the bucket make a segment appear, as with the row passes
        // (`ended` and `settled` are running-sum bookkeeping, not flows).
        if v[..ENDED].iter().chain(&v[SCORE_SUM..]).all(|&x| x == 0) {
            continue;
        }
        let r = acc.at(bucket, segment);
        r.leads += v[LEADS];
        r.lead_value += v[LEAD_VALUE];
        r.cohort_won += v[COHORT_WON];
        r.mqls += v[MQLS];
        r.sals += v[SALS];
        r.sqls += v[SQLS];
        r.opportunities += v[OPPORTUNITIES];
        r.lost += v[LOST];
        r.won += v[WON];
        r.won_value += v[WON_VALUE];
        r.to_conversion_ms += v[TO_CONVERSION_MS];
        r.cycle_ms += v[CYCLE_MS];
        r.cycle_n += v[CYCLE_N];
        r.churned += v[CHURNED];
        r.score_sum += v[SCORE_SUM];
        r.score_n += v[SCORE_N];
        r.lifetime_ms += v[LIFETIME_MS];
    }
    if !(needs.customers || needs.reach) {
        return Ok(());
    }

    // Running totals before the first bucket.
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {expr}, CAST(SUM(r.leads) AS BIGINT), CAST(SUM(r.settled) AS BIGINT), \
         CAST(SUM(r.won) AS BIGINT), CAST(SUM(r.ended) AS BIGINT) \
         FROM lead_days r WHERE r.team_id = {team} AND r.day < {lo} GROUP BY 1",
        expr = seg.expr(),
        team = q.team_id,
        lo = d[0],
    ));
    let mut running: HashMap<String, Running> = HashMap::new();
    for row in db.conn().query_all_raw(sql.build()).await? {
        let segment: String = row.try_get_by_index(0)?;
        running.insert(
            segment,
            Running {
                leads: get_i64(&row, 1)?,
                settled: get_i64(&row, 2)?,
                won: get_i64(&row, 3)?,
                ended: get_i64(&row, 4)?,
            },
        );
    }
    let unreachable = if needs.reach {
        closed_before_created(db, q).await?
    } else {
        HashMap::new()
    };
    let churned_of_start = if needs.churn_of_start {
        churned_of_start(db, q).await?
    } else {
        HashMap::new()
    };

    let mut all: BTreeSet<String> = running.keys().cloned().collect();
    for b in &in_bucket {
        all.extend(b.keys().cloned());
    }
    for segment in all {
        let mut total = running.get(&segment).copied().unwrap_or_default();
        for (i, bucket) in in_bucket.iter().enumerate() {
            let here = bucket.get(&segment).copied().unwrap_or_default();
            let active_start = total.won - total.ended;
            let key = (i, segment.clone());
            let reachable = total.leads + here.leads
                - total.settled
                - unreachable.get(&key).copied().unwrap_or(0);
            total += here;
            let active_end = total.won - total.ended;
            if needs.customers {
                let churned = churned_of_start.get(&key).copied().unwrap_or(0);
                if active_start != 0 || active_end != 0 || churned != 0 {
                    let r = acc.at(i, segment.clone());
                    r.active_start += active_start;
                    r.active_end += active_end;
                    r.churned_of_start += churned;
                }
            }
            if needs.reach && reachable > 0 {
                acc.at(i, segment.clone()).reachable += reachable;
            }
        }
    }
    Ok(())
}

/// Per (bucket, segment): leads created in the bucket that were won or lost before it started.
/// They are created before the bucket's end but not reachable in it, and the running sums cannot
/// see them (their settling day is their creation day).
async fn closed_before_created(
    db: &Db,
    q: &MeasureQuery<'_>,
) -> Result<HashMap<(usize, String), i64>> {
    let b = &q.bounds.instants;
    let n = b.len() - 1;
    let seg = segments(db, "l", q)?;
    let mut sql = Sql::new(db.backend());
    // The condition repeats the partial index's predicate word for word, so both planners use it.
    sql.push(&format!(
        "SELECT x.bucket, x.segment, SUM(CASE WHEN x.won_at < {start} OR x.lost_at < {start} \
         THEN 1 ELSE 0 END) FROM (SELECT {bucket} AS bucket, {expr} AS segment, l.won_at, \
         l.lost_at FROM leads l WHERE l.team_id = {team} \
         AND (l.won_at < l.created_at OR l.lost_at < l.created_at) \
         AND {within}) x GROUP BY 1, 2",
        start = bound_of("x.bucket", &b[..n]),
        bucket = bucket_of("l.created_at", b),
        expr = seg.expr(),
        team = q.team_id,
        within = in_spans("l.created_at", b, &q.bounds.spans),
    ));
    counts(db, sql).await
}

/// Reads `(bucket, segment, count)` rows into a map, leaving out zero counts.
async fn counts(db: &Db, sql: Sql) -> Result<HashMap<(usize, String), i64>> {
    let mut out = HashMap::new();
    for row in db.conn().query_all_raw(sql.build()).await? {
        let bucket = get_bucket(&row, 0)?;
        let segment: String = row.try_get_by_index(1)?;
        let count = get_i64(&row, 2)?;
        if count != 0 {
            out.insert((bucket, segment), count);
        }
    }
    Ok(out)
}

/// Per (bucket, segment): customers won before the bucket's start who churned in it.
async fn churned_of_start(db: &Db, q: &MeasureQuery<'_>) -> Result<HashMap<(usize, String), i64>> {
    let b = &q.bounds.instants;
    let n = b.len() - 1;
    let seg = segments(db, "l", q)?;
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT x.bucket, x.segment, SUM(CASE WHEN x.won_at < {start} THEN 1 ELSE 0 END) \
         FROM (SELECT {bucket} AS bucket, {expr} AS segment, l.won_at FROM leads l \
         WHERE l.team_id = {team} AND {within} \
         AND l.won_at IS NOT NULL) x GROUP BY 1, 2",
        start = bound_of("x.bucket", &b[..n]),
        bucket = bucket_of("l.churned_at", b),
        expr = seg.expr(),
        team = q.team_id,
        within = in_spans("l.churned_at", b, &q.bounds.spans),
    ));
    counts(db, sql).await
}

pub(super) async fn events(db: &Db, q: &MeasureQuery<'_>, acc: &mut Acc) -> Result<()> {
    let d = &q.bounds.days;
    let seg = segments(db, "r", q)?;
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {bucket}, {expr}, \
           CAST(SUM(CASE WHEN r.kind = '{session}' THEN r.n ELSE 0 END) AS BIGINT), \
           CAST(SUM(CASE WHEN r.kind = '{visit}' THEN r.n ELSE 0 END) AS BIGINT), \
           CAST(SUM(CASE WHEN r.kind = '{engagement}' THEN r.n ELSE 0 END) AS BIGINT), \
           CAST(SUM(CASE WHEN r.kind = '{revenue}' THEN r.value_sum ELSE 0 END) AS BIGINT), \
           CAST(SUM(CASE WHEN r.kind = '{nps}' THEN r.n ELSE 0 END) AS BIGINT), \
           CAST(SUM(r.promoters) AS BIGINT), CAST(SUM(r.detractors) AS BIGINT), \
           CAST(SUM(r.n) AS BIGINT) \
         FROM event_days r WHERE r.team_id = {team} \
         AND r.kind IN ({built_in}) \
         AND {within} GROUP BY 1, 2",
        bucket = bucket_of("r.day", d),
        expr = seg.expr(),
        team = q.team_id,
        within = in_spans("r.day", d, &q.bounds.spans),
        session = event_kind::SESSION,
        visit = event_kind::VISIT,
        engagement = event_kind::ENGAGEMENT,
        revenue = event_kind::REVENUE,
        nps = event_kind::NPS,
        built_in = quoted_list(&event_kind::BUILT_IN),
    ));
    for row in db.conn().query_all_raw(sql.build()).await? {
        let v: Vec<i64> = (2..10).map(|i| get_i64(&row, i)).collect::<Result<_>>()?;
        // The row passes see only kinds with rows; a rollup row zeroed by updates is no row.
        if v[7] == 0 {
            continue;
        }
        let bucket = get_bucket(&row, 0)?;
        let segment: String = row.try_get_by_index(1)?;
        let r = acc.at(bucket, segment);
        r.sessions += v[0];
        r.visits += v[1];
        r.engagements += v[2];
        r.recurring += v[3];
        r.nps_n += v[4];
        r.nps_promoters += v[5];
        r.nps_detractors += v[6];
    }
    Ok(())
}

/// `(bucket, segment, kind) → (count, value sum in micros)` for custom event kinds.
pub(super) async fn event_kinds(
    db: &Db,
    q: &MeasureQuery<'_>,
    kinds: &[String],
) -> Result<Vec<(usize, String, String, i64, i64)>> {
    let d = &q.bounds.days;
    let seg = segments(db, "r", q)?;
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {bucket}, {expr}, r.kind, CAST(SUM(r.n) AS BIGINT), \
         CAST(SUM(r.value_sum) AS BIGINT) FROM event_days r WHERE r.team_id = {team} \
         AND {within} AND r.kind IN (",
        bucket = bucket_of("r.day", d),
        expr = seg.expr(),
        team = q.team_id,
        within = in_spans("r.day", d, &q.bounds.spans),
    ));
    sql.params(kinds.iter().map(String::as_str));
    sql.push(") GROUP BY 1, 2, 3");
    let mut out = Vec::new();
    for row in db.conn().query_all_raw(sql.build()).await? {
        let count = get_i64(&row, 3)?;
        if count == 0 {
            continue;
        }
        out.push((
            get_bucket(&row, 0)?,
            row.try_get_by_index(1)?,
            row.try_get_by_index(2)?,
            count,
            get_i64(&row, 4)?,
        ));
    }
    Ok(out)
}

/// Engaged reachable leads per bucket from `engaged_periods`, for the periods' spans that are
/// exactly one period (what reports ask for). Returns the spans left for the row pass: the days
/// so far of a period, a period read to a date.
pub(super) async fn engaged(db: &Db, q: &MeasureQuery<'_>, acc: &mut Acc) -> Result<Vec<usize>> {
    let d = &q.bounds.days;
    let mut wanted: HashMap<(&'static str, i32), usize> = HashMap::new();
    // Spans that are the first days of a period: (kind, first day, end day, span).
    let mut prefixes: Vec<(&'static str, i32, i32, usize)> = Vec::new();
    let mut left = Vec::new();
    for &i in &q.bounds.spans {
        match (kind_of(d[i], d[i + 1]), prefix_of(d[i], d[i + 1])) {
            (Some(kind), _) => {
                wanted.insert((kind.as_str(), d[i]), i);
            }
            (None, Some(kind)) => prefixes.push((kind.as_str(), d[i], d[i + 1], i)),
            (None, None) => left.push(i),
        }
    }
    if !wanted.is_empty() {
        whole_periods(db, q, &wanted, acc).await?;
    }
    if !prefixes.is_empty() {
        first_days(db, q, &prefixes, acc).await?;
    }
    Ok(left)
}

/// The kind of the smallest period that `[first, end)` (local days) is the first days of, if any.
fn prefix_of(first: i32, end: i32) -> Option<PeriodKind> {
    let date = |day: i32| NaiveDate::default() + chrono::TimeDelta::days(i64::from(day));
    PeriodKind::ALL.into_iter().find(|&kind| {
        let p = PeriodKey::containing(kind, date(first));
        p.first_day() == date(first) && p.end_day() >= date(end)
    })
}

/// Engaged leads of whole periods, from `engaged_periods`.
async fn whole_periods(
    db: &Db,
    q: &MeasureQuery<'_>,
    wanted: &HashMap<(&'static str, i32), usize>,
    acc: &mut Acc,
) -> Result<()> {
    let seg = segments(db, "r", q)?;
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT r.period_kind, r.day, {expr}, CAST(SUM(r.leads) AS BIGINT) \
         FROM engaged_periods r WHERE r.team_id = {team} AND (",
        expr = seg.expr(),
        team = q.team_id,
    ));
    let mut by_kind: HashMap<&str, Vec<i32>> = HashMap::new();
    for (kind, first) in wanted.keys() {
        by_kind.entry(kind).or_default().push(*first);
    }
    for (i, (kind, firsts)) in by_kind.iter().enumerate() {
        let list: Vec<String> = firsts.iter().map(i32::to_string).collect();
        sql.push(if i == 0 { "" } else { " OR " }).push(&format!(
            "(r.period_kind = '{kind}' AND r.day IN ({}))",
            list.join(", ")
        ));
    }
    sql.push(") GROUP BY 1, 2, 3");
    for row in db.conn().query_all_raw(sql.build()).await? {
        let kind: String = row.try_get_by_index(0)?;
        let first: i32 = row.try_get_by_index(1)?;
        let segment: String = row.try_get_by_index(2)?;
        let count = get_i64(&row, 3)?;
        let bucket = wanted
            .iter()
            .find(|((k, f), _)| *k == kind && *f == first)
            .map(|(_, &b)| b);
        if let Some(bucket) = bucket
            && count > 0
        {
            acc.at(bucket, segment).engaged += count;
        }
    }
    Ok(())
}

/// Engaged leads of the first days of periods (a month to day 18, and the months it is compared
/// with), from `engaged_first`: the leads that started to count on one of those days.
async fn first_days(
    db: &Db,
    q: &MeasureQuery<'_>,
    prefixes: &[(&'static str, i32, i32, usize)],
    acc: &mut Acc,
) -> Result<()> {
    let seg = segments(db, "r", q)?;
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT r.period_kind, r.day, {expr}, CAST(SUM(r.leads) AS BIGINT) \
         FROM engaged_first r WHERE r.team_id = {team} AND (",
        expr = seg.expr(),
        team = q.team_id,
    ));
    for (i, (kind, first, end, _)) in prefixes.iter().enumerate() {
        sql.push(if i == 0 { "" } else { " OR " }).push(&format!(
            "(r.period_kind = '{kind}' AND r.day >= {first} AND r.day < {end})"
        ));
    }
    sql.push(") GROUP BY 1, 2, 3");
    for row in db.conn().query_all_raw(sql.build()).await? {
        let kind: String = row.try_get_by_index(0)?;
        let day: i32 = row.try_get_by_index(1)?;
        let segment: String = row.try_get_by_index(2)?;
        let count = get_i64(&row, 3)?;
        let bucket = prefixes
            .iter()
            .find(|(k, first, end, _)| *k == kind && *first <= day && day < *end)
            .map(|(.., b)| *b);
        if let Some(bucket) = bucket
            && count != 0
        {
            acc.at(bucket, segment).engaged += count;
        }
    }
    Ok(())
}
