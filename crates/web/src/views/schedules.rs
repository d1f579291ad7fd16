//! The schedules pages: the team's digests, and one digest's form, next runs and delivery log.

use askama::Template;

use super::Layout;

/// Ready-made cron patterns the form offers; "custom" uses the cron field as typed.
pub const PRESETS: &[(&str, &str)] = &[
    ("Mondays 08:00", "0 8 * * MON"),
    ("Weekdays 08:00", "0 8 * * MON-FRI"),
    ("Fridays 16:00", "0 16 * * FRI"),
    ("1st of the month 09:00", "0 9 1 * *"),
    ("Every day 08:00", "0 8 * * *"),
];

pub struct ScheduleRow {
    pub id: i32,
    pub report: String,
    pub words: String,
    pub timezone: String,
    pub recipients: Vec<String>,
    pub next_run: String,
    pub paused: bool,
}

#[derive(Template)]
#[template(path = "pages/schedules.html")]
pub struct SchedulesPage {
    pub layout: Layout,
    pub can_edit: bool,
    pub notice: Option<String>,
    pub rows: Vec<ScheduleRow>,
}

/// What the form holds: as typed, and what is wrong with it, field by field.
#[derive(Default)]
pub struct ScheduleForm {
    pub report: String,
    pub preset: String,
    pub cron: String,
    pub timezone: String,
    pub recipients: String,
    pub skip_empty: bool,
    pub report_error: Option<String>,
    pub cron_error: Option<String>,
    pub timezone_error: Option<String>,
    pub recipients_error: Option<String>,
}

pub struct DeliveryRow {
    pub id: i32,
    pub period: String,
    pub recipient: String,
    pub status: &'static str,
    pub attempts: i32,
    /// The server's answer: the SMTP reply, or why it failed.
    pub answer: String,
    pub when: String,
    pub origin: &'static str,
}

#[derive(Template)]
#[template(path = "pages/schedule.html")]
pub struct SchedulePage {
    pub layout: Layout,
    pub csrf: String,
    pub can_edit: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    /// `None` for a new schedule.
    pub id: Option<i32>,
    pub form: ScheduleForm,
    /// (slug, title) of the team's reports.
    pub reports: Vec<(String, String)>,
    pub presets: &'static [(&'static str, &'static str)],
    pub zones: Vec<&'static str>,
    /// The saved cron in words, with its timezone.
    pub words: String,
    pub next_runs: Vec<String>,
    pub paused: bool,
    pub deliveries: Vec<DeliveryRow>,
}
