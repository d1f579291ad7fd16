//! How each built-in KPI is computed from base measures. Derived KPIs are null when a denominator
//! is zero or an input is null (spec/KPIS.md).

use crate::catalog::Builtin;
use crate::expr::{Expr, normal_form};
use crate::measure::{Measure, MeasureValues};

/// An input of a derived KPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Measure(Measure),
    Kpi(Builtin),
}

pub enum Definition {
    /// The KPI is the base measure itself.
    Base(Measure),
    /// The KPI is a formula over these inputs (see `value`).
    Derived(&'static [Input]),
}

use Input::{Kpi as K, Measure as M};

pub fn definition(kpi: Builtin) -> Definition {
    use Builtin as B;
    use Definition::{Base, Derived};
    match kpi {
        B::Sessions => Base(Measure::Sessions),
        B::Visits => Base(Measure::Visits),
        B::Impressions => Base(Measure::Impressions),
        B::Clicks => Base(Measure::Clicks),
        B::Engagements => Base(Measure::Engagements),
        B::EngagementRate => Base(Measure::EngagementRate),
        B::Leads => Base(Measure::Leads),
        B::TotalLeadValue => Base(Measure::TotalLeadValue),
        B::Mqls => Base(Measure::Mqls),
        B::Sals => Base(Measure::Sals),
        B::Sqls => Base(Measure::Sqls),
        B::Opportunities => Base(Measure::Opportunities),
        B::CohortConversionRate => Base(Measure::CohortConversionRate),
        B::TimeToConversionDays => Base(Measure::TimeToConversionDays),
        B::SalesCycleDays => Base(Measure::SalesCycleDays),
        B::AvgLeadScore => Base(Measure::AvgLeadScore),
        B::AvgCustomerLifetimeDays => Base(Measure::AvgCustomerLifetimeDays),
        B::AdSpend => Base(Measure::AdSpend),
        B::MarketingSpend => Base(Measure::MarketingSpend),
        B::TotalSpend => Base(Measure::TotalSpend),
        B::CustomersWon => Base(Measure::CustomersWon),
        B::DealsLost => Base(Measure::DealsLost),
        B::WonRevenue => Base(Measure::WonRevenue),
        B::RecurringRevenue => Base(Measure::RecurringRevenue),
        B::ActiveCustomers => Base(Measure::ActiveCustomers),
        B::ChurnedCustomers => Base(Measure::ChurnedCustomers),
        B::Nps => Base(Measure::Nps),
        B::Ctr => Derived(&[M(Measure::Clicks), M(Measure::Impressions)]),
        B::Cpc => Derived(&[M(Measure::AdSpend), M(Measure::Clicks)]),
        B::Cpm => Derived(&[M(Measure::AdSpend), M(Measure::Impressions)]),
        B::Cpl => Derived(&[M(Measure::MarketingSpend), M(Measure::Leads)]),
        B::Cac => Derived(&[M(Measure::TotalSpend), M(Measure::CustomersWon)]),
        B::VisitorConversionRate => Derived(&[M(Measure::Leads), M(Measure::Visits)]),
        B::ConversionRate => Derived(&[M(Measure::CustomersWon), M(Measure::Leads)]),
        B::MqlToSqlRate => Derived(&[M(Measure::Sqls), M(Measure::Mqls)]),
        B::LeadToMqlRate => Derived(&[M(Measure::Mqls), M(Measure::Leads)]),
        B::MqlToSalRate => Derived(&[M(Measure::Sals), M(Measure::Mqls)]),
        B::SalToSqlRate => Derived(&[M(Measure::Sqls), M(Measure::Sals)]),
        B::SqlToOpportunityRate => Derived(&[M(Measure::Opportunities), M(Measure::Sqls)]),
        B::OpportunityWinRate => Derived(&[M(Measure::CustomersWon), M(Measure::Opportunities)]),
        B::MqlToCustomerRate => Derived(&[M(Measure::CustomersWon), M(Measure::Mqls)]),
        B::ClosingRate => Derived(&[M(Measure::CustomersWon), M(Measure::DealsLost)]),
        B::LeadVelocityRate => Derived(&[M(Measure::Leads)]),
        B::Revenue => Derived(&[M(Measure::WonRevenue), M(Measure::RecurringRevenue)]),
        B::Roas => Derived(&[M(Measure::WonRevenue), M(Measure::AdSpend)]),
        B::Roi => Derived(&[K(B::Revenue), M(Measure::TotalSpend)]),
        B::AvgDealSize => Derived(&[M(Measure::WonRevenue), M(Measure::CustomersWon)]),
        B::Arpa => Derived(&[K(B::Revenue), M(Measure::ActiveCustomers)]),
        B::ChurnRate => Derived(&[
            M(Measure::ChurnedOfActiveAtStart),
            M(Measure::ActiveAtStart),
        ]),
        B::RetentionRate => Derived(&[K(B::ChurnRate)]),
        B::Clv => Derived(&[K(B::Arpa), K(B::ChurnRate), K(B::Cac)]),
        B::CacPaybackPeriods => Derived(&[K(B::Cac), K(B::Arpa)]),
    }
}

/// The formula as an expression over KPI and measure keys (a base KPI is itself). It states
/// structurally what `value` computes; a test checks the two agree.
pub fn expr(kpi: Builtin) -> Expr {
    use Builtin as B;
    let m = |x: Measure| Expr::kpi(x.key());
    let k = |b: Builtin| Expr::kpi(b.key());
    let n = Expr::Num;
    match kpi {
        B::Ctr => m(Measure::Clicks) / m(Measure::Impressions) * n(100.0),
        B::Cpc => m(Measure::AdSpend) / m(Measure::Clicks),
        B::Cpm => m(Measure::AdSpend) / m(Measure::Impressions) * n(1000.0),
        B::Cpl => m(Measure::MarketingSpend) / m(Measure::Leads),
        B::Cac => m(Measure::TotalSpend) / m(Measure::CustomersWon),
        B::VisitorConversionRate => m(Measure::Leads) / m(Measure::Visits) * n(100.0),
        B::ConversionRate => m(Measure::CustomersWon) / m(Measure::Leads) * n(100.0),
        B::MqlToSqlRate => m(Measure::Sqls) / m(Measure::Mqls) * n(100.0),
        B::LeadToMqlRate => m(Measure::Mqls) / m(Measure::Leads) * n(100.0),
        B::MqlToSalRate => m(Measure::Sals) / m(Measure::Mqls) * n(100.0),
        B::SalToSqlRate => m(Measure::Sqls) / m(Measure::Sals) * n(100.0),
        B::SqlToOpportunityRate => m(Measure::Opportunities) / m(Measure::Sqls) * n(100.0),
        B::OpportunityWinRate => m(Measure::CustomersWon) / m(Measure::Opportunities) * n(100.0),
        B::MqlToCustomerRate => m(Measure::CustomersWon) / m(Measure::Mqls) * n(100.0),
        B::ClosingRate => {
            m(Measure::CustomersWon) / (m(Measure::CustomersWon) + m(Measure::DealsLost)) * n(100.0)
        }
        B::LeadVelocityRate => {
            let before = Expr::Previous(Measure::Leads.key().to_owned());
            (m(Measure::Leads) - before.clone()) / before * n(100.0)
        }
        B::Revenue => m(Measure::WonRevenue) + m(Measure::RecurringRevenue),
        B::Roas => m(Measure::WonRevenue) / m(Measure::AdSpend),
        B::Roi => (k(B::Revenue) - m(Measure::TotalSpend)) / m(Measure::TotalSpend) * n(100.0),
        B::AvgDealSize => m(Measure::WonRevenue) / m(Measure::CustomersWon),
        B::Arpa => k(B::Revenue) / m(Measure::ActiveCustomers),
        B::ChurnRate => m(Measure::ChurnedOfActiveAtStart) / m(Measure::ActiveAtStart) * n(100.0),
        B::RetentionRate => n(100.0) - k(B::ChurnRate),
        B::Clv => k(B::Arpa) / (k(B::ChurnRate) / n(100.0)) - k(B::Cac),
        B::CacPaybackPeriods => k(B::Cac) / k(B::Arpa),
        base => match definition(base) {
            Definition::Base(measure) => m(measure),
            Definition::Derived(_) => Expr::kpi(base.key()),
        },
    }
}

/// The formula of a derived built-in, for expanding references while normalising; `None` for
/// base KPIs, measures and keys that are not built-ins.
pub fn expansion(key: &str) -> Option<Expr> {
    let b = Builtin::from_key(key)?;
    match definition(b) {
        Definition::Base(_) => None,
        Definition::Derived(_) => Some(expr(b)),
    }
}

/// A built-in's normal form (see `expr::normal_form`).
pub fn signature(kpi: Builtin) -> String {
    normal_form(&expr(kpi), &expansion)
}

/// `a / b`, or null on a zero or null denominator or a null numerator.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

fn pct(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    ratio(a, b).map(|r| r * 100.0)
}

/// The KPI's value for a period given the base measures of that period and of the one before.
pub fn value(kpi: Builtin, current: &MeasureValues, previous: &MeasureValues) -> Option<f64> {
    use Builtin as B;
    let m = |measure: Measure| current.get(measure);
    let k = |other: Builtin| value(other, current, previous);
    match kpi {
        B::Ctr => pct(m(Measure::Clicks), m(Measure::Impressions)),
        B::Cpc => ratio(m(Measure::AdSpend), m(Measure::Clicks)),
        B::Cpm => ratio(m(Measure::AdSpend), m(Measure::Impressions)).map(|r| r * 1000.0),
        B::Cpl => ratio(m(Measure::MarketingSpend), m(Measure::Leads)),
        B::Cac => ratio(m(Measure::TotalSpend), m(Measure::CustomersWon)),
        B::VisitorConversionRate => pct(m(Measure::Leads), m(Measure::Visits)),
        B::ConversionRate => pct(m(Measure::CustomersWon), m(Measure::Leads)),
        B::MqlToSqlRate => pct(m(Measure::Sqls), m(Measure::Mqls)),
        B::LeadToMqlRate => pct(m(Measure::Mqls), m(Measure::Leads)),
        B::MqlToSalRate => pct(m(Measure::Sals), m(Measure::Mqls)),
        B::SalToSqlRate => pct(m(Measure::Sqls), m(Measure::Sals)),
        B::SqlToOpportunityRate => pct(m(Measure::Opportunities), m(Measure::Sqls)),
        B::OpportunityWinRate => pct(m(Measure::CustomersWon), m(Measure::Opportunities)),
        B::MqlToCustomerRate => pct(m(Measure::CustomersWon), m(Measure::Mqls)),
        B::ClosingRate => {
            let won = m(Measure::CustomersWon);
            let closed = won.zip(m(Measure::DealsLost)).map(|(w, l)| w + l);
            pct(won, closed)
        }
        B::LeadVelocityRate => {
            let before = previous.get(Measure::Leads);
            let delta = m(Measure::Leads).zip(before).map(|(now, b)| now - b);
            pct(delta, before)
        }
        B::Revenue => m(Measure::WonRevenue)
            .zip(m(Measure::RecurringRevenue))
            .map(|(w, r)| w + r),
        B::Roas => ratio(m(Measure::WonRevenue), m(Measure::AdSpend)),
        B::Roi => {
            let spend = m(Measure::TotalSpend);
            let net = k(B::Revenue).zip(spend).map(|(r, s)| r - s);
            pct(net, spend)
        }
        B::AvgDealSize => ratio(m(Measure::WonRevenue), m(Measure::CustomersWon)),
        B::Arpa => ratio(k(B::Revenue), m(Measure::ActiveCustomers)),
        B::ChurnRate => pct(
            m(Measure::ChurnedOfActiveAtStart),
            m(Measure::ActiveAtStart),
        ),
        B::RetentionRate => k(B::ChurnRate).map(|c| 100.0 - c),
        B::Clv => {
            let lifetime = ratio(k(B::Arpa), k(B::ChurnRate).map(|c| c / 100.0));
            lifetime.zip(k(B::Cac)).map(|(l, cac)| l - cac)
        }
        B::CacPaybackPeriods => ratio(k(B::Cac), k(B::Arpa)),
        base => match definition(base) {
            Definition::Base(measure) => m(measure),
            Definition::Derived(_) => None,
        },
    }
}

/// Change against the previous period in percent; null when the previous value is 0 or null.
pub fn change_pct(current: Option<f64>, previous: Option<f64>) -> Option<f64> {
    let delta = current.zip(previous).map(|(c, p)| c - p);
    ratio(delta, previous.map(f64::abs)).map(|r| r * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(Measure, f64)]) -> MeasureValues {
        let mut v = MeasureValues::empty();
        for (m, x) in pairs {
            v.set(*m, Some(*x));
        }
        v
    }

    #[test]
    fn a_zero_denominator_makes_a_derived_kpi_null() {
        let v = values(&[(Measure::MarketingSpend, 100.0)]);
        assert_eq!(value(Builtin::Cpl, &v, &v), None);
    }

    #[test]
    fn lead_velocity_compares_with_the_previous_period() {
        let now = values(&[(Measure::Leads, 17.0)]);
        let before = values(&[(Measure::Leads, 18.0)]);
        let lvr = value(Builtin::LeadVelocityRate, &now, &before).expect("defined");
        assert!((lvr - (-5.555_555_555_555_555)).abs() < 1e-12);
    }

    #[test]
    fn clv_is_null_when_nobody_churns() {
        let v = values(&[
            (Measure::ActiveAtStart, 10.0),
            (Measure::ChurnedOfActiveAtStart, 0.0),
            (Measure::ActiveCustomers, 10.0),
            (Measure::WonRevenue, 1000.0),
            (Measure::TotalSpend, 100.0),
            (Measure::CustomersWon, 1.0),
        ]);
        assert_eq!(value(Builtin::ChurnRate, &v, &v), Some(0.0));
        assert_eq!(value(Builtin::RetentionRate, &v, &v), Some(100.0));
        assert_eq!(value(Builtin::Clv, &v, &v), None);
    }

    #[test]
    fn clv_is_lifetime_revenue_minus_acquisition_cost() {
        let v = values(&[
            (Measure::ActiveAtStart, 10.0),
            (Measure::ChurnedOfActiveAtStart, 1.0),
            (Measure::ActiveCustomers, 10.0),
            (Measure::WonRevenue, 1000.0),
            (Measure::TotalSpend, 100.0),
            (Measure::CustomersWon, 1.0),
        ]);
        // arpa 100, churn 10 % -> 1000 lifetime, minus cac 100.
        assert_eq!(value(Builtin::Clv, &v, &v), Some(900.0));
    }

    #[test]
    fn every_formula_expression_computes_what_value_computes() {
        // Distinct, awkward values so a swapped input or a wrong constant shows.
        let mut cur = MeasureValues::empty();
        let mut prev = MeasureValues::empty();
        for (i, m) in Measure::ALL.iter().enumerate() {
            cur.set(*m, Some(3.0 + i as f64 * 1.37));
            prev.set(*m, Some(2.0 + i as f64 * 0.91));
        }
        for &b in Builtin::ALL {
            let lookup = |key: &str, previous: bool| {
                let m = Measure::from_key(key).expect("expressions read measures");
                if previous { prev.get(m) } else { cur.get(m) }
            };
            let expanded = |e: &Expr| -> Option<f64> {
                fn inline(e: &Expr) -> Expr {
                    match e {
                        Expr::Kpi(k) => expansion(k).map_or(e.clone(), |f| inline(&f)),
                        Expr::Add(a, b) => inline(a) + inline(b),
                        Expr::Sub(a, b) => inline(a) - inline(b),
                        Expr::Mul(a, b) => inline(a) * inline(b),
                        Expr::Div(a, b) => inline(a) / inline(b),
                        Expr::Neg(a) => -inline(a),
                        other => other.clone(),
                    }
                }
                inline(e).eval(&lookup)
            };
            let want = value(b, &cur, &prev).expect("defined for these inputs");
            let got = expanded(&expr(b)).expect("defined for these inputs");
            assert!(
                (want - got).abs() <= 1e-9 * want.abs().max(1.0),
                "{}: value {want}, expression {got}",
                b.key()
            );
        }
    }

    #[test]
    fn no_two_builtins_share_a_normal_form_and_cpa_is_cac() {
        let mut seen = std::collections::BTreeMap::new();
        for &b in Builtin::ALL {
            if let Some(other) = seen.insert(signature(b), b) {
                panic!("{} and {} normalise alike", other.key(), b.key());
            }
        }
        let cpa = Expr::kpi("total_spend") / Expr::kpi("customers_won");
        assert_eq!(normal_form(&cpa, &expansion), signature(Builtin::Cac));
        assert_eq!(
            normal_form(&Expr::kpi("cac"), &expansion),
            signature(Builtin::Cac)
        );
    }

    #[test]
    fn change_is_relative_to_the_size_of_the_previous_value() {
        assert_eq!(change_pct(Some(-5.0), Some(-10.0)), Some(50.0));
        assert_eq!(change_pct(Some(5.0), Some(0.0)), None);
        assert_eq!(change_pct(None, Some(3.0)), None);
    }
}
