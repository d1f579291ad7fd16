//! The alerts pages: the team's alerts, and one alert's form, what a test would fire and its
//! events log.

use askama::Template;

use super::Layout;
pub use super::alert_form::{AlertForm, AlertInput};

pub struct AlertRow {
    pub id: i32,
    pub name: String,
    pub kpi: String,
    /// The condition in words: `below 10`, `anomaly (sensitivity 3)`.
    pub condition: String,
    /// `month to date`, `last complete week`.
    pub period: String,
    pub segment_by: String,
    /// `after data loads`, `on 0 8 * * * (UTC)`, both.
    pub checks: String,
    pub snoozed_until: Option<String>,
    /// Segments in the alert state now.
    pub firing: usize,
}

#[derive(Template)]
#[template(path = "pages/alerts.html")]
pub struct AlertsPage {
    pub layout: Layout,
    pub can_edit: bool,
    pub notice: Option<String>,
    pub rows: Vec<AlertRow>,
}

/// One segment's verdict in a test.
pub struct TestRow {
    pub segment: String,
    /// `holds`, `clear` or `unknown`.
    pub verdict: &'static str,
    pub period: String,
    pub text: String,
}

/// One firing or recovery, with its deliveries in words.
pub struct EventRow {
    pub kind: String,
    pub segment: String,
    pub period: String,
    pub text: String,
    pub at: String,
    /// `(channel, status, answer)` of each delivery.
    pub deliveries: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "pages/alert.html")]
pub struct AlertPage {
    pub layout: Layout,
    pub csrf: String,
    pub can_edit: bool,
    pub notice: Option<String>,
    /// `None` for a new alert.
    pub id: Option<i32>,
    pub form: AlertForm,
    /// (key, name) of the team's KPIs.
    pub kpis: Vec<(String, String)>,
    pub period_kinds: &'static [&'static str],
    pub conditions: &'static [(&'static str, &'static str)],
    pub dimensions: &'static [(&'static str, &'static str)],
    /// A test's verdicts, when one was asked for.
    pub tested: Option<Vec<TestRow>>,
    pub events: Vec<EventRow>,
}

pub const PERIOD_KINDS: &[&str] = &["day", "week", "month", "quarter", "year"];
pub const CONDITIONS: &[(&str, &str)] = &[
    ("above", "Above a value"),
    ("below", "Below a value"),
    ("change", "Changes by more than"),
    ("anomaly", "Outside its usual band (anomaly)"),
    ("goal", "Its goal is behind or missed"),
];
pub const SEGMENTATIONS: &[(&str, &str)] = &[
    ("", "The whole team"),
    ("channel", "Each channel"),
    ("campaign", "Each campaign"),
    ("source", "Each source"),
];
