//! One lead's life: its creation, funnel stages, deal, revenue, churn and the events around it.

use chrono::{DateTime, Duration, Utc};
use lodestar_core::money::Micros;
use lodestar_core::rows::{EventRow, LeadRow};
use rand::Rng;

use super::draw::{days_later, money, pick_weighted, time_of_day};
use super::mix::ENGAGEMENTS;
use super::*;

impl Generator<'_> {
    pub(super) fn lead<F: FnMut(Chunk) -> anyhow::Result<()>>(
        &self,
        no: u64,
        day_start: DateTime<Utc>,
        out: &mut Out<'_, F>,
    ) -> anyhow::Result<()> {
        let rng = &mut self.rng(Stream::Lead, no);
        let as_of = self.spec.as_of;
        let ch_index = self.pick_channel(rng, false);
        let ch = &self.channels[ch_index];
        let created = day_start + time_of_day(rng);
        let id = format!("lead-{no:07}");
        // Organic leads mostly arrive without a campaign; a few leads carry no channel at all.
        let campaign = if ch.name == "organic" && rng.random_bool(0.6) {
            None
        } else {
            let c = rng.random_range(0..ch.campaigns.len());
            Some(ch.campaigns[c].name.clone())
        };
        let channel = (!rng.random_bool(0.01)).then(|| ch.name.to_owned());
        let source = rng
            .random_bool(0.95)
            .then(|| ch.sources[rng.random_range(0..ch.sources.len())].to_owned());
        let region = Self::region(rng);
        let mut attrs = BTreeMap::new();
        attrs.insert("region".to_owned(), region.to_owned());
        let value = rng
            .random_bool(0.8)
            .then(|| money(rng.random_range(50.0..500.0_f64).round()));
        let score = rng.random_bool(0.9).then(|| rng.random_range(0..=100));

        let q = ch.quality;
        let mut mql = None;
        let mut sal = None;
        let mut sql = None;
        let mut opp = None;
        let mut won = None;
        let mut lost = None;
        let mut churned = None;
        let mut deal = None;
        if ch.name == "referral" && rng.random_bool(0.03) {
            // Referrals sometimes skip the funnel and sign straight away.
            won = Some(days_later(rng, created, 3.0, 30.0));
        } else if rng.random_bool((0.55 * q).min(0.95)) {
            let m = days_later(rng, created, 0.0, 3.0);
            mql = Some(m);
            if rng.random_bool((0.7 * q.sqrt()).min(0.95)) {
                let s = days_later(rng, m, 0.1, 5.0);
                sal = Some(s);
                let skip_sql = rng.random_bool(0.05);
                let before_opp = if skip_sql {
                    Some(s)
                } else if rng.random_bool(0.6) {
                    let t = days_later(rng, s, 1.0, 10.0);
                    sql = Some(t);
                    Some(t)
                } else {
                    if rng.random_bool(0.5) {
                        lost = Some(days_later(rng, s, 3.0, 20.0));
                    }
                    None
                };
                if let Some(t) = before_opp {
                    if rng.random_bool(0.65) {
                        let o = days_later(rng, t, 2.0, 14.0);
                        opp = Some(o);
                        if rng.random_bool((0.45 * q.sqrt()).min(0.9)) {
                            won = Some(days_later(rng, o, 7.0, 60.0));
                        } else {
                            lost = Some(days_later(rng, o, 7.0, 60.0));
                        }
                    } else if rng.random_bool(0.6) {
                        lost = Some(days_later(rng, t, 5.0, 30.0));
                    }
                }
            } else if rng.random_bool(0.3) {
                lost = Some(days_later(rng, m, 5.0, 30.0));
            }
        }
        if let Some(w) = won {
            // Log-uniform between 2k and 20k: many small deals, a few large ones.
            deal = Some(money(
                (rng.random_range(2_000f64.ln()..20_000f64.ln()))
                    .exp()
                    .round(),
            ));
            if rng.random_bool(0.2) {
                churned = Some(days_later(rng, w, 30.0, 300.0));
            }
        }

        // Events of this lead, drawn before anything is cut at `as_of` so the draws never depend
        // on it.
        let engagements = if mql.is_some() {
            rng.random_range(0..=4)
        } else {
            pick_weighted(rng, &[(0, 0.5), (1, 0.3), (2, 0.2)])
        };
        let mut seq = 0u32;
        let mut event =
            |kind: &str, at: DateTime<Utc>, value: Option<Micros>, extra: Option<(&str, &str)>| {
                seq += 1;
                let mut attrs = BTreeMap::new();
                attrs.insert("region".to_owned(), region.to_owned());
                if let Some((k, v)) = extra {
                    attrs.insert(k.to_owned(), v.to_owned());
                }
                EventRow {
                    id: format!("{id}-e{seq}"),
                    kind: kind.to_owned(),
                    occurred_at: at,
                    channel: channel.clone(),
                    campaign: campaign.clone(),
                    lead_id: Some(id.clone()),
                    value,
                    attrs,
                }
            };
        let mut events = Vec::new();
        for _ in 0..engagements {
            let at = days_later(rng, created, 0.0, 45.0);
            let what = ENGAGEMENTS[rng.random_range(0..ENGAGEMENTS.len())];
            events.push(event("engagement", at, None, Some(("type", what))));
        }
        if let Some(t) = sql
            && rng.random_bool(0.4)
        {
            events.push(event(
                "demo_booked",
                days_later(rng, t, 0.0, 3.0),
                None,
                None,
            ));
        }
        if let (Some(w), Some(d)) = (won, deal) {
            let end = churned.unwrap_or(DateTime::<Utc>::MAX_UTC).min(as_of);
            let mut month = 1;
            loop {
                let at = w + Duration::days(30 * month);
                if at >= end {
                    break;
                }
                let amount = d.0 as f64 / 1e6 / 12.0 * rng.random_range(0.9..1.1);
                events.push(event("revenue", at, Some(money(amount)), None));
                month += 1;
            }
            let mut survey = 0;
            loop {
                let at = w + Duration::days(45 + 90 * survey);
                if at >= end {
                    break;
                }
                if rng.random_bool(0.6) {
                    let score = pick_weighted(
                        rng,
                        &[
                            (0, 0.01),
                            (1, 0.01),
                            (2, 0.01),
                            (3, 0.02),
                            (4, 0.02),
                            (5, 0.04),
                            (6, 0.04),
                            (7, 0.12),
                            (8, 0.18),
                            (9, 0.3),
                            (10, 0.25),
                        ],
                    );
                    events.push(event("nps", at, Some(Micros(score * 1_000_000)), None));
                }
                survey += 1;
            }
        }

        let seen = |t: Option<DateTime<Utc>>| t.filter(|t| *t <= as_of);
        let won = seen(won);
        let row = LeadRow {
            id,
            created_at: created,
            channel,
            source,
            campaign,
            value,
            score,
            attrs,
            mql_at: seen(mql),
            sal_at: seen(sal),
            sql_at: seen(sql),
            opportunity_at: seen(opp),
            won_at: won,
            lost_at: seen(lost),
            churned_at: seen(churned),
            deal_value: deal.filter(|_| won.is_some()),
        };
        if created <= as_of {
            out.lead(row)?;
            for e in events {
                if e.occurred_at <= as_of {
                    out.event(e)?;
                }
            }
        }
        Ok(())
    }
}
