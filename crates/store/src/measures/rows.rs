//! The row passes: base measures straight from the stored rows, one grouped statement per
//! concern (lead flows, customers at a point in time, engagement reach, events, spend). They
//! serve what the daily rollups cannot (`attrs.*`, segment sets, spend) and are the reference
//! the rollups are checked against (`compute_from_rows`).

use lodestar_core::domain::{AD_SPEND_CATEGORY, NON_MARKETING_CATEGORY, event_kind, nps};
use sea_orm::ConnectionTrait;

use super::{Acc, MeasureQuery, bound_of, bucket_of, get_bucket, get_i64, in_spans, segments};
use crate::Db;
use crate::error::Result;
use crate::sql::{Sql, quoted_list};

/// Flows anchored on one lifecycle timestamp each, in one UNION ALL statement. Every branch
/// returns (anchor, bucket, segment, a, b, c, d, e).
pub(super) async fn lead_flows(db: &Db, q: &MeasureQuery<'_>, acc: &mut Acc) -> Result<()> {
    let b = &q.bounds.instants;
    let seg = segments(db, "l", q)?;
    let zero3 = "0 AS c, 0 AS d, 0 AS e";
    let counted = format!("COUNT(*) AS a, 0 AS b, {zero3}");
    // (anchor, timestamp column, aggregates, extra condition)
    let parts: [(&str, &str, &str, &str); 8] = [
        (
            "created",
            "created_at",
            "COUNT(*) AS a, CAST(SUM(COALESCE(l.value, 0)) AS BIGINT) AS b, \
             SUM(CASE WHEN l.won_at IS NOT NULL THEN 1 ELSE 0 END) AS c, \
             CAST(SUM(COALESCE(l.score, 0)) AS BIGINT) AS d, COUNT(l.score) AS e",
            "",
        ),
        ("mql", "mql_at", &counted, ""),
        ("sal", "sal_at", &counted, ""),
        ("sql", "sql_at", &counted, ""),
        ("opportunity", "opportunity_at", &counted, ""),
        ("lost", "lost_at", &counted, ""),
        (
            "won",
            "won_at",
            "COUNT(*) AS a, CAST(SUM(COALESCE(l.deal_value, 0)) AS BIGINT) AS b, \
             CAST(SUM(l.won_at - l.created_at) AS BIGINT) AS c, \
             CAST(SUM(CASE WHEN l.sql_at IS NOT NULL THEN l.won_at - l.sql_at ELSE 0 END) AS BIGINT) AS d, \
             SUM(CASE WHEN l.sql_at IS NOT NULL THEN 1 ELSE 0 END) AS e",
            "",
        ),
        (
            "churned",
            "churned_at",
            "COUNT(*) AS a, CAST(SUM(l.churned_at - l.won_at) AS BIGINT) AS b, 0 AS c, 0 AS d, 0 AS e",
            " AND l.won_at IS NOT NULL",
        ),
    ];
    let mut sql = Sql::new(db.backend());
    for (i, (anchor, col, cols, extra)) in parts.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push(&format!(
            "SELECT '{anchor}' AS anchor, {bucket} AS bucket, {expr} AS segment, {cols} \
             FROM leads l{join} WHERE l.team_id = {team} AND {within}{extra}",
            within = in_spans(&format!("l.{col}"), b, &q.bounds.spans),
            bucket = bucket_of(&format!("l.{col}"), b),
            expr = seg.expr(),
            join = seg.join(),
            team = q.team_id,
        ));
        seg.push_where(&mut sql);
        sql.push(" GROUP BY 2, 3");
    }
    for row in db.conn().query_all_raw(sql.build()).await? {
        let anchor: String = row.try_get_by_index(0)?;
        let bucket = get_bucket(&row, 1)?;
        let segment: String = row.try_get_by_index(2)?;
        let [a, bb, c, d, e] = [
            get_i64(&row, 3)?,
            get_i64(&row, 4)?,
            get_i64(&row, 5)?,
            get_i64(&row, 6)?,
            get_i64(&row, 7)?,
        ];
        let r = acc.at(bucket, segment);
        match anchor.as_str() {
            "created" => {
                r.leads += a;
                r.lead_value += bb;
                r.cohort_won += c;
                r.score_sum += d;
                r.score_n += e;
            }
            "mql" => r.mqls += a,
            "sal" => r.sals += a,
            "sql" => r.sqls += a,
            "opportunity" => r.opportunities += a,
            "lost" => r.lost += a,
            "won" => {
                r.won += a;
                r.won_value += bb;
                r.to_conversion_ms += c;
                r.cycle_ms += d;
                r.cycle_n += e;
            }
            _ => {
                r.churned += a;
                r.lifetime_ms += bb;
            }
        }
    }
    Ok(())
}

/// Customers active at each boundary, and how many of those active at a bucket's start churned
/// in it: one pass over the team's customers with a column per boundary.
pub(super) async fn customers(db: &Db, q: &MeasureQuery<'_>, acc: &mut Acc) -> Result<()> {
    let b = &q.bounds.instants;
    let n = b.len() - 1;
    let seg = segments(db, "l", q)?;
    let mut cols = Vec::with_capacity(2 * n + 1);
    for t in b {
        cols.push(format!(
            "SUM(CASE WHEN l.won_at < {t} AND (l.churned_at IS NULL OR l.churned_at >= {t}) THEN 1 ELSE 0 END)"
        ));
    }
    for i in 0..n {
        cols.push(format!(
            "SUM(CASE WHEN l.won_at < {s} AND l.churned_at >= {s} AND l.churned_at < {e} THEN 1 ELSE 0 END)",
            s = b[i],
            e = b[i + 1]
        ));
    }
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {expr}, {cols} FROM leads l{join} WHERE l.team_id = {team} AND l.won_at < {hi}",
        expr = seg.expr(),
        join = seg.join(),
        cols = cols.join(", "),
        team = q.team_id,
        hi = b[n],
    ));
    seg.push_where(&mut sql);
    sql.push(" GROUP BY 1");
    for row in db.conn().query_all_raw(sql.build()).await? {
        let segment: String = row.try_get_by_index(0)?;
        let active: Vec<i64> = (0..=n)
            .map(|i| get_i64(&row, 1 + i))
            .collect::<Result<_>>()?;
        for i in 0..n {
            let churned = get_i64(&row, 2 + n + i)?;
            if active[i] == 0 && active[i + 1] == 0 && churned == 0 {
                continue;
            }
            let r = acc.at(i, segment.clone());
            r.active_start += active[i];
            r.active_end += active[i + 1];
            r.churned_of_start += churned;
        }
    }
    Ok(())
}

/// Leads reachable in each bucket: created before its end, not won or lost before its start.
pub(super) async fn reach(db: &Db, q: &MeasureQuery<'_>, acc: &mut Acc) -> Result<()> {
    let b = &q.bounds.instants;
    let n = b.len() - 1;
    let seg = segments(db, "l", q)?;
    let cols: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "SUM(CASE WHEN l.created_at < {e} AND (l.won_at IS NULL OR l.won_at >= {s}) \
                 AND (l.lost_at IS NULL OR l.lost_at >= {s}) THEN 1 ELSE 0 END)",
                s = b[i],
                e = b[i + 1]
            )
        })
        .collect();
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {expr}, {cols} FROM leads l{join} WHERE l.team_id = {team} AND l.created_at < {hi} \
         AND (l.won_at IS NULL OR l.won_at >= {lo}) AND (l.lost_at IS NULL OR l.lost_at >= {lo})",
        expr = seg.expr(),
        join = seg.join(),
        cols = cols.join(", "),
        team = q.team_id,
        lo = b[0],
        hi = b[n],
    ));
    seg.push_where(&mut sql);
    sql.push(" GROUP BY 1");
    for row in db.conn().query_all_raw(sql.build()).await? {
        let segment: String = row.try_get_by_index(0)?;
        for i in 0..n {
            let reachable = get_i64(&row, 1 + i)?;
            if reachable > 0 {
                acc.at(i, segment.clone()).reachable += reachable;
            }
        }
    }
    Ok(())
}

/// Reachable leads with at least one engagement event in the bucket, by the lead's segment.
/// Only the spans `spans` are read.
pub(super) async fn engaged(
    db: &Db,
    q: &MeasureQuery<'_>,
    spans: &[usize],
    acc: &mut Acc,
) -> Result<()> {
    let b = &q.bounds.instants;
    let n = b.len() - 1;
    let seg = segments(db, "l", q)?;
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT e.bucket, {expr}, COUNT(*) FROM (\
           SELECT DISTINCT ev.lead_id, {bucket} AS bucket FROM events ev \
           WHERE ev.team_id = {team} AND ev.kind = '{engagement}' AND ev.lead_id IS NOT NULL \
           AND {within}\
         ) e JOIN leads l ON l.team_id = {team} AND l.ext_id = e.lead_id{join} \
         WHERE l.created_at < {end} AND (l.won_at IS NULL OR l.won_at >= {start}) \
         AND (l.lost_at IS NULL OR l.lost_at >= {start})",
        expr = seg.expr(),
        join = seg.join(),
        bucket = bucket_of("ev.occurred_at", b),
        team = q.team_id,
        within = in_spans("ev.occurred_at", b, spans),
        start = bound_of("e.bucket", &b[..n]),
        end = bound_of("e.bucket", &b[1..]),
        engagement = event_kind::ENGAGEMENT,
    ));
    seg.push_where(&mut sql);
    sql.push(" GROUP BY 1, 2");
    for row in db.conn().query_all_raw(sql.build()).await? {
        let bucket = get_bucket(&row, 0)?;
        let segment: String = row.try_get_by_index(1)?;
        acc.at(bucket, segment).engaged += get_i64(&row, 2)?;
    }
    Ok(())
}

pub(super) async fn events(db: &Db, q: &MeasureQuery<'_>, acc: &mut Acc) -> Result<()> {
    let b = &q.bounds.instants;
    let seg = segments(db, "ev", q)?;
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {bucket}, {expr}, \
           SUM(CASE WHEN ev.kind = '{session}' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN ev.kind = '{visit}' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN ev.kind = '{engagement}' THEN 1 ELSE 0 END), \
           CAST(SUM(CASE WHEN ev.kind = '{revenue}' THEN COALESCE(ev.value, 0) ELSE 0 END) AS BIGINT), \
           SUM(CASE WHEN ev.kind = '{nps}' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN ev.kind = '{nps}' AND ev.value >= {promoter} THEN 1 ELSE 0 END), \
           SUM(CASE WHEN ev.kind = '{nps}' AND ev.value <= {detractor} THEN 1 ELSE 0 END) \
         FROM events ev{join} WHERE ev.team_id = {team} \
         AND ev.kind IN ({built_in}) \
         AND {within}",
        bucket = bucket_of("ev.occurred_at", b),
        expr = seg.expr(),
        join = seg.join(),
        team = q.team_id,
        within = in_spans("ev.occurred_at", b, &q.bounds.spans),
        session = event_kind::SESSION,
        visit = event_kind::VISIT,
        engagement = event_kind::ENGAGEMENT,
        revenue = event_kind::REVENUE,
        nps = event_kind::NPS,
        promoter = nps::PROMOTER_MIN_MICROS,
        detractor = nps::DETRACTOR_MAX_MICROS,
        built_in = quoted_list(&event_kind::BUILT_IN),
    ));
    seg.push_where(&mut sql);
    sql.push(" GROUP BY 1, 2");
    for row in db.conn().query_all_raw(sql.build()).await? {
        let bucket = get_bucket(&row, 0)?;
        let segment: String = row.try_get_by_index(1)?;
        let r = acc.at(bucket, segment);
        r.sessions += get_i64(&row, 2)?;
        r.visits += get_i64(&row, 3)?;
        r.engagements += get_i64(&row, 4)?;
        r.recurring += get_i64(&row, 5)?;
        r.nps_n += get_i64(&row, 6)?;
        r.nps_promoters += get_i64(&row, 7)?;
        r.nps_detractors += get_i64(&row, 8)?;
    }
    Ok(())
}

pub(super) async fn spend(db: &Db, q: &MeasureQuery<'_>, acc: &mut Acc) -> Result<()> {
    let d = &q.bounds.days;
    let seg = segments(db, "s", q)?;
    let mut sql = Sql::new(db.backend());
    sql.push(&format!(
        "SELECT {bucket}, {expr}, \
           CAST(SUM(CASE WHEN s.category = '{ad}' THEN s.amount ELSE 0 END) AS BIGINT), \
           CAST(SUM(CASE WHEN s.category <> '{not_marketing}' THEN s.amount ELSE 0 END) AS BIGINT), \
           CAST(SUM(s.amount) AS BIGINT), \
           CAST(SUM(COALESCE(s.impressions, 0)) AS BIGINT), \
           CAST(SUM(COALESCE(s.clicks, 0)) AS BIGINT) \
         FROM spend s{join} WHERE s.team_id = {team} AND {within}",
        bucket = bucket_of("s.day", d),
        expr = seg.expr(),
        join = seg.join(),
        team = q.team_id,
        within = in_spans("s.day", d, &q.bounds.spans),
        ad = AD_SPEND_CATEGORY,
        not_marketing = NON_MARKETING_CATEGORY,
    ));
    seg.push_where(&mut sql);
    sql.push(" GROUP BY 1, 2");
    for row in db.conn().query_all_raw(sql.build()).await? {
        let bucket = get_bucket(&row, 0)?;
        let segment: String = row.try_get_by_index(1)?;
        let r = acc.at(bucket, segment);
        r.ad_spend += get_i64(&row, 2)?;
        r.marketing_spend += get_i64(&row, 3)?;
        r.total_spend += get_i64(&row, 4)?;
        r.impressions += get_i64(&row, 5)?;
        r.clicks += get_i64(&row, 6)?;
    }
    Ok(())
}
