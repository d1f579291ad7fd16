//! MECE KPI trees end to end: the structure check on trees built to break each rule, the
//! partition check of segment sets on the small fixture (expected counts computed here from the
//! fixture files, not through SQL), `segment_by=set:…` against filtering by hand, driver
//! attribution that adds up on the fixture, the tree page, and the tree and segment-set editors
//! in a real Chromium. The helpers the topics share (and
//! the pages' and digests' expected driver sentence) are here; each topic has its file below
//! `trees/`.

mod check;
mod drivers;
mod editors;
mod large_sets;
mod packs;
mod partition;
mod reports;
mod segment_sets;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::common::read_fixture;

fn rules(check: &Value) -> Vec<(String, Value)> {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap().to_owned(), f.clone()))
        .collect()
}

/// The fixture's rows and the instants of 2026-W44 in its timezone, read independently of the
/// server.
struct Fixture {
    leads: Vec<Value>,
    events: Vec<Value>,
    spend: Vec<Value>,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
}

const W44_START: &str = "2026-10-26T04:00:00Z";

const W44_END: &str = "2026-11-02T05:00:00Z";

impl Fixture {
    fn load() -> Fixture {
        let rows = |name: &str| read_fixture(name).as_array().unwrap().clone();
        Fixture {
            leads: rows("leads.json"),
            events: rows("events.json"),
            spend: rows("spend.json"),
            lo: W44_START.parse().unwrap(),
            hi: W44_END.parse().unwrap(),
        }
    }

    fn within(&self, v: &Value) -> bool {
        v.as_str()
            .map(|t| t.parse::<DateTime<Utc>>().unwrap())
            .is_some_and(|t| t >= self.lo && t < self.hi)
    }

    /// Leads with any lifecycle timestamp in the week.
    fn leads_in(&self) -> Vec<&Value> {
        const TIMES: [&str; 8] = [
            "created_at",
            "mql_at",
            "sal_at",
            "sql_at",
            "opportunity_at",
            "won_at",
            "lost_at",
            "churned_at",
        ];
        self.leads
            .iter()
            .filter(|l| TIMES.iter().any(|t| self.within(&l[*t])))
            .collect()
    }

    fn leads_created(&self) -> Vec<&Value> {
        self.leads
            .iter()
            .filter(|l| self.within(&l["created_at"]))
            .collect()
    }

    fn events_in(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| self.within(&e["occurred_at"]))
            .collect()
    }

    fn spend_in(&self) -> Vec<&Value> {
        let first = NaiveDate::from_ymd_opt(2026, 10, 26).unwrap();
        let end = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        self.spend
            .iter()
            .filter(|s| {
                let day: NaiveDate = s["day"].as_str().unwrap().parse().unwrap();
                day >= first && day < end
            })
            .collect()
    }
}

/// A field as the spec reads it: missing or empty is `None`.
fn field<'a>(row: &'a Value, name: &str) -> Option<&'a str> {
    let v = match name.strip_prefix("attrs.") {
        Some(key) => &row["attrs"][key],
        None => &row[name],
    };
    v.as_str().filter(|s| !s.is_empty())
}

/// The fixture's expected value of `key` in `period` (no segmentation).
fn expected(period: &str, key: &str) -> f64 {
    crate::common::expected_kpis(period)[key].as_f64().unwrap()
}

/// `+5.1%`, `-12.0%` or `±0.0%`, as sentences write a share.
fn signed_pct(x: f64) -> String {
    let text = format!("{:.1}", x.abs());
    match text.as_str() {
        "0.0" => "±0.0%".to_owned(),
        _ if x < 0.0 => format!("-{text}%"),
        _ => format!("+{text}%"),
    }
}

/// A driver's own change as its card shows it: points for a percent KPI, else percent, signed,
/// `0.0` unsigned (an ASCII minus, as the cards write it).
fn card_change(change: f64, suffix: &str) -> String {
    let text = format!("{change:.1}");
    match text.as_str() {
        "0.0" | "-0.0" => format!("0.0{suffix}"),
        t if t.starts_with('-') => format!("{t}{suffix}"),
        t => format!("+{t}{suffix}"),
    }
}

/// The sentence explaining won revenue from `previous` to `period`, computed here from the
/// fixture's expected values with the LMDI formula (L(v₁, v₀) · ln(x₁ / x₀) per driver, in
/// percent of v₀), not by the server: each driver's own change as its card shows it, then its
/// effect on won revenue, largest effect first.
pub(crate) fn won_revenue_sentence(period: &str, previous: &str) -> String {
    let (v1, v0) = (
        expected(period, "won_revenue"),
        expected(previous, "won_revenue"),
    );
    let log_mean = (v1 - v0) / (v1 / v0).ln();
    let mut parts: Vec<(f64, String)> = [
        ("leads", "leads", false),
        ("conversion_rate", "conversion", true),
        ("avg_deal_size", "deal size", false),
    ]
    .iter()
    .map(|(key, label, points)| {
        let (x1, x0) = (expected(period, key), expected(previous, key));
        let share = log_mean * (x1 / x0).ln() / v0 * 100.0;
        let own = match points {
            true => card_change(x1 - x0, " pp"),
            false => card_change((x1 - x0) / x0 * 100.0, "%"),
        };
        (
            share,
            format!("{label} {own} (→\u{a0}{})", signed_pct(share)),
        )
    })
    .collect();
    parts.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    let parts: Vec<String> = parts.into_iter().map(|(_, text)| text).collect();
    format!(
        "Won revenue {}: {}",
        signed_pct((v1 - v0) / v0 * 100.0),
        parts.join(", ")
    )
}
