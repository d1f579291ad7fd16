//! Engaged leads per period (`engaged_periods`), the numerator of engagement rate, and per day
//! the lead starts to count in a period (`engaged_first`), for the first days of periods.
//!
//! "Reachable leads with at least one engagement event in P" counts distinct leads, so it does
//! not add up over days; it is kept per period of each kind instead (day, week, month, quarter,
//! year: the only periods reports use), keyed by the period's first local day and the lead's
//! dimensions. A lead contributes 1 to each period holding one of its engagement events in which
//! it is reachable (created before the end, not won or lost before the start). Its contribution
//! depends on the lead and on its engagement events, so when either changes ingest takes the
//! lead's old contribution out and puts the new one in.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{NaiveDate, TimeDelta};
use lodestar_core::domain::event_kind;
use lodestar_core::period::{PeriodKey, PeriodKind};
use sea_orm::ConnectionTrait;

use super::{DayClock, LeadFacts, Pending};
use crate::error::Result;
use crate::sql::Sql;

/// Keys per `IN` list: a power of two, which `Sql::params` does not pad.
const KEYS_PER_STATEMENT: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct EngagedKey {
    pub kind: PeriodKind,
    /// Days since 1970-01-01 of the period's first local day (in `engaged_first`, of the day the
    /// lead starts to count).
    pub first: i32,
    /// The lead's (channel, campaign, source), interned.
    pub dims: u32,
}

/// What decides where a lead's engagement counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub created: i64,
    pub won: Option<i64>,
    pub lost: Option<i64>,
    pub channel: String,
    pub campaign: String,
    pub source: String,
}

impl Reach {
    pub fn of(l: &LeadFacts) -> Reach {
        Reach {
            created: l.created,
            won: l.won,
            lost: l.lost,
            channel: l.channel.clone(),
            campaign: l.campaign.clone(),
            source: l.source.clone(),
        }
    }
}

fn date_of(day: i32) -> NaiveDate {
    NaiveDate::default() + TimeDelta::days(i64::from(day))
}

fn day_of_date(date: NaiveDate) -> i32 {
    (date - NaiveDate::default()).num_days() as i32
}

/// The kind of period `[first, end)` (local days) is, if it is exactly one period.
pub fn kind_of(first: i32, end: i32) -> Option<PeriodKind> {
    let (first, end) = (date_of(first), date_of(end));
    PeriodKind::ALL.into_iter().find(|&kind| {
        let p = PeriodKey::containing(kind, first);
        p.first_day() == first && p.end_day() == end
    })
}

impl Pending {
    /// Adds (`sign` 1) or removes (−1) a lead's engagement contributions, given the instants of
    /// its engagement events.
    pub fn add_engaged(&mut self, clock: &mut DayClock, lead: &Reach, times: &[i64], sign: i64) {
        if times.is_empty() {
            return;
        }
        let days: BTreeSet<i32> = times.iter().map(|&t| clock.day_of(t)).collect();
        let dims = self.dims.id(&[
            lead.channel.as_str(),
            lead.campaign.as_str(),
            lead.source.as_str(),
        ]);
        let created_day = clock.day_of(lead.created);
        for kind in PeriodKind::ALL {
            // Each period holding an engagement, with the first engagement day in it.
            let mut periods: BTreeMap<(i32, i32), i32> = BTreeMap::new();
            for &d in &days {
                let p = PeriodKey::containing(kind, date_of(d));
                let bounds = (day_of_date(p.first_day()), day_of_date(p.end_day()));
                periods
                    .entry(bounds)
                    .and_modify(|m| *m = (*m).min(d))
                    .or_insert(d);
            }
            for ((first, end), first_engaged) in periods {
                let start = clock.midnight(first);
                let end = clock.midnight(end);
                let reachable = lead.created < end
                    && lead.won.is_none_or(|w| w >= start)
                    && lead.lost.is_none_or(|l| l >= start);
                if reachable {
                    let key = EngagedKey { kind, first, dims };
                    *self.engaged.entry(key).or_default() += sign;
                    // It counts for the first days of the period from the later of its first
                    // engagement and its creation (both before the end, so within the period).
                    let from = first_engaged.max(created_day);
                    let key = EngagedKey {
                        kind,
                        first: from,
                        dims,
                    };
                    *self.engaged_first.entry(key).or_default() += sign;
                }
            }
        }
    }
}

/// The instants of each lead's engagement events (an index-only read of
/// `events (team_id, lead_id, kind, occurred_at)`).
pub async fn engagement_times(
    tx: &impl ConnectionTrait,
    team_id: i32,
    lead_ids: &[&str],
) -> Result<HashMap<String, Vec<i64>>> {
    let mut out: HashMap<String, Vec<i64>> = HashMap::new();
    for ids in lead_ids.chunks(KEYS_PER_STATEMENT) {
        let mut sql = Sql::new(tx.get_database_backend());
        sql.push("SELECT lead_id, occurred_at FROM events WHERE team_id = ")
            .param(team_id)
            .push(" AND lead_id IN (");
        sql.params(ids.iter().copied());
        sql.push(&format!(") AND kind = '{}'", event_kind::ENGAGEMENT));
        for row in tx.query_all_raw(sql.build()).await? {
            let lead: String = row.try_get_by_index(0)?;
            let at: i64 = row.try_get_by_index(1)?;
            out.entry(lead).or_default().push(at);
        }
    }
    Ok(out)
}

/// The stored leads with these ids, as engagement sees them.
pub async fn reach_of(
    tx: &impl ConnectionTrait,
    team_id: i32,
    lead_ids: &[&str],
) -> Result<HashMap<String, Reach>> {
    let mut out = HashMap::new();
    for ids in lead_ids.chunks(KEYS_PER_STATEMENT) {
        let mut sql = Sql::new(tx.get_database_backend());
        sql.push(
            "SELECT ext_id, created_at, won_at, lost_at, channel, campaign, source FROM leads \
             WHERE team_id = ",
        )
        .param(team_id)
        .push(" AND ext_id IN (");
        sql.params(ids.iter().copied());
        sql.push(")");
        for row in tx.query_all_raw(sql.build()).await? {
            out.insert(
                row.try_get_by_index(0)?,
                Reach {
                    created: row.try_get_by_index(1)?,
                    won: row.try_get_by_index(2)?,
                    lost: row.try_get_by_index(3)?,
                    channel: row.try_get_by_index(4)?,
                    campaign: row.try_get_by_index(5)?,
                    source: row.try_get_by_index(6)?,
                },
            );
        }
    }
    Ok(out)
}

/// Whether the team has any engagement event (if not, new leads have no contribution to look
/// up, which keeps large lead imports free of this work).
pub async fn any_engagement(tx: &impl ConnectionTrait, team_id: i32) -> Result<bool> {
    let mut sql = Sql::new(tx.get_database_backend());
    sql.push("SELECT 1 FROM events WHERE team_id = ")
        .param(team_id)
        .push(&format!(" AND kind = '{}' LIMIT 1", event_kind::ENGAGEMENT));
    Ok(tx.query_one_raw(sql.build()).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lodestar_core::period::Timezone;

    const DAY: i64 = 86_400_000;

    #[test]
    fn bucket_bounds_name_their_period_kind() {
        let d = |s: &str| day_of_date(NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date"));
        assert_eq!(
            kind_of(d("2026-11-02"), d("2026-11-09")),
            Some(PeriodKind::Week)
        );
        assert_eq!(
            kind_of(d("2026-11-01"), d("2026-12-01")),
            Some(PeriodKind::Month)
        );
        assert_eq!(
            kind_of(d("2026-10-01"), d("2027-01-01")),
            Some(PeriodKind::Quarter)
        );
        assert_eq!(
            kind_of(d("2026-01-01"), d("2027-01-01")),
            Some(PeriodKind::Year)
        );
        assert_eq!(
            kind_of(d("2026-11-04"), d("2026-11-05")),
            Some(PeriodKind::Day)
        );
        assert_eq!(kind_of(d("2026-11-04"), d("2026-11-11")), None);
    }

    #[test]
    fn a_lead_counts_once_per_period_and_only_while_reachable() {
        let mut clock = DayClock::new(Timezone::default());
        let mut pending = Pending::default();
        // 2026-11-02 is a Monday (day 20759). Two events that Monday and one on Wednesday;
        // the lead was won on Tuesday.
        let monday = 20_759 * DAY;
        let lead = Reach {
            created: monday - 30 * DAY,
            won: Some(monday + DAY + 5),
            lost: None,
            channel: "ads".into(),
            campaign: String::new(),
            source: String::new(),
        };
        pending.add_engaged(
            &mut clock,
            &lead,
            &[monday + 10, monday + 20, monday + 2 * DAY],
            1,
        );
        let count = |kind: PeriodKind, first: i32| {
            pending
                .engaged
                .iter()
                .filter(|(k, _)| k.kind == kind && k.first == first)
                .map(|(_, v)| *v)
                .sum::<i64>()
        };
        assert_eq!(count(PeriodKind::Week, 20_759), 1);
        assert_eq!(count(PeriodKind::Day, 20_759), 1);
        // Won on Tuesday: not reachable on Wednesday.
        assert_eq!(count(PeriodKind::Day, 20_761), 0);
        assert_eq!(count(PeriodKind::Month, 20_758), 1);
        pending.add_engaged(
            &mut clock,
            &lead,
            &[monday + 10, monday + 20, monday + 2 * DAY],
            -1,
        );
        assert!(pending.engaged.values().all(|&v| v == 0));
    }
}
