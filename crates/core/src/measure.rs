//! Base measures: the numbers `store` computes in SQL for a period bucket and a segment. Every
//! built-in KPI is either one of them or a formula over them (see `formula`).

use crate::dimension::{Dimension, Table};

macro_rules! measures {
    ($($variant:ident => $key:literal, $table:ident, $additive:literal;)*) => {
        /// A number computed directly from stored rows. Some are internal (not KPIs themselves):
        /// they exist because a KPI's definition needs them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Measure { $($variant),* }

        impl Measure {
            pub const ALL: &'static [Measure] = &[$(Measure::$variant),*];
            pub const COUNT: usize = Measure::ALL.len();

            pub fn key(self) -> &'static str {
                match self { $(Measure::$variant => $key),* }
            }

            /// The table whose rows decide the measure's segment (engagement_rate joins events,
            /// but is segmented by the lead's dimensions).
            pub fn table(self) -> Table {
                match self { $(Measure::$variant => Table::$table),* }
            }

            /// Additive measures are counts and sums: their segments sum to their total.
            pub fn is_additive(self) -> bool {
                match self { $(Measure::$variant => $additive),* }
            }
        }
    };
}

measures! {
    Leads => "leads", Leads, true;
    TotalLeadValue => "total_lead_value", Leads, true;
    Mqls => "mqls", Leads, true;
    Sals => "sals", Leads, true;
    Sqls => "sqls", Leads, true;
    Opportunities => "opportunities", Leads, true;
    CustomersWon => "customers_won", Leads, true;
    DealsLost => "deals_lost", Leads, true;
    WonRevenue => "won_revenue", Leads, true;
    ChurnedCustomers => "churned_customers", Leads, true;
    ActiveCustomers => "active_customers", Leads, true;
    TimeToConversionDays => "time_to_conversion_days", Leads, false;
    SalesCycleDays => "sales_cycle_days", Leads, false;
    AvgLeadScore => "avg_lead_score", Leads, false;
    AvgCustomerLifetimeDays => "avg_customer_lifetime_days", Leads, false;
    CohortConversionRate => "cohort_conversion_rate", Leads, false;
    EngagementRate => "engagement_rate", Leads, false;
    // Customers active at the start of the period, and how many of exactly those churned in it:
    // churn_rate's denominator and numerator.
    ActiveAtStart => "active_at_start", Leads, true;
    ChurnedOfActiveAtStart => "churned_of_active_at_start", Leads, true;
    Sessions => "sessions", Events, true;
    Visits => "visits", Events, true;
    Engagements => "engagements", Events, true;
    RecurringRevenue => "recurring_revenue", Events, true;
    Nps => "nps", Events, false;
    AdSpend => "ad_spend", Spend, true;
    MarketingSpend => "marketing_spend", Spend, true;
    TotalSpend => "total_spend", Spend, true;
    Impressions => "impressions", Spend, true;
    Clicks => "clicks", Spend, true;
}

impl Measure {
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_key(key: &str) -> Option<Measure> {
        Measure::ALL.iter().copied().find(|m| m.key() == key)
    }

    /// Internal measures are inputs of KPIs, not KPIs.
    pub fn is_internal(self) -> bool {
        matches!(
            self,
            Measure::ActiveAtStart | Measure::ChurnedOfActiveAtStart
        )
    }

    pub fn supports(self, dimension: &Dimension) -> bool {
        dimension.supported_by(self.table())
    }
}

/// The value of every measure for one period bucket and one segment. `None` is "undefined" (a
/// mean or rate over nothing); a count over no rows is `Some(0.0)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureValues([Option<f64>; Measure::COUNT]);

impl Default for MeasureValues {
    fn default() -> Self {
        MeasureValues([None; Measure::COUNT])
    }
}

impl MeasureValues {
    /// Values for a bucket with no rows at all: zero counts and sums, undefined means and rates.
    pub fn empty() -> Self {
        let mut v = MeasureValues::default();
        for &m in Measure::ALL {
            if m.is_additive() {
                v.set(m, Some(0.0));
            }
        }
        v
    }

    pub fn get(&self, m: Measure) -> Option<f64> {
        self.0[m.index()]
    }

    pub fn set(&mut self, m: Measure, value: Option<f64>) {
        self.0[m.index()] = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_keys_are_unique_and_indexes_follow_the_list() {
        for (i, m) in Measure::ALL.iter().enumerate() {
            assert_eq!(m.index(), i);
            assert_eq!(Measure::from_key(m.key()), Some(*m));
        }
    }

    #[test]
    fn an_empty_bucket_has_zero_counts_and_undefined_rates() {
        let v = MeasureValues::empty();
        assert_eq!(v.get(Measure::Leads), Some(0.0));
        assert_eq!(v.get(Measure::Nps), None);
        assert_eq!(v.get(Measure::EngagementRate), None);
    }
}
