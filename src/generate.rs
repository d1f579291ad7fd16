//! A deterministic generator of realistic lead-generation data, for the demo team and the bench.
//!
//! Every lead, every day's visits and sessions and every day's spend draw from their own random
//! stream derived from the seed, so the history before `as_of` is the same whatever `as_of` is:
//! the demo team generated tomorrow has today's numbers. Rows are handed out in chunks of at most
//! [`CHUNK_ROWS`], so generating millions of rows keeps memory flat.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use lodestar_core::rows::{EventRow, LeadRow, SpendRow};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod draw;
mod lifecycle;
mod mix;
mod traffic;

use draw::{pick_weighted, poisson};
pub use mix::CHANNELS;
use mix::{CAMPAIGNS, Campaign, Channel, LEAD_SHARE, PAID, QUALITY, REGIONS, SOURCES, VISIT_SHARE};

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
    /// About nine months ending today, ~40 leads a day over six channels, and the website traffic
    /// of such a team: about 3% of visitors become leads (~33 visits a lead).
    pub fn demo(now: DateTime<Utc>) -> GenSpec {
        let today = now.date_naive();
        let start = today - Duration::days(273);
        GenSpec {
            seed: 20_261_122,
            start,
            days: 274,
            leads_per_day: 40.0,
            events_per_lead: 35.0,
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

/// Total marketing and sales spend per lead, in currency units, that the generated costs aim at:
/// a B2B team's cost per lead of $150–250 and a return on its spend of two to three times.
const SPEND_PER_LEAD: f64 = 310.0;
/// Non-visit events per lead that the funnel produces on average (engagements, revenue, nps,
/// demos), measured on the bench data; visits make up the rest of `events_per_lead`.
const OTHER_EVENTS_PER_LEAD: f64 = 2.15;

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
                        // B2B media: $20–80 per thousand impressions, 0.3–0.8% clicked, so a
                        // click costs a few dollars and clicks stay below the paid visits.
                        cpm: rng.random_range(20.0..80.0),
                        ctr: rng.random_range(0.003..0.008),
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
}

#[cfg(test)]
mod tests;
