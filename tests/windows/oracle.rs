//! Every built-in KPI computed straight from a team's rows for a window of local days in its
//! timezone: the test's own reading of spec/KPIS.md, sharing no code with the server. It is
//! checked against the shared fixture's expected values before it is trusted with new windows.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

/// The local days `first..=last`.
#[derive(Debug, Clone, Copy)]
pub struct Days {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Days {
    pub fn new(first: &str, last: &str) -> Days {
        Days {
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
        }
    }
}

struct Lead {
    id: String,
    channel: String,
    created: DateTime<Utc>,
    value: f64,
    score: Option<f64>,
    deal: f64,
    mql: Option<DateTime<Utc>>,
    sal: Option<DateTime<Utc>>,
    sql: Option<DateTime<Utc>>,
    opportunity: Option<DateTime<Utc>>,
    won: Option<DateTime<Utc>>,
    lost: Option<DateTime<Utc>>,
    churned: Option<DateTime<Utc>>,
}

struct Event {
    kind: String,
    channel: String,
    at: DateTime<Utc>,
    value: f64,
    lead_id: Option<String>,
}

struct Spend {
    day: NaiveDate,
    channel: String,
    category: String,
    amount: f64,
    impressions: f64,
    clicks: f64,
}

/// A team's rows, as loaded through the API.
pub struct Rows {
    leads: Vec<Lead>,
    events: Vec<Event>,
    spend: Vec<Spend>,
}

fn time(row: &Value, field: &str) -> Option<DateTime<Utc>> {
    row[field].as_str().map(|s| s.parse().unwrap())
}

/// A missing or empty dimension value is the segment `(none)`.
fn dim(row: &Value, field: &str) -> String {
    match row[field].as_str() {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => "(none)".to_owned(),
    }
}

fn num(row: &Value, field: &str) -> Option<f64> {
    row[field].as_f64()
}

impl Rows {
    pub fn new(leads: &[Value], events: &[Value], spend: &[Value]) -> Rows {
        Rows {
            leads: leads
                .iter()
                .map(|r| Lead {
                    id: r["id"].as_str().unwrap().to_owned(),
                    channel: dim(r, "channel"),
                    created: time(r, "created_at").unwrap(),
                    value: num(r, "value").unwrap_or(0.0),
                    score: num(r, "score"),
                    deal: num(r, "deal_value").unwrap_or(0.0),
                    mql: time(r, "mql_at"),
                    sal: time(r, "sal_at"),
                    sql: time(r, "sql_at"),
                    opportunity: time(r, "opportunity_at"),
                    won: time(r, "won_at"),
                    lost: time(r, "lost_at"),
                    churned: time(r, "churned_at"),
                })
                .collect(),
            events: events
                .iter()
                .map(|r| Event {
                    kind: r["kind"].as_str().unwrap().to_owned(),
                    channel: dim(r, "channel"),
                    at: time(r, "occurred_at").unwrap(),
                    value: num(r, "value").unwrap_or(0.0),
                    lead_id: r["lead_id"].as_str().map(str::to_owned),
                })
                .collect(),
            spend: spend
                .iter()
                .map(|r| Spend {
                    day: r["day"].as_str().unwrap().parse().unwrap(),
                    channel: dim(r, "channel"),
                    category: r["category"].as_str().unwrap().to_owned(),
                    amount: num(r, "amount").unwrap(),
                    impressions: num(r, "impressions").unwrap_or(0.0),
                    clicks: num(r, "clicks").unwrap_or(0.0),
                })
                .collect(),
        }
    }

    /// Every built-in KPI for `days` in `tz`, for the rows of `channel` (all rows when `None`);
    /// `before` is the window compared with, for lead velocity.
    pub fn kpis(
        &self,
        days: Days,
        before: Option<Days>,
        tz: Tz,
        channel: Option<&str>,
    ) -> BTreeMap<&'static str, Option<f64>> {
        let mut k = self.base(days, tz, channel);
        let previous_leads = before.map(|b| self.base(b, tz, channel)["leads"]);
        derive(&mut k, previous_leads.flatten());
        k
    }

    fn base(
        &self,
        days: Days,
        tz: Tz,
        channel: Option<&str>,
    ) -> BTreeMap<&'static str, Option<f64>> {
        let start = midnight(days.first, tz);
        let end = midnight(days.last.succ_opt().unwrap(), tz);
        let inside = |t: Option<DateTime<Utc>>| t.is_some_and(|t| t >= start && t < end);
        let before = |t: Option<DateTime<Utc>>, at: DateTime<Utc>| t.is_some_and(|t| t < at);
        let ours = |c: &str| channel.is_none_or(|want| want == c);
        let leads: Vec<&Lead> = self.leads.iter().filter(|l| ours(&l.channel)).collect();
        let events: Vec<&Event> = self
            .events
            .iter()
            .filter(|e| ours(&e.channel) && inside(Some(e.at)))
            .collect();
        let spend: Vec<&Spend> = self
            .spend
            .iter()
            .filter(|s| ours(&s.channel) && s.day >= days.first && s.day <= days.last)
            .collect();

        let count = |f: &dyn Fn(&Lead) -> bool| leads.iter().filter(|l| f(l)).count() as f64;
        let sum = |f: &dyn Fn(&Lead) -> Option<f64>| leads.iter().filter_map(|l| f(l)).sum::<f64>();
        let mean =
            |xs: Vec<f64>| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
        let in_days =
            |a: DateTime<Utc>, b: DateTime<Utc>| (a - b).num_milliseconds() as f64 / 86_400_000.0;

        let mut k = BTreeMap::new();
        k.insert("leads", Some(count(&|l| inside(Some(l.created)))));
        k.insert(
            "total_lead_value",
            Some(sum(&|l| inside(Some(l.created)).then_some(l.value))),
        );
        k.insert("mqls", Some(count(&|l| inside(l.mql))));
        k.insert("sals", Some(count(&|l| inside(l.sal))));
        k.insert("sqls", Some(count(&|l| inside(l.sql))));
        k.insert("opportunities", Some(count(&|l| inside(l.opportunity))));
        k.insert("customers_won", Some(count(&|l| inside(l.won))));
        k.insert("deals_lost", Some(count(&|l| inside(l.lost))));
        k.insert(
            "won_revenue",
            Some(sum(&|l| inside(l.won).then_some(l.deal))),
        );
        k.insert(
            "churned_customers",
            Some(count(&|l| l.won.is_some() && inside(l.churned))),
        );
        k.insert(
            "active_customers",
            Some(count(&|l| before(l.won, end) && !before(l.churned, end))),
        );
        k.insert(
            "time_to_conversion_days",
            mean(
                leads
                    .iter()
                    .filter(|l| inside(l.won))
                    .map(|l| in_days(l.won.unwrap(), l.created))
                    .collect(),
            ),
        );
        k.insert(
            "sales_cycle_days",
            mean(
                leads
                    .iter()
                    .filter(|l| inside(l.won) && l.sql.is_some())
                    .map(|l| in_days(l.won.unwrap(), l.sql.unwrap()))
                    .collect(),
            ),
        );
        let cohort: Vec<&&Lead> = leads.iter().filter(|l| inside(Some(l.created))).collect();
        k.insert(
            "cohort_conversion_rate",
            pct(
                cohort.iter().filter(|l| l.won.is_some()).count() as f64,
                cohort.len() as f64,
            ),
        );
        // Engagement: leads reachable in the window, engaged by an engagement event in it
        // (of any channel: the lead's dimensions segment it).
        let engaged: HashSet<&str> = self
            .events
            .iter()
            .filter(|e| e.kind == "engagement" && inside(Some(e.at)))
            .filter_map(|e| e.lead_id.as_deref())
            .collect();
        let reachable: Vec<&&Lead> = leads
            .iter()
            .filter(|l| l.created < end && !before(l.won, start) && !before(l.lost, start))
            .collect();
        k.insert(
            "engagement_rate",
            pct(
                reachable
                    .iter()
                    .filter(|l| engaged.contains(l.id.as_str()))
                    .count() as f64,
                reachable.len() as f64,
            ),
        );
        let kind = |name: &'static str| events.iter().filter(move |e| e.kind == name);
        k.insert("sessions", Some(kind("session").count() as f64));
        k.insert("visits", Some(kind("visit").count() as f64));
        k.insert("engagements", Some(kind("engagement").count() as f64));
        k.insert(
            "recurring_revenue",
            Some(kind("revenue").map(|e| e.value).sum()),
        );
        let scores: Vec<f64> = kind("nps").map(|e| e.value).collect();
        let promoters = scores.iter().filter(|v| **v >= 9.0).count() as f64;
        let detractors = scores.iter().filter(|v| **v <= 6.0).count() as f64;
        k.insert("nps", pct(promoters - detractors, scores.len() as f64));
        let spent = |f: &dyn Fn(&Spend) -> bool| {
            spend.iter().filter(|s| f(s)).map(|s| s.amount).sum::<f64>()
        };
        k.insert("ad_spend", Some(spent(&|s| s.category == "advertising")));
        k.insert("marketing_spend", Some(spent(&|s| s.category != "sales")));
        k.insert("total_spend", Some(spent(&|_| true)));
        k.insert(
            "impressions",
            Some(spend.iter().map(|s| s.impressions).sum()),
        );
        k.insert("clicks", Some(spend.iter().map(|s| s.clicks).sum()));
        k.insert(
            "avg_lead_score",
            mean(cohort.iter().filter_map(|l| l.score).collect()),
        );
        k.insert(
            "avg_customer_lifetime_days",
            mean(
                leads
                    .iter()
                    .filter(|l| l.won.is_some() && inside(l.churned))
                    .map(|l| in_days(l.churned.unwrap(), l.won.unwrap()))
                    .collect(),
            ),
        );
        // Churn: of the customers active at the start, those whose churn falls in the window.
        let active_at_start: Vec<&&Lead> = leads
            .iter()
            .filter(|l| before(l.won, start) && !before(l.churned, start))
            .collect();
        k.insert(
            "churn_rate",
            pct(
                active_at_start.iter().filter(|l| inside(l.churned)).count() as f64,
                active_at_start.len() as f64,
            ),
        );
        k
    }
}

/// Local midnight of `day` in `tz` (the first one where midnight happens twice).
pub fn midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap_or_else(|| panic!("midnight of {day} does not exist in {tz}: pick another zone"))
        .with_timezone(&Utc)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

fn pct(a: f64, b: f64) -> Option<f64> {
    ratio(Some(a), Some(b)).map(|r| r * 100.0)
}

/// The derived KPIs of spec/KPIS.md from the base measures.
fn derive(k: &mut BTreeMap<&'static str, Option<f64>>, previous_leads: Option<f64>) {
    let g = |k: &BTreeMap<&'static str, Option<f64>>, key: &str| k[key];
    let times = |x: Option<f64>, f: f64| x.map(|x| x * f);
    let sum2 = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a + b);
    let revenue = sum2(g(k, "won_revenue"), g(k, "recurring_revenue"));
    let cac = ratio(g(k, "total_spend"), g(k, "customers_won"));
    let arpa = ratio(revenue, g(k, "active_customers"));
    let churn = g(k, "churn_rate");
    let derived = [
        (
            "ctr",
            times(ratio(g(k, "clicks"), g(k, "impressions")), 100.0),
        ),
        ("cpc", ratio(g(k, "ad_spend"), g(k, "clicks"))),
        (
            "cpm",
            times(ratio(g(k, "ad_spend"), g(k, "impressions")), 1000.0),
        ),
        ("cpl", ratio(g(k, "marketing_spend"), g(k, "leads"))),
        ("cac", cac),
        (
            "visitor_conversion_rate",
            times(ratio(g(k, "leads"), g(k, "visits")), 100.0),
        ),
        (
            "conversion_rate",
            times(ratio(g(k, "customers_won"), g(k, "leads")), 100.0),
        ),
        (
            "mql_to_sql_rate",
            times(ratio(g(k, "sqls"), g(k, "mqls")), 100.0),
        ),
        (
            "mql_to_customer_rate",
            times(ratio(g(k, "customers_won"), g(k, "mqls")), 100.0),
        ),
        (
            "closing_rate",
            times(
                ratio(
                    g(k, "customers_won"),
                    sum2(g(k, "customers_won"), g(k, "deals_lost")),
                ),
                100.0,
            ),
        ),
        (
            "lead_velocity_rate",
            times(
                ratio(
                    g(k, "leads").zip(previous_leads).map(|(a, b)| a - b),
                    previous_leads,
                ),
                100.0,
            ),
        ),
        ("revenue", revenue),
        ("roas", ratio(g(k, "won_revenue"), g(k, "ad_spend"))),
        (
            "roi",
            times(
                ratio(
                    revenue.zip(g(k, "total_spend")).map(|(r, s)| r - s),
                    g(k, "total_spend"),
                ),
                100.0,
            ),
        ),
        (
            "avg_deal_size",
            ratio(g(k, "won_revenue"), g(k, "customers_won")),
        ),
        ("arpa", arpa),
        ("retention_rate", churn.map(|c| 100.0 - c)),
        (
            "clv",
            match (arpa, churn, cac) {
                (Some(a), Some(c), Some(cac)) if c != 0.0 => Some(a / (c / 100.0) - cac),
                _ => None,
            },
        ),
        ("cac_payback_periods", ratio(cac, arpa)),
        (
            "lead_to_mql_rate",
            times(ratio(g(k, "mqls"), g(k, "leads")), 100.0),
        ),
        (
            "mql_to_sal_rate",
            times(ratio(g(k, "sals"), g(k, "mqls")), 100.0),
        ),
        (
            "sal_to_sql_rate",
            times(ratio(g(k, "sqls"), g(k, "sals")), 100.0),
        ),
        (
            "sql_to_opportunity_rate",
            times(ratio(g(k, "opportunities"), g(k, "sqls")), 100.0),
        ),
        (
            "opportunity_win_rate",
            times(ratio(g(k, "customers_won"), g(k, "opportunities")), 100.0),
        ),
    ];
    k.extend(derived);
}
