//! A deterministic generator of realistic lead-generation data, for the demo team and the bench.
//!
//! Every lead, every day's visits and sessions and every day's spend draw from their own random
//! stream derived from the seed, so the history before `as_of` is the same whatever `as_of` is:
//! the demo team generated tomorrow has today's numbers. Rows are handed out in chunks of at most
//! [`CHUNK_ROWS`], so generating millions of rows keeps memory flat.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use lodestar_core::money::Micros;
use lodestar_core::rows::{EventRow, LeadRow, SpendCategory, SpendRow};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The most rows one [`Chunk`] holds.
pub const CHUNK_ROWS: usize = 10_000;

/// What to generate. `leads_per_day` is the mean over the whole range: weekdays, months and a
/// steady growth move single days around it.
#[derive(Debug, Clone, PartialEq)]
pub struct GenSpec {
    pub seed: u64,
    pub start: NaiveDate,
    pub days: u32,
    pub leads_per_day: f64,
    /// All events (visits, engagements, revenue…) per lead, on average.
    pub events_per_lead: f64,
    /// How many of [`CHANNELS`] are used (at most 8), in that order.
    pub channels: usize,
    /// The mean number of campaigns per channel (channels alternate one more and one fewer).
    pub campaigns_per_channel: usize,
    /// Nothing happens after this instant: a lifecycle step that would has simply not happened yet.
    pub as_of: DateTime<Utc>,
}

impl GenSpec {
    /// About nine months ending today, ~40 leads a day over six channels.
    pub fn demo(now: DateTime<Utc>) -> GenSpec {
        let today = now.date_naive();
        let start = today - Duration::days(273);
        GenSpec {
            seed: 20_261_122,
            start,
            days: 274,
            leads_per_day: 40.0,
            events_per_lead: 6.0,
            channels: 6,
            campaigns_per_channel: 4,
            as_of: now,
        }
    }

    /// The benchmark team: 1,000,000 leads over 2024 and 2025, ~5,000,000 events, eight channels
    /// with 40 campaigns. `as_of` is the first morning of 2026 in New York, so 2025-W52 and
    /// 2025-Q4 are complete periods there.
    pub fn bench() -> GenSpec {
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
        let days = 731;
        GenSpec {
            seed: 1_000_000,
            start,
            days,
            leads_per_day: 1_000_000.0 / f64::from(days),
            events_per_lead: 5.0,
            channels: 8,
            campaigns_per_channel: 5,
            as_of: midnight(start + Duration::days(i64::from(days))) + Duration::hours(6),
        }
    }

    /// The same data shape with `factor` times the leads (and events, and spend amounts).
    pub fn scaled(mut self, factor: f64) -> GenSpec {
        self.leads_per_day *= factor;
        self
    }

    /// Leads expected in all (the weekday, month and growth factors average out to about 1).
    pub fn expected_leads(&self) -> f64 {
        self.leads_per_day * f64::from(self.days)
    }
}

/// A batch of rows of one table.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Leads(Vec<LeadRow>),
    Spend(Vec<SpendRow>),
    Events(Vec<EventRow>),
}

impl Chunk {
    pub fn len(&self) -> usize {
        match self {
            Chunk::Leads(r) => r.len(),
            Chunk::Spend(r) => r.len(),
            Chunk::Events(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Channels in the order a spec takes them, with their share of leads, how well their leads
/// convert (relative), whether they buy media, and their typical sources.
pub const CHANNELS: [&str; 8] = [
    "email",
    "paid_search",
    "social",
    "organic",
    "events",
    "referral",
    "display",
    "partner",
];
const LEAD_SHARE: [f64; 8] = [0.14, 0.22, 0.16, 0.22, 0.08, 0.08, 0.06, 0.04];
const VISIT_SHARE: [f64; 8] = [0.08, 0.20, 0.15, 0.35, 0.03, 0.05, 0.10, 0.04];
const QUALITY: [f64; 8] = [1.0, 0.9, 0.7, 1.0, 1.3, 1.5, 0.5, 1.1];
const PAID: [bool; 8] = [false, true, true, false, false, false, true, true];
const SOURCES: [&[&str]; 8] = [
    &["newsletter", "nurture"],
    &["google", "bing"],
    &["linkedin", "facebook", "x"],
    &["google", "direct", "blog"],
    &["tradeshow", "webinar"],
    &["customer", "employee"],
    &["programmatic"],
    &["reseller", "affiliate"],
];
const CAMPAIGNS: [&[&str]; 8] = [
    &[
        "welcome-series",
        "product-update",
        "nurture-smb",
        "webinar-invite",
        "reactivation",
        "case-study",
    ],
    &[
        "brand-search",
        "competitor-terms",
        "generic-crm",
        "pricing-terms",
        "retargeting-search",
        "feature-terms",
    ],
    &[
        "linkedin-abm",
        "linkedin-leadgen",
        "facebook-lookalike",
        "x-launch",
        "youtube-explainer",
        "instagram-stories",
    ],
    &[
        "blog-seo",
        "comparison-pages",
        "templates",
        "docs",
        "podcast",
        "free-tools",
    ],
    &[
        "saas-summit",
        "roadshow",
        "partner-day",
        "user-conference",
        "field-dinners",
        "meetups",
    ],
    &[
        "customer-referral",
        "refer-a-friend",
        "agency-program",
        "champions",
        "alumni",
        "integrations",
    ],
    &[
        "display-awareness",
        "retargeting-display",
        "native-ads",
        "programmatic-abm",
        "ctv-pilot",
        "sponsored-news",
    ],
    &[
        "reseller-emea",
        "affiliate-program",
        "marketplace",
        "co-marketing",
        "system-integrators",
        "oem",
    ],
];
const REGIONS: [(&str, f64); 4] = [
    ("NA", 0.45),
    ("EMEA", 0.30),
    ("APAC", 0.15),
    ("LATAM", 0.10),
];
const ENGAGEMENTS: [&str; 5] = [
    "email_open",
    "email_click",
    "download",
    "webinar_attendance",
    "pricing_view",
];

/// Total marketing and sales spend per lead, in currency units, that the generated costs aim at.
const SPEND_PER_LEAD: f64 = 110.0;
/// Non-visit events per lead that the funnel produces on average (engagements, revenue, nps,
/// demos), measured on the bench data; visits make up the rest of `events_per_lead`.
const OTHER_EVENTS_PER_LEAD: f64 = 2.15;

struct Campaign {
    name: String,
    /// Daily cost of the campaign on a weekday, in currency units.
    daily: f64,
    cpm: f64,
    ctr: f64,
}

struct Channel {
    name: &'static str,
    lead_share: f64,
    visit_share: f64,
    quality: f64,
    paid: bool,
    sources: &'static [&'static str],
    campaigns: Vec<Campaign>,
}

/// Generates the rows of `spec`, calling `sink` with each full chunk and once more per table at
/// the end. An error from `sink` stops generation and is returned.
pub fn generate(
    spec: &GenSpec,
    mut sink: impl FnMut(Chunk) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let generator = Generator::new(spec);
    let mut out = Out {
        leads: Vec::with_capacity(CHUNK_ROWS),
        spend: Vec::with_capacity(CHUNK_ROWS),
        events: Vec::with_capacity(CHUNK_ROWS),
        sink: &mut sink,
    };
    let mut lead_no: u64 = 0;
    for d in 0..spec.days {
        let day = spec.start + Duration::days(i64::from(d));
        let day_start = midnight(day);
        if day_start > spec.as_of {
            break;
        }
        let mut rng = generator.rng(Stream::Day, u64::from(d));
        let leads = poisson(&mut rng, spec.leads_per_day * generator.day_factor(d, day));
        for _ in 0..leads {
            lead_no += 1;
            generator.lead(lead_no, day_start, &mut out)?;
        }
        generator.visits(&mut rng, day, leads, &mut out)?;
        generator.sessions(&mut rng, day, &mut out)?;
        generator.spend(
            &mut generator.rng(Stream::Spend, u64::from(d)),
            day,
            &mut out,
        )?;
    }
    out.flush()
}

struct Out<'a, F: FnMut(Chunk) -> anyhow::Result<()>> {
    leads: Vec<LeadRow>,
    spend: Vec<SpendRow>,
    events: Vec<EventRow>,
    sink: &'a mut F,
}

impl<F: FnMut(Chunk) -> anyhow::Result<()>> Out<'_, F> {
    fn lead(&mut self, row: LeadRow) -> anyhow::Result<()> {
        self.leads.push(row);
        if self.leads.len() == CHUNK_ROWS {
            (self.sink)(Chunk::Leads(std::mem::replace(
                &mut self.leads,
                Vec::with_capacity(CHUNK_ROWS),
            )))?;
        }
        Ok(())
    }

    fn spend(&mut self, row: SpendRow) -> anyhow::Result<()> {
        self.spend.push(row);
        if self.spend.len() == CHUNK_ROWS {
            (self.sink)(Chunk::Spend(std::mem::replace(
                &mut self.spend,
                Vec::with_capacity(CHUNK_ROWS),
            )))?;
        }
        Ok(())
    }

    fn event(&mut self, row: EventRow) -> anyhow::Result<()> {
        self.events.push(row);
        if self.events.len() == CHUNK_ROWS {
            (self.sink)(Chunk::Events(std::mem::replace(
                &mut self.events,
                Vec::with_capacity(CHUNK_ROWS),
            )))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        // Leads first: a consumer that checks event lead ids sees the leads before their events.
        if !self.leads.is_empty() {
            (self.sink)(Chunk::Leads(std::mem::take(&mut self.leads)))?;
        }
        if !self.events.is_empty() {
            (self.sink)(Chunk::Events(std::mem::take(&mut self.events)))?;
        }
        if !self.spend.is_empty() {
            (self.sink)(Chunk::Spend(std::mem::take(&mut self.spend)))?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Stream {
    Setup = 1,
    Day = 2,
    Spend = 3,
    Lead = 4,
}

struct Generator<'s> {
    spec: &'s GenSpec,
    channels: Vec<Channel>,
    /// Mean of the month factors over the range, so the factors average to 1.
    month_norm: f64,
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// A Poisson draw: exact for small means, normal approximation above 30.
fn poisson(rng: &mut StdRng, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    if mean < 30.0 {
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p: f64 = rng.random();
        while p > limit {
            k += 1;
            p *= rng.random::<f64>();
        }
        return k;
    }
    (mean + mean.sqrt() * normal(rng)).round().max(0.0) as u64
}

fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn pick_weighted<T: Copy>(rng: &mut StdRng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for &(item, w) in items {
        if x < w {
            return item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// A uniform delay between `min` and `max` days, to the second.
fn days_later(rng: &mut StdRng, t: DateTime<Utc>, min: f64, max: f64) -> DateTime<Utc> {
    t + Duration::seconds((rng.random_range(min..max) * 86_400.0) as i64)
}

/// Whole currency units with cents, as micros.
fn money(amount: f64) -> Micros {
    Micros((amount * 100.0).round() as i64 * 10_000)
}

/// Seconds into a day: mostly office hours across Europe and the Americas, some at any time.
fn time_of_day(rng: &mut StdRng) -> Duration {
    let secs = if rng.random_bool(0.8) {
        rng.random_range(8 * 3600..21 * 3600)
    } else {
        rng.random_range(0..86_400)
    };
    Duration::seconds(secs)
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

const MONTH_FACTOR: [f64; 12] = [
    0.95, 1.0, 1.05, 1.0, 1.0, 0.95, 0.85, 0.85, 1.05, 1.1, 1.05, 0.9,
];
/// Weekends see 40 % of a weekday's leads; weekdays are scaled up so a week averages 1.
const WEEKEND: f64 = 0.4;
const WEEK_NORM: f64 = (5.0 + 2.0 * WEEKEND) / 7.0;

impl<'s> Generator<'s> {
    fn new(spec: &'s GenSpec) -> Generator<'s> {
        let mut rng = Self::stream_rng(spec.seed, Stream::Setup, 0);
        let n = spec.channels.clamp(1, CHANNELS.len());
        let share: f64 = LEAD_SHARE[..n].iter().sum();
        let visit_share: f64 = VISIT_SHARE[..n].iter().sum();
        let spend_per_day = spec.leads_per_day * SPEND_PER_LEAD;
        let channels = (0..n)
            .map(|i| {
                let offset = [1, -1, 0, 0][i % 4];
                let count = (spec.campaigns_per_channel as i64 + offset).max(1) as usize;
                let names = CAMPAIGNS[i];
                // Paid channels carry most of the budget; the others pay for content.
                let channel_budget =
                    spend_per_day * 0.55 * LEAD_SHARE[i] / share * if PAID[i] { 2.0 } else { 0.6 };
                let campaigns = (0..count)
                    .map(|c| Campaign {
                        name: match names.get(c) {
                            Some(name) => (*name).to_owned(),
                            None => format!("{}-{}", names[c % names.len()], c / names.len() + 1),
                        },
                        daily: channel_budget / count as f64 * rng.random_range(0.5..1.5),
                        cpm: rng.random_range(6.0..35.0),
                        ctr: rng.random_range(0.004..0.035),
                    })
                    .collect();
                Channel {
                    name: CHANNELS[i],
                    lead_share: LEAD_SHARE[i] / share,
                    visit_share: VISIT_SHARE[i] / visit_share,
                    quality: QUALITY[i],
                    paid: PAID[i],
                    sources: SOURCES[i],
                    campaigns,
                }
            })
            .collect();
        let month_norm = if spec.days == 0 {
            1.0
        } else {
            (0..spec.days)
                .map(|d| {
                    MONTH_FACTOR[(spec.start + Duration::days(i64::from(d))).month0() as usize]
                })
                .sum::<f64>()
                / f64::from(spec.days)
        };
        Generator {
            spec,
            channels,
            month_norm,
        }
    }

    fn stream_rng(seed: u64, stream: Stream, index: u64) -> StdRng {
        // splitmix64 of (seed, stream, index): neighbouring indices get unrelated streams.
        let mut z = seed
            .wrapping_add((stream as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        StdRng::seed_from_u64(z ^ (z >> 31))
    }

    fn rng(&self, stream: Stream, index: u64) -> StdRng {
        Self::stream_rng(self.spec.seed, stream, index)
    }

    /// Weekday, month and growth (from 85 % to 115 % of the mean over the range).
    fn day_factor(&self, d: u32, day: NaiveDate) -> f64 {
        let week = if is_weekend(day) { WEEKEND } else { 1.0 } / WEEK_NORM;
        let month = MONTH_FACTOR[day.month0() as usize] / self.month_norm;
        let growth = if self.spec.days > 1 {
            0.85 + 0.3 * f64::from(d) / f64::from(self.spec.days - 1)
        } else {
            1.0
        };
        week * month * growth
    }

    fn pick_channel(&self, rng: &mut StdRng, by_visits: bool) -> usize {
        let mut x: f64 = rng.random();
        for (i, c) in self.channels.iter().enumerate() {
            let w = if by_visits {
                c.visit_share
            } else {
                c.lead_share
            };
            if x < w {
                return i;
            }
            x -= w;
        }
        self.channels.len() - 1
    }

    fn region(rng: &mut StdRng) -> &'static str {
        pick_weighted(rng, &REGIONS)
    }

    fn lead<F: FnMut(Chunk) -> anyhow::Result<()>>(
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

    /// Website visits: many, mostly organic and paid, proportional to the day's leads.
    fn visits<F: FnMut(Chunk) -> anyhow::Result<()>>(
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
    fn sessions<F: FnMut(Chunk) -> anyhow::Result<()>>(
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
    fn spend<F: FnMut(Chunk) -> anyhow::Result<()>>(
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn small() -> GenSpec {
        let now = NaiveDate::from_ymd_opt(2026, 3, 15)
            .and_then(|d| d.and_hms_opt(13, 30, 0))
            .expect("valid date")
            .and_utc();
        GenSpec {
            days: 120,
            start: now.date_naive() - Duration::days(119),
            ..GenSpec::demo(now)
        }
    }

    fn collect(spec: &GenSpec) -> (Vec<LeadRow>, Vec<SpendRow>, Vec<EventRow>) {
        let (mut leads, mut spend, mut events) = (Vec::new(), Vec::new(), Vec::new());
        generate(spec, |chunk| {
            assert!(
                !chunk.is_empty() && chunk.len() <= CHUNK_ROWS,
                "chunk of {} rows",
                chunk.len()
            );
            match chunk {
                Chunk::Leads(r) => leads.extend(r),
                Chunk::Spend(r) => spend.extend(r),
                Chunk::Events(r) => events.extend(r),
            }
            Ok(())
        })
        .expect("generation succeeds");
        (leads, spend, events)
    }

    #[test]
    fn the_same_seed_gives_the_same_rows() {
        let spec = small();
        assert_eq!(collect(&spec), collect(&spec));
        let other = GenSpec {
            seed: spec.seed + 1,
            ..spec.clone()
        };
        assert_ne!(collect(&spec).0, collect(&other).0);
    }

    #[test]
    fn nothing_happens_after_as_of() {
        let spec = small();
        let (leads, spend, events) = collect(&spec);
        let as_of = spec.as_of;
        for l in &leads {
            for t in [
                Some(l.created_at),
                l.mql_at,
                l.sal_at,
                l.sql_at,
                l.opportunity_at,
                l.won_at,
                l.lost_at,
                l.churned_at,
            ]
            .into_iter()
            .flatten()
            {
                assert!(t <= as_of, "{} has {t} after {as_of}", l.id);
            }
        }
        assert!(events.iter().all(|e| e.occurred_at <= as_of));
        assert!(spend.iter().all(|s| s.day <= as_of.date_naive()));
        // The funnel is cut, not empty: recent leads are still open, older ones have moved on.
        assert!(leads.iter().any(|l| l.won_at.is_some()));
        assert!(leads.iter().any(|l| l.churned_at.is_some()));
    }

    #[test]
    fn history_does_not_depend_on_as_of() {
        let spec = small();
        let earlier = GenSpec {
            as_of: spec.as_of - Duration::days(30),
            ..spec.clone()
        };
        let (all, _, _) = collect(&spec);
        let (cut, _, _) = collect(&earlier);
        let by_id: std::collections::HashMap<_, _> =
            all.iter().map(|l| (l.id.as_str(), l)).collect();
        assert!(!cut.is_empty() && cut.len() < all.len());
        for l in &cut {
            let full = by_id[l.id.as_str()];
            assert_eq!(
                (l.created_at, &l.channel, l.mql_at),
                (
                    full.created_at,
                    &full.channel,
                    full.mql_at.filter(|t| *t <= earlier.as_of)
                )
            );
        }
    }

    #[test]
    fn lifecycle_steps_follow_creation_in_order() {
        let (leads, _, _) = collect(&small());
        for l in &leads {
            if let Some(w) = l.won_at {
                assert!(l.created_at <= w, "{} won before it was created", l.id);
                assert!(
                    l.deal_value
                        .is_some_and(|d| (2_000_000_000..=20_000_000_000).contains(&d.0))
                );
                assert!(l.lost_at.is_none());
            } else {
                assert!(l.deal_value.is_none() && l.churned_at.is_none());
            }
            let chain = [l.mql_at, l.sal_at, l.sql_at, l.opportunity_at, l.won_at];
            let steps: Vec<_> = std::iter::once(l.created_at)
                .chain(chain.into_iter().flatten())
                .collect();
            assert!(
                steps.windows(2).all(|w| w[0] <= w[1]),
                "{} steps out of order",
                l.id
            );
        }
    }

    #[test]
    fn every_id_is_unique() {
        let (leads, spend, events) = collect(&small());
        let lead_ids: HashSet<_> = leads.iter().map(|l| &l.id).collect();
        assert_eq!(lead_ids.len(), leads.len());
        let event_ids: HashSet<_> = events.iter().map(|e| &e.id).collect();
        assert_eq!(event_ids.len(), events.len());
        let spend_keys: HashSet<_> = spend
            .iter()
            .map(|s| (s.day, &s.channel, &s.campaign, s.category.as_str()))
            .collect();
        assert_eq!(spend_keys.len(), spend.len());
        assert!(
            events
                .iter()
                .filter_map(|e| e.lead_id.as_ref())
                .all(|id| lead_ids.contains(id))
        );
    }

    #[test]
    fn the_data_looks_like_a_funnel() {
        let spec = small();
        let (leads, spend, events) = collect(&spec);
        let n = leads.len() as f64;
        let expected = spec.expected_leads();
        assert!(
            (n - expected).abs() < expected * 0.1,
            "{n} leads, expected about {expected}"
        );
        let share = |f: &dyn Fn(&LeadRow) -> bool| leads.iter().filter(|l| f(l)).count() as f64 / n;
        let mql = share(&|l| l.mql_at.is_some());
        assert!((0.45..0.7).contains(&mql), "MQL share {mql}");
        assert!(share(&|l| l.won_at.is_some()) > 0.02);
        let weekend = leads
            .iter()
            .filter(|l| is_weekend(l.created_at.date_naive()))
            .count() as f64;
        // Two weekend days at 40 % against five weekdays: about 14 % of leads.
        assert!(
            (0.08..0.2).contains(&(weekend / n)),
            "weekend share {}",
            weekend / n
        );
        let kinds: HashSet<_> = events.iter().map(|e| e.kind.as_str()).collect();
        for kind in [
            "visit",
            "session",
            "engagement",
            "nps",
            "revenue",
            "demo_booked",
        ] {
            assert!(kinds.contains(kind), "no {kind} events");
        }
        assert!(
            events
                .iter()
                .filter(|e| e.kind == "nps")
                .all(|e| e.value.is_some_and(|v| (0..=10_000_000).contains(&v.0)))
        );
        let categories: HashSet<_> = spend.iter().map(|s| s.category.as_str()).collect();
        assert_eq!(categories.len(), 6, "categories {categories:?}");
        assert!(
            spend
                .iter()
                .filter(|s| s.category == SpendCategory::Advertising)
                .all(|s| s.clicks.is_some() && s.impressions.is_some())
        );
    }
}
