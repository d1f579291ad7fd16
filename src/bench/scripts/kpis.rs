//! The 20 custom KPIs `lodestar bench --scripts` stores for team `bench`.

use lodestar_store::custom_kpis::StoredKpi;

use super::{NESTED, TYPICAL};

/// The 20 custom KPIs of case (b): (key, unit, direction, kind, script). 1 to 5 lines each,
/// over `metric`, `previous`, `ratio`, `count_events` and `period`; four read other custom KPIs.
pub(super) const KPIS: [(&str, &str, &str, &str, &str); 20] = [
    (
        TYPICAL,
        "percent",
        "higher_is_better",
        "trailing",
        "let won = metric(\"customers_won\");\nlet leads = metric(\"leads\");\nratio(won, leads) * 100.0\n",
    ),
    (
        "bx_gross_roi",
        "percent",
        "higher_is_better",
        "trailing",
        "ratio(metric(\"revenue\"), metric(\"total_spend\")) * 100\n",
    ),
    (
        "bx_revenue_per_lead",
        "currency",
        "higher_is_better",
        "trailing",
        "ratio(metric(\"revenue\"), metric(\"leads\"))\n",
    ),
    (
        "bx_leads_per_sale",
        "ratio",
        "lower_is_better",
        "trailing",
        "ratio(metric(\"leads\"), metric(\"customers_won\"))\n",
    ),
    (
        "bx_mql_velocity",
        "percent",
        "higher_is_better",
        "leading",
        "let mqls = metric(\"mqls\");\nlet before = previous(\"mqls\");\nratio(mqls - before, before) * 100\n",
    ),
    (
        "bx_qualified_ratio",
        "percent",
        "higher_is_better",
        "leading",
        "ratio(metric(\"sqls\"), metric(\"leads\")) * 100\n",
    ),
    (
        "bx_cost_per_opportunity",
        "currency",
        "lower_is_better",
        "trailing",
        "ratio(metric(\"total_spend\"), metric(\"opportunities\"))\n",
    ),
    (
        "bx_demos",
        "count",
        "higher_is_better",
        "leading",
        "count_events(\"demo_booked\")\n",
    ),
    (
        "bx_demos_per_sql",
        "ratio",
        "higher_is_better",
        "leading",
        "// How many SQLs booked a demo (a lead may book more than one).\nratio(count_events(\"demo_booked\"), metric(\"sqls\"))\n",
    ),
    (
        "bx_sal_rate",
        "percent",
        "higher_is_better",
        "leading",
        "ratio(metric(\"sals\"), metric(\"mqls\")) * 100\n",
    ),
    (
        "bx_opportunity_rate",
        "percent",
        "higher_is_better",
        "leading",
        "ratio(metric(\"opportunities\"), metric(\"sqls\")) * 100\n",
    ),
    (
        "bx_spend_growth",
        "percent",
        "lower_is_better",
        "leading",
        "let now = metric(\"total_spend\");\nlet before = previous(\"total_spend\");\nratio(now - before, before) * 100\n",
    ),
    (
        NESTED,
        "percent",
        "higher_is_better",
        "trailing",
        "ratio(metric(\"customers_won\"), metric(\"bx_demos\")) * 100\n",
    ),
    (
        "bx_cost_per_demo",
        "currency",
        "lower_is_better",
        "trailing",
        "let spend = metric(\"marketing_spend\");\nratio(spend, metric(\"bx_demos\"))\n",
    ),
    (
        "bx_net_new_customers",
        "count",
        "higher_is_better",
        "trailing",
        "metric(\"customers_won\") - metric(\"churned_customers\")\n",
    ),
    (
        "bx_efficiency",
        "score",
        "higher_is_better",
        "trailing",
        "// ROI in multiples, less CAC in thousands: a rough efficiency score.\nlet roi = metric(\"bx_gross_roi\");\nlet cac = metric(\"cac\");\nif roi == () || cac == () { () }\nelse { roi / 100.0 - cac / 1000.0 }\n",
    ),
    (
        "bx_engagements_per_lead",
        "ratio",
        "higher_is_better",
        "leading",
        "ratio(metric(\"engagements\"), metric(\"leads\"))\n",
    ),
    (
        "bx_leads_per_week",
        "count",
        "higher_is_better",
        "leading",
        "let days = period.days;\nratio(metric(\"leads\"), days) * 7.0\n",
    ),
    (
        "bx_won_revenue_share",
        "percent",
        "higher_is_better",
        "trailing",
        "ratio(metric(\"won_revenue\"), metric(\"revenue\")) * 100\n",
    ),
    (
        "bx_win_rate_change",
        "percent",
        "higher_is_better",
        "trailing",
        "let now = metric(\"bx_win_rate\");\nlet before = previous(\"bx_win_rate\");\nnow - before\n",
    ),
];

pub(super) fn stored_kpis() -> Vec<StoredKpi> {
    KPIS.iter()
        .map(|(key, unit, direction, kind, script)| StoredKpi {
            key: (*key).to_owned(),
            name: (*key).to_owned(),
            unit: (*unit).to_owned(),
            direction: (*direction).to_owned(),
            category: "Benchmark".to_owned(),
            kind: (*kind).to_owned(),
            script: (*script).to_owned(),
            version: 0,
            updated_at: 0,
            deleted: false,
        })
        .collect()
}
