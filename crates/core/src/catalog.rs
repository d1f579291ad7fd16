//! The built-in KPI catalog: every KPI of spec/KPIS.md with its metadata. Formulas live in
//! `formula`; this file says what each KPI is.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dimension::Dimension;
use crate::measure::Measure;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Count,
    Currency,
    Percent,
    Ratio,
    Days,
    Score,
}

impl Unit {
    /// The name the API and CSV use; [`Unit::parse`] reads it back.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Currency => "currency",
            Unit::Percent => "percent",
            Unit::Ratio => "ratio",
            Unit::Days => "days",
            Unit::Score => "score",
        }
    }

    pub fn parse(s: &str) -> Option<Unit> {
        Some(match s {
            "count" => Unit::Count,
            "currency" => Unit::Currency,
            "percent" => Unit::Percent,
            "ratio" => Unit::Ratio,
            "days" => Unit::Days,
            "score" => Unit::Score,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    /// Neither way is good or bad by itself: spend.
    Neutral,
}

impl Direction {
    /// The name the API and CSV use; [`Direction::parse`] reads it back.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher_is_better",
            Direction::LowerIsBetter => "lower_is_better",
            Direction::Neutral => "neutral",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "higher_is_better" => Some(Direction::HigherIsBetter),
            "lower_is_better" => Some(Direction::LowerIsBetter),
            "neutral" => Some(Direction::Neutral),
            _ => None,
        }
    }
}

/// Leading KPIs move before revenue does; trailing ones report what already happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Leading,
    Trailing,
}

impl Kind {
    /// The name the API uses; [`Kind::parse`] reads it back.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Leading => "leading",
            Kind::Trailing => "trailing",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "leading" => Some(Kind::Leading),
            "trailing" => Some(Kind::Trailing),
            _ => None,
        }
    }
}

/// The five branches of the default MECE tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Branch {
    ReachActivity,
    LeadVolumeQuality,
    Conversion,
    CostEfficiency,
    RevenueRetention,
}

impl Branch {
    pub const ALL: [Branch; 5] = [
        Branch::ReachActivity,
        Branch::LeadVolumeQuality,
        Branch::Conversion,
        Branch::CostEfficiency,
        Branch::RevenueRetention,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Branch::ReachActivity => "Reach & activity",
            Branch::LeadVolumeQuality => "Lead volume & quality",
            Branch::Conversion => "Conversion",
            Branch::CostEfficiency => "Cost efficiency",
            Branch::RevenueRetention => "Revenue & retention",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Branch::CostEfficiency | Branch::RevenueRetention => Kind::Trailing,
            _ => Kind::Leading,
        }
    }
}

impl fmt::Display for Branch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

macro_rules! builtins {
    ($($variant:ident => $key:literal, $name:literal, $unit:ident, $dir:ident, $branch:ident, $formula:literal;)*) => {
        /// A built-in KPI.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Builtin { $($variant),* }

        impl Builtin {
            /// In catalog order: by branch, as spec/KPIS.md lists them.
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant),*];

            pub fn key(self) -> &'static str { match self { $(Builtin::$variant => $key),* } }
            pub fn name(self) -> &'static str { match self { $(Builtin::$variant => $name),* } }
            pub fn unit(self) -> Unit { match self { $(Builtin::$variant => Unit::$unit),* } }
            pub fn direction(self) -> Direction { match self { $(Builtin::$variant => Direction::$dir),* } }
            pub fn branch(self) -> Branch { match self { $(Builtin::$variant => Branch::$branch),* } }
            /// The definition as people read it (the formula, or what is counted).
            pub fn formula(self) -> &'static str { match self { $(Builtin::$variant => $formula),* } }
        }
    };
}

builtins! {
    Sessions => "sessions", "Sessions", Count, HigherIsBetter, ReachActivity, "count of `session` events (webinars, trade shows, workshops…) in the period";
    Visits => "visits", "Website visits", Count, HigherIsBetter, ReachActivity, "count of `visit` events in the period";
    Impressions => "impressions", "Impressions", Count, HigherIsBetter, ReachActivity, "sum of spend impressions, day in the period";
    Clicks => "clicks", "Clicks", Count, HigherIsBetter, ReachActivity, "sum of spend clicks, day in the period";
    Ctr => "ctr", "Click-through rate", Percent, HigherIsBetter, ReachActivity, "clicks / impressions × 100";
    Engagements => "engagements", "Engagements", Count, HigherIsBetter, ReachActivity, "count of `engagement` events in the period";
    EngagementRate => "engagement_rate", "Engagement rate", Percent, HigherIsBetter, ReachActivity, "of leads reachable in the period (created before its end, not won or lost before its start), % with at least one engagement event in it";
    Leads => "leads", "Leads", Count, HigherIsBetter, LeadVolumeQuality, "count of leads created in the period";
    TotalLeadValue => "total_lead_value", "Total lead value", Currency, HigherIsBetter, LeadVolumeQuality, "sum of estimated lead value of leads created in the period";
    Mqls => "mqls", "MQLs", Count, HigherIsBetter, LeadVolumeQuality, "count of leads that became marketing-qualified in the period";
    Sals => "sals", "SALs", Count, HigherIsBetter, LeadVolumeQuality, "count of leads accepted by sales in the period";
    Sqls => "sqls", "SQLs", Count, HigherIsBetter, LeadVolumeQuality, "count of leads that became sales-qualified in the period";
    Opportunities => "opportunities", "Opportunities", Count, HigherIsBetter, LeadVolumeQuality, "count of leads that became opportunities in the period";
    LeadVelocityRate => "lead_velocity_rate", "Lead velocity rate", Percent, HigherIsBetter, LeadVolumeQuality, "(leads − leads of the previous period) / leads of the previous period × 100";
    AvgLeadScore => "avg_lead_score", "Average lead score", Score, HigherIsBetter, LeadVolumeQuality, "mean score (0–100) of the leads created in the period that have one";
    VisitorConversionRate => "visitor_conversion_rate", "Visitor-to-lead rate", Percent, HigherIsBetter, Conversion, "leads / visits × 100";
    ConversionRate => "conversion_rate", "Lead-to-customer rate", Percent, HigherIsBetter, Conversion, "customers_won / leads × 100 (both counted in the period)";
    CohortConversionRate => "cohort_conversion_rate", "Cohort conversion rate", Percent, HigherIsBetter, Conversion, "of leads created in the period, % won at any time";
    LeadToMqlRate => "lead_to_mql_rate", "Lead-to-MQL rate", Percent, HigherIsBetter, Conversion, "mqls / leads × 100 (both counted in the period)";
    MqlToSalRate => "mql_to_sal_rate", "MQL-to-SAL rate", Percent, HigherIsBetter, Conversion, "sals / mqls × 100";
    SalToSqlRate => "sal_to_sql_rate", "SAL-to-SQL rate", Percent, HigherIsBetter, Conversion, "sqls / sals × 100";
    MqlToSqlRate => "mql_to_sql_rate", "MQL-to-SQL rate", Percent, HigherIsBetter, Conversion, "sqls / mqls × 100";
    SqlToOpportunityRate => "sql_to_opportunity_rate", "SQL-to-opportunity rate", Percent, HigherIsBetter, Conversion, "opportunities / sqls × 100";
    OpportunityWinRate => "opportunity_win_rate", "Opportunity win rate", Percent, HigherIsBetter, Conversion, "customers_won / opportunities × 100";
    MqlToCustomerRate => "mql_to_customer_rate", "MQL-to-customer rate", Percent, HigherIsBetter, Conversion, "customers_won / mqls × 100";
    ClosingRate => "closing_rate", "Closing rate", Percent, HigherIsBetter, Conversion, "customers_won / (customers_won + deals_lost) × 100";
    TimeToConversionDays => "time_to_conversion_days", "Time to conversion", Days, LowerIsBetter, Conversion, "mean of (won_at − created_at) in days, over leads won in the period";
    SalesCycleDays => "sales_cycle_days", "Sales cycle", Days, LowerIsBetter, Conversion, "mean of (won_at − sql_at) in days, over leads won in the period that were SQLs";
    AdSpend => "ad_spend", "Ad spend", Currency, Neutral, CostEfficiency, "sum of spend in category advertising, day in the period";
    MarketingSpend => "marketing_spend", "Marketing spend", Currency, Neutral, CostEfficiency, "sum of spend in every category but sales";
    TotalSpend => "total_spend", "Total spend", Currency, Neutral, CostEfficiency, "sum of spend in all categories";
    Cpc => "cpc", "Cost per click", Currency, LowerIsBetter, CostEfficiency, "ad_spend / clicks";
    Cpm => "cpm", "Cost per mille", Currency, LowerIsBetter, CostEfficiency, "ad_spend / impressions × 1000";
    Cpl => "cpl", "Cost per lead", Currency, LowerIsBetter, CostEfficiency, "marketing_spend / leads";
    Cac => "cac", "Customer acquisition cost", Currency, LowerIsBetter, CostEfficiency, "total_spend / customers_won";
    Roas => "roas", "Return on ad spend", Ratio, HigherIsBetter, CostEfficiency, "won_revenue / ad_spend (4.0 means 4:1)";
    Roi => "roi", "Return on investment", Percent, HigherIsBetter, CostEfficiency, "(revenue − total_spend) / total_spend × 100";
    CacPaybackPeriods => "cac_payback_periods", "CAC payback", Ratio, LowerIsBetter, CostEfficiency, "cac / arpa (in periods of the period's length)";
    CustomersWon => "customers_won", "Customers won", Count, HigherIsBetter, RevenueRetention, "count of leads won in the period";
    DealsLost => "deals_lost", "Deals lost", Count, LowerIsBetter, RevenueRetention, "count of leads lost in the period";
    WonRevenue => "won_revenue", "Won revenue", Currency, HigherIsBetter, RevenueRetention, "sum of deal value of leads won in the period";
    RecurringRevenue => "recurring_revenue", "Recurring revenue", Currency, HigherIsBetter, RevenueRetention, "sum of value of `revenue` events in the period";
    Revenue => "revenue", "Revenue", Currency, HigherIsBetter, RevenueRetention, "won_revenue + recurring_revenue";
    AvgDealSize => "avg_deal_size", "Average deal size", Currency, HigherIsBetter, RevenueRetention, "won_revenue / customers_won";
    ActiveCustomers => "active_customers", "Active customers", Count, HigherIsBetter, RevenueRetention, "customers won before the period's end and not churned by then";
    ChurnedCustomers => "churned_customers", "Churned customers", Count, LowerIsBetter, RevenueRetention, "count of customers whose churn falls in the period";
    ChurnRate => "churn_rate", "Churn rate", Percent, LowerIsBetter, RevenueRetention, "of customers active at the period's start, % who churned in it";
    RetentionRate => "retention_rate", "Retention rate", Percent, HigherIsBetter, RevenueRetention, "100 − churn_rate";
    AvgCustomerLifetimeDays => "avg_customer_lifetime_days", "Average customer lifetime", Days, HigherIsBetter, RevenueRetention, "mean of (churned_at − won_at) in days, over customers who churned in the period";
    Arpa => "arpa", "Revenue per account", Currency, HigherIsBetter, RevenueRetention, "revenue / active_customers";
    Clv => "clv", "Customer lifetime value", Currency, HigherIsBetter, RevenueRetention, "arpa / (churn_rate / 100) − cac";
    Nps => "nps", "Net promoter score", Score, HigherIsBetter, RevenueRetention, "(promoters 9–10 − detractors 0–6) / responses × 100, over `nps` events in the period";
}

impl Builtin {
    pub fn from_key(key: &str) -> Option<Builtin> {
        Builtin::ALL.iter().copied().find(|b| b.key() == key)
    }

    pub fn kind(self) -> Kind {
        self.branch().kind()
    }

    /// Every base measure the KPI needs, directly or through other KPIs.
    pub fn measures(self) -> Vec<Measure> {
        let mut out = Vec::new();
        self.collect_measures(&mut out);
        out.sort();
        out.dedup();
        out
    }

    fn collect_measures(self, out: &mut Vec<Measure>) {
        match crate::formula::definition(self) {
            crate::formula::Definition::Base(m) => out.push(m),
            crate::formula::Definition::Derived(inputs) => {
                for input in inputs {
                    match input {
                        crate::formula::Input::Measure(m) => out.push(*m),
                        crate::formula::Input::Kpi(k) => k.collect_measures(out),
                    }
                }
            }
        }
    }

    /// Why the KPI cannot be split by `dimension`, if it cannot.
    pub fn unsupported_reason(self, dimension: &Dimension) -> Option<String> {
        self.measures()
            .into_iter()
            .find(|m| !m.supports(dimension))
            .map(|m| {
                format!(
                    "{} needs {}, which has no dimension {}",
                    self.key(),
                    m.table(),
                    dimension.missing_on(m.table())
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dimension::Dimension;

    #[test]
    fn the_catalog_has_the_52_kpis_of_the_spec_with_unique_keys() {
        assert_eq!(Builtin::ALL.len(), 52);
        let mut keys: Vec<_> = Builtin::ALL.iter().map(|b| b.key()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 52);
    }

    #[test]
    fn lower_is_better_exactly_for_the_kpis_the_spec_names() {
        let mut lower: Vec<_> = Builtin::ALL
            .iter()
            .filter(|b| b.direction() == Direction::LowerIsBetter)
            .map(|b| b.key())
            .collect();
        lower.sort();
        assert_eq!(
            lower,
            [
                "cac",
                "cac_payback_periods",
                "churn_rate",
                "churned_customers",
                "cpc",
                "cpl",
                "cpm",
                "deals_lost",
                "sales_cycle_days",
                "time_to_conversion_days"
            ]
        );
    }

    #[test]
    fn cpl_is_unsupported_by_region_because_spend_lacks_it() {
        let region = Dimension::Attr("region".into());
        assert_eq!(
            Builtin::Cpl.unsupported_reason(&region).as_deref(),
            Some("cpl needs spend, which has no dimension attrs.region")
        );
        assert_eq!(Builtin::Leads.unsupported_reason(&region), None);
        assert!(
            Builtin::Revenue
                .unsupported_reason(&Dimension::Source)
                .is_some()
        );
    }

    #[test]
    fn clv_needs_spend_leads_and_revenue_events() {
        let m = Builtin::Clv.measures();
        assert!(m.contains(&Measure::TotalSpend));
        assert!(m.contains(&Measure::ActiveCustomers));
        assert!(m.contains(&Measure::RecurringRevenue));
    }
}
