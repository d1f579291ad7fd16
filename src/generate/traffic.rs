//! A day's traffic and spend: website visits, sessions and each campaign's cost.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use lodestar_core::rows::{EventRow, SpendCategory, SpendRow};
use rand::Rng;
use rand::rngs::StdRng;

use super::draw::{money, pick_weighted, poisson, time_of_day};
use super::*;

impl Generator<'_> {
    /// Website visits: many, mostly organic and paid, proportional to the day's leads.
    pub(super) fn visits<F: FnMut(Chunk) -> anyhow::Result<()>>(
        &self,
        rng: &mut StdRng,
        day: NaiveDate,
        leads: u64,
        out: &mut Out<'_, F>,
    ) -> anyhow::Result<()> {
        let per_lead = (self.spec.events_per_lead - OTHER_EVENTS_PER_LEAD).max(0.5);
        let n = poisson(rng, leads as f64 * per_lead);
        let start = midnight(day);
        for k in 0..n {
            let ch = &self.channels[self.pick_channel(rng, true)];
            let campaign = (ch.paid || rng.random_bool(0.3)).then(|| {
                ch.campaigns[rng.random_range(0..ch.campaigns.len())]
                    .name
                    .clone()
            });
            let at = start + time_of_day(rng);
            let mut attrs = BTreeMap::new();
            attrs.insert("region".to_owned(), Self::region(rng).to_owned());
            if at <= self.spec.as_of {
                out.event(EventRow {
                    id: format!("visit-{day}-{k}"),
                    kind: "visit".to_owned(),
                    occurred_at: at,
                    channel: Some(ch.name.to_owned()),
                    campaign,
                    lead_id: None,
                    value: None,
                    attrs,
                })?;
            }
        }
        Ok(())
    }

    /// Webinars, workshops and trade-show days: a few a week, none at weekends.
    pub(super) fn sessions<F: FnMut(Chunk) -> anyhow::Result<()>>(
        &self,
        rng: &mut StdRng,
        day: NaiveDate,
        out: &mut Out<'_, F>,
    ) -> anyhow::Result<()> {
        if is_weekend(day) || !rng.random_bool(0.5) {
            return Ok(());
        }
        let (format, channel) = pick_weighted(
            rng,
            &[
                (("webinar", "email"), 0.6),
                (("workshop", "events"), 0.25),
                (("trade_show", "events"), 0.15),
            ],
        );
        let Some(ch) = self.channels.iter().find(|c| c.name == channel) else {
            return Ok(());
        };
        let campaign = ch.campaigns[rng.random_range(0..ch.campaigns.len())]
            .name
            .clone();
        let at = midnight(day) + Duration::hours(rng.random_range(14..18));
        if at <= self.spec.as_of {
            let mut attrs = BTreeMap::new();
            attrs.insert("format".to_owned(), format.to_owned());
            out.event(EventRow {
                id: format!("session-{day}"),
                kind: "session".to_owned(),
                occurred_at: at,
                channel: Some(ch.name.to_owned()),
                campaign: Some(campaign),
                lead_id: None,
                value: None,
                attrs,
            })?;
        }
        Ok(())
    }

    /// A day's costs: media for paid campaigns (with impressions and clicks), content for the
    /// others, event costs, tools per channel, and the sales team and other overheads.
    pub(super) fn spend<F: FnMut(Chunk) -> anyhow::Result<()>>(
        &self,
        rng: &mut StdRng,
        day: NaiveDate,
        out: &mut Out<'_, F>,
    ) -> anyhow::Result<()> {
        if midnight(day) > self.spec.as_of {
            return Ok(());
        }
        let weekend = is_weekend(day);
        let base = self.spec.leads_per_day * SPEND_PER_LEAD;
        let row = |channel: Option<&str>, campaign: Option<&str>, category, amount: f64| SpendRow {
            day,
            channel: channel.map(str::to_owned),
            campaign: campaign.map(str::to_owned),
            category,
            amount: money(amount),
            impressions: None,
            clicks: None,
        };
        for ch in &self.channels {
            for c in &ch.campaigns {
                if ch.paid {
                    let amount =
                        c.daily * if weekend { 0.6 } else { 1.0 } * rng.random_range(0.8..1.2);
                    let impressions =
                        (amount / (c.cpm * rng.random_range(0.9..1.1)) * 1000.0).round() as i64;
                    let clicks =
                        (impressions as f64 * c.ctr * rng.random_range(0.8..1.2)).round() as i64;
                    out.spend(SpendRow {
                        impressions: Some(impressions),
                        clicks: Some(clicks),
                        ..row(
                            Some(ch.name),
                            Some(&c.name),
                            SpendCategory::Advertising,
                            amount,
                        )
                    })?;
                } else if ch.name == "events" {
                    if !weekend && rng.random_bool(0.3) {
                        let amount = c.daily * rng.random_range(1.5..5.0);
                        out.spend(row(
                            Some(ch.name),
                            Some(&c.name),
                            SpendCategory::Events,
                            amount,
                        ))?;
                    }
                } else if !weekend || rng.random_bool(0.3) {
                    let amount = c.daily * rng.random_range(0.5..1.5);
                    out.spend(row(
                        Some(ch.name),
                        Some(&c.name),
                        SpendCategory::Content,
                        amount,
                    ))?;
                }
                // Paid campaigns need creatives and ad operations every day they run.
                if ch.paid {
                    let amount =
                        c.daily * if weekend { 0.03 } else { 0.1 } * rng.random_range(0.5..1.5);
                    out.spend(row(
                        Some(ch.name),
                        Some(&c.name),
                        SpendCategory::Content,
                        amount,
                    ))?;
                }
            }
            let amount = base * 0.01 * ch.lead_share * rng.random_range(0.9..1.1) + 5.0;
            out.spend(row(Some(ch.name), None, SpendCategory::Tools, amount))?;
            // The sales team's cost, attributed to channels by their share of leads.
            if !weekend {
                let amount = base * 0.22 / WEEK_NORM * ch.lead_share * rng.random_range(0.95..1.05);
                out.spend(row(Some(ch.name), None, SpendCategory::Sales, amount))?;
            }
            // Agency retainers and the like, invoiced weekly.
            if day.weekday() == Weekday::Mon {
                let amount = base * 0.25 * ch.lead_share * rng.random_range(0.5..1.5);
                out.spend(row(Some(ch.name), None, SpendCategory::Other, amount))?;
            }
        }
        // What no channel explains: recruiting, travel, the sales manager.
        if !weekend {
            let amount = base * 0.03 / WEEK_NORM * rng.random_range(0.9..1.1);
            out.spend(row(None, None, SpendCategory::Sales, amount))?;
        }
        Ok(())
    }
}
