//! The goals page: every goal of the team by KPI with where it stands in the period in progress,
//! and the form that sets one (or changes the one being edited).

use askama::Template;
use lodestar_core::goal::GoalStatus;
use lodestar_report::format::format_value;
use lodestar_report::goal_progress::GoalProgress;

use super::{Layout, TargetBar};

/// One goal as the list shows it.
pub struct GoalRow {
    pub kpi: String,
    pub kpi_name: String,
    pub period_kind: String,
    pub segment_by: String,
    pub segment: String,
    pub target: String,
    pub phasing: &'static str,
    pub period: String,
    pub value: String,
    pub expected: String,
    pub projected: String,
    /// `ahead`, `on_track`, … (empty without a value yet).
    pub status: &'static str,
    pub status_words: &'static str,
    /// `met` or `missed`: the colour of the status.
    pub tone: &'static str,
    pub bar: Option<TargetBar>,
    /// The edit link's query: the goal's identity.
    pub query: String,
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn phasing_words(p: &str) -> &'static str {
    match p {
        "weekday" => "by weekday profile",
        "last_year" => "like last year",
        _ => "even",
    }
}

impl GoalRow {
    pub fn new(p: &GoalProgress) -> GoalRow {
        let g = &p.goal;
        let shown = |v: Option<f64>| format_value(p.unit, v);
        let status = p.pace.map(|x| x.status);
        GoalRow {
            kpi: g.kpi.clone(),
            kpi_name: p.kpi_name.clone(),
            period_kind: g.period_kind.clone(),
            segment_by: g.segment_by.clone(),
            segment: g.segment.clone(),
            target: shown(Some(g.target)),
            phasing: phasing_words(&g.phasing),
            period: p.period.clone(),
            value: shown(p.value),
            expected: p
                .pace
                .map_or_else(|| "—".to_owned(), |x| shown(Some(x.expected_to_date))),
            projected: p
                .pace
                .and_then(|x| x.projected)
                .map_or_else(|| "—".to_owned(), |v| shown(Some(v))),
            status: status.map_or("", GoalStatus::as_str),
            status_words: status.map_or("no data yet", GoalStatus::words),
            tone: match status {
                Some(s) if s.is_good() => "met",
                Some(_) => "missed",
                None => "pending",
            },
            bar: p
                .value
                .filter(|v| v.is_finite() && *v >= 0.0)
                .and_then(|v| {
                    (g.target > 0.0).then(|| {
                        let share = v / g.target * 100.0;
                        TargetBar {
                            fill: format!("{:.1}", share.min(100.0)),
                            label: format!("{share:.0}% of the goal"),
                        }
                    })
                }),
            query: format!(
                "kpi={}&period_kind={}&segment_by={}&segment={}",
                encode(&g.kpi),
                encode(&g.period_kind),
                encode(&g.segment_by),
                encode(&g.segment)
            ),
        }
    }
}

/// What the form holds: as typed, and what is wrong with it, field by field.
#[derive(Default)]
pub struct GoalForm {
    pub kpi: String,
    pub period_kind: String,
    pub segment_by: String,
    pub segment: String,
    pub target: String,
    pub phasing: String,
    /// The identity of the goal being edited (`kpi`, `period_kind`, `segment_by`, `segment`):
    /// saving under another identity replaces it.
    pub original: Option<(String, String, String, String)>,
    pub kpi_error: Option<String>,
    pub period_kind_error: Option<String>,
    pub segment_error: Option<String>,
    pub target_error: Option<String>,
    pub phasing_error: Option<String>,
}

pub const PERIOD_KINDS: &[&str] = &["week", "month", "quarter", "year"];
pub const PHASINGS: &[(&str, &str)] = &[
    ("even", "Even: the same share every day"),
    ("weekday", "By weekday profile (last 8 weeks)"),
    ("last_year", "Like the same period last year"),
];
pub const DIMENSIONS: &[(&str, &str)] = &[
    ("", "The whole team"),
    ("channel", "A channel"),
    ("campaign", "A campaign"),
    ("source", "A source"),
];

#[derive(Template)]
#[template(path = "pages/goals.html")]
pub struct GoalsPage {
    pub layout: Layout,
    pub csrf: String,
    pub can_edit: bool,
    pub notice: Option<String>,
    pub rows: Vec<GoalRow>,
    pub form: GoalForm,
    /// (key, name) of the team's KPIs.
    pub kpis: Vec<(String, String)>,
    pub period_kinds: &'static [&'static str],
    pub phasings: &'static [(&'static str, &'static str)],
    pub dimensions: &'static [(&'static str, &'static str)],
}
