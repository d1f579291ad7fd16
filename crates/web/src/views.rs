//! Page view models: what each askama template reads. Numbers arrive formatted from
//! `lodestar_report::format`; this file only adds presentation (sparkline geometry, bar widths,
//! links). Templates escape every value, so user text (channel names, KPI names, script output)
//! is always shown as text.

use askama::Template;
use lodestar_core::catalog::{Direction, Unit};
use lodestar_report::catalog::CatalogEntry;
use lodestar_report::definition::TargetStatus;
use lodestar_report::drivers::{Explanation, TOP_DRIVERS};
use lodestar_report::engine::TrendPoint;
use lodestar_report::format::{Tone, format_value};
use lodestar_report::meta::Source;
use lodestar_report::number;
use lodestar_report::report::{Card, Report};

/// What the base layout needs.
pub struct Layout {
    pub title: String,
    pub team: Option<String>,
    /// Which main navigation entry is current: `home`, `reports`, `trees`, `catalog`, `scripts`
    /// or "".
    pub active: &'static str,
    /// The session's CSRF token: present when signed in (it also shows the navigation).
    pub csrf: Option<String>,
    /// Opened through a share link.
    pub shared: bool,
    /// The teams of the person signed in (id, name), for the switcher when there are several.
    pub teams: Vec<(i32, String)>,
    /// The team of the page.
    pub team_id: i32,
    /// Signed in as a person (not with a token): offers "sign out everywhere".
    pub person: bool,
    /// An admin of the team: the navigation shows Settings.
    pub admin: bool,
}

impl Layout {
    pub fn bare(title: &str) -> Layout {
        Layout {
            title: title.to_owned(),
            team: None,
            active: "",
            csrf: None,
            shared: false,
            teams: Vec::new(),
            team_id: 0,
            person: false,
            admin: false,
        }
    }
}

#[derive(Template)]
#[template(path = "pages/login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub csrf: String,
    pub next: String,
    pub email: String,
    pub notice: Option<String>,
    /// A failed password sign-in (worded alike for every cause).
    pub password_error: Option<String>,
    pub token_error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/set_password.html")]
pub struct SetPasswordPage {
    pub layout: Layout,
    pub heading: String,
    pub intro: String,
    pub action: String,
    pub button: String,
    pub csrf: String,
    pub email: String,
    pub ask_password: bool,
    pub min_chars: usize,
    pub password_error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/forgot.html")]
pub struct ForgotPage {
    pub layout: Layout,
    pub csrf: String,
    pub email: String,
    pub sent: bool,
    pub email_error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub heading: String,
    pub message: String,
    pub sign_in: bool,
}

/// A sparkline: one polyline per run of defined values, and a dot on the latest one.
pub struct Spark {
    pub width: u32,
    pub height: u32,
    pub lines: Vec<String>,
    pub areas: Vec<String>,
    pub dot: Option<(String, String)>,
    pub label: String,
}

const SPARK_W: f64 = 120.0;
const SPARK_H: f64 = 30.0;
const SPARK_PAD: f64 = 3.0;

impl Spark {
    pub fn new(name: &str, trend: &[TrendPoint]) -> Spark {
        let values: Vec<Option<f64>> = trend
            .iter()
            .map(|p| p.value.filter(|v| v.is_finite()))
            .collect();
        let defined = values.iter().flatten().copied();
        let (min, max) = defined.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let n = values.len();
        let x = |i: usize| {
            if n <= 1 {
                SPARK_W / 2.0
            } else {
                SPARK_PAD + i as f64 * (SPARK_W - 2.0 * SPARK_PAD) / (n - 1) as f64
            }
        };
        let y = |v: f64| {
            if max > min {
                SPARK_PAD + (max - v) / (max - min) * (SPARK_H - 2.0 * SPARK_PAD)
            } else {
                SPARK_H / 2.0
            }
        };
        // Runs of consecutive defined points: (first index, last index, "x,y x,y …").
        let mut runs: Vec<(usize, usize, Vec<String>)> = Vec::new();
        for (i, v) in values.iter().enumerate() {
            match (v, runs.last_mut()) {
                (Some(v), Some((_, last, points))) if *last + 1 == i => {
                    points.push(format!("{:.1},{:.1}", x(i), y(*v)));
                    *last = i;
                }
                (Some(v), _) => runs.push((i, i, vec![format!("{:.1},{:.1}", x(i), y(*v))])),
                (None, _) => {}
            }
        }
        let lines = runs.iter().map(|(_, _, p)| p.join(" ")).collect();
        // The area under each run, down to the bottom edge.
        let areas = runs
            .iter()
            .filter(|(first, last, _)| last > first)
            .map(|(first, last, p)| {
                format!(
                    "{:.1},{SPARK_H:.1} {} {:.1},{SPARK_H:.1}",
                    x(*first),
                    p.join(" "),
                    x(*last)
                )
            })
            .collect();
        let dot = values
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, v)| v.map(|v| (format!("{:.1}", x(i)), format!("{:.1}", y(v)))));
        let label = match (trend.first(), trend.last()) {
            (Some(first), Some(last)) => {
                format!("{name} from {} to {}", first.period, last.period)
            }
            _ => format!("{name}: no history"),
        };
        Spark {
            width: SPARK_W as u32,
            height: SPARK_H as u32,
            lines,
            areas,
            dot,
            label,
        }
    }
}

pub struct CardView<'a> {
    pub c: &'a Card,
    pub tone: &'static str,
    pub arrow: &'static str,
    pub raw_value: String,
    pub target_class: &'static str,
    /// How far the value is towards a one-sided target.
    pub target_bar: Option<TargetBar>,
    /// `met` (ahead, on track, met) or `missed` (behind, missed), for the goal line's colour.
    pub goal_class: &'static str,
    /// How far the value is towards the goal's target.
    pub goal_bar: Option<TargetBar>,
    pub spark: Spark,
}

/// A one-sided target's progress: the value as a share of the target, drawn up to 100%.
pub struct TargetBar {
    /// Of a 100-unit-wide SVG.
    pub fill: String,
    /// e.g. "82% of target".
    pub label: String,
}

impl TargetBar {
    /// The value as a share of the goal's target.
    fn of_goal(c: &Card) -> Option<TargetBar> {
        let target = c.goal.as_ref()?.pace.target;
        let value = c.value.filter(|v| v.is_finite())?;
        if target <= 0.0 || value < 0.0 {
            return None;
        }
        let share = value / target * 100.0;
        Some(TargetBar {
            fill: format!("{:.1}", share.min(100.0)),
            label: format!("{share:.0}% of the goal"),
        })
    }

    fn of(c: &Card) -> Option<TargetBar> {
        let t = c.target.as_ref()?;
        let value = c.value.filter(|v| v.is_finite())?;
        let goal = match (t.bounds.min, t.bounds.max) {
            (Some(min), None) => min,
            (None, Some(max)) => max,
            _ => return None,
        };
        if goal <= 0.0 || value < 0.0 {
            return None;
        }
        let share = value / goal * 100.0;
        Some(TargetBar {
            fill: format!("{:.1}", share.min(100.0)),
            label: format!("{share:.0}% of target"),
        })
    }
}

impl<'a> CardView<'a> {
    pub fn new(c: &'a Card) -> CardView<'a> {
        CardView {
            c,
            tone: c.tone.as_str(),
            arrow: match c.tone {
                Tone::None | Tone::Flat => "",
                _ if c.change.is_some_and(|d| d > 0.0) => "▲ ",
                _ => "▼ ",
            },
            raw_value: number::raw(c.value),
            target_class: match c.target.as_ref().map(|t| t.status) {
                Some(TargetStatus::Met) => "met",
                Some(TargetStatus::Missed) => "missed",
                Some(TargetStatus::InProgress) => "pending",
                _ => "novalue",
            },
            target_bar: TargetBar::of(c),
            goal_class: match c.goal.as_ref().map(|g| g.pace.status.is_good()) {
                Some(true) => "met",
                Some(false) => "missed",
                None => "novalue",
            },
            goal_bar: TargetBar::of_goal(c),
            spark: Spark::new(&c.meta.name, &c.trend),
        }
    }

    /// The card's border: its target's status when it has one, else its change's tone.
    pub fn border(&self) -> String {
        match self.c.target.as_ref().map(|t| t.status) {
            Some(TargetStatus::Met) => "target-met".to_owned(),
            Some(TargetStatus::Missed) => "target-missed".to_owned(),
            _ => format!("tone-{}", self.tone),
        }
    }
}

/// The summary the report leads with, as cards of the report.
pub struct SummaryView<'a> {
    pub headline: Vec<CardView<'a>>,
    pub movers: Vec<CardView<'a>>,
    pub missed: Vec<CardView<'a>>,
    /// Some KPI of the report has a target (so "none missed" is news).
    pub has_targets: bool,
}

impl<'a> SummaryView<'a> {
    fn new(r: &'a Report) -> Option<SummaryView<'a>> {
        if r.empty || r.summary.is_empty() {
            return None;
        }
        let cards = |keys: &[String]| -> Vec<CardView<'a>> {
            keys.iter()
                .filter_map(|k| r.card(k))
                .map(CardView::new)
                .collect()
        };
        Some(SummaryView {
            headline: cards(&r.summary.headline),
            movers: cards(&r.summary.movers),
            missed: cards(&r.summary.targets_missed),
            has_targets: r.cards().any(|c| c.target.is_some()),
        })
    }
}

pub struct SectionView<'a> {
    pub title: &'a str,
    pub kind: &'static str,
    pub cards: Vec<CardView<'a>>,
}

pub struct PeriodNav {
    pub action: String,
    pub prev_href: String,
    pub prev_key: String,
    pub next_href: Option<String>,
    pub next_key: String,
    /// The KPI tree the page was asked to follow (`?tree=`): the period form keeps it.
    pub tree: Option<String>,
    /// The dimensions the form's "split by" offers (the report's own split among them).
    pub splits: Vec<String>,
}

impl PeriodNav {
    /// What a report may be split by: the dimensions every table has or leads have, and the
    /// report's own split when it is another (an `attrs.*` key or a segment set).
    pub fn splits(current: Option<&lodestar_core::dimension::Dimension>) -> Vec<String> {
        let mut all: Vec<String> = ["channel", "campaign", "source", "category"]
            .iter()
            .map(|d| (*d).to_owned())
            .collect();
        if let Some(d) = current.map(ToString::to_string)
            && !all.contains(&d)
        {
            all.push(d);
        }
        all
    }
}

/// One row of a driver picture: a signed bar drawn from the middle of a 200-unit-wide SVG,
/// coloured by whether it moved the KPI the good or the bad way. The colours are SVG
/// attributes, not styles, so the page's content security policy lets them through.
pub struct DriverBar {
    pub label: String,
    /// The effect on the KPI (the change itself on the first row).
    pub text: String,
    /// The row's own change, as its card shows it.
    pub own: String,
    /// Why the effect cannot be computed, shown instead of `text` and the bar.
    pub note: Option<String>,
    pub tone: &'static str,
    pub x: String,
    pub width: String,
    pub fill: &'static str,
    /// The first row: the KPI's own change.
    pub total: bool,
}

/// A KPI's change explained: the sentence, the KPI's row and its largest drivers, and the
/// rest folded away.
pub struct DriverView {
    pub kpi: String,
    pub sentence: String,
    pub blocked: bool,
    pub bars: Vec<DriverBar>,
    pub folded: Vec<DriverBar>,
}

/// The colours of `--good`, `--bad` and `--flat` in app.css.
fn tone_fill(t: Tone) -> &'static str {
    match t {
        Tone::Good => "#137a3a",
        Tone::Bad => "#c8312b",
        Tone::Neutral | Tone::Flat | Tone::None => "#6b7385",
    }
}

impl DriverView {
    pub fn new(e: &Explanation) -> DriverView {
        let mut bars: Vec<DriverBar> = e
            .bars()
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                // Half of the 200 units on each side of the axis.
                let half = b.length_pct.clamp(0.0, 100.0);
                DriverBar {
                    x: format!("{:.1}", if b.value < 0.0 { 100.0 - half } else { 100.0 }),
                    width: format!("{half:.1}"),
                    tone: b.tone.as_str(),
                    fill: tone_fill(b.tone),
                    label: b.label,
                    text: b.text,
                    own: b.own,
                    note: None,
                    total: i == 0,
                }
            })
            .collect();
        if bars.is_empty() {
            // Not split: each driver's own change, and why there is no share, in words.
            bars = e
                .parts
                .iter()
                .map(|p| DriverBar {
                    label: p.label.clone(),
                    text: p.effect_display.clone(),
                    own: p.change_display.clone(),
                    note: Some(p.note.clone().unwrap_or_else(|| "not split".to_owned())),
                    tone: Tone::None.as_str(),
                    x: "100.0".to_owned(),
                    width: "0.0".to_owned(),
                    fill: tone_fill(Tone::None),
                    total: false,
                })
                .collect();
        }
        let total = usize::from(bars.first().is_some_and(|b| b.total));
        let folded = bars.split_off(bars.len().min(total + TOP_DRIVERS));
        DriverView {
            kpi: e.kpi.clone(),
            sentence: e.sentence(),
            blocked: e.error.is_some(),
            bars,
            folded,
        }
    }
}

pub struct FunnelRow {
    pub key: &'static str,
    pub label: &'static str,
    pub text: String,
    pub width: String,
    /// The step's conversion from the step before.
    pub rate: Option<FunnelRate>,
}

pub struct FunnelRate {
    /// The rate KPI, e.g. `lead_to_mql_rate`.
    pub key: &'static str,
    /// "52.9% of Leads".
    pub text: String,
}

pub struct LegendRow {
    pub stage: &'static str,
    pub label: &'static str,
    pub count: String,
    pub share: String,
}

pub struct StackSegment {
    pub stage: &'static str,
    pub x: String,
    pub width: String,
}

/// A report page: the layout around a body rendered by [`ReportBody`].
#[derive(Template)]
#[template(path = "pages/report.html")]
pub struct ReportPage<'a> {
    pub layout: Layout,
    pub body: &'a str,
    /// The report editor, for editors and admins (outside the cached body, which every role
    /// shares).
    pub edit_href: Option<String>,
}

/// Everything of a report page inside the layout. For signed-in viewers it depends only on the
/// report and on whether the next period has started, so it is rendered once per cached report.
#[derive(Template)]
#[template(path = "pages/report_body.html")]
pub struct ReportBody<'a> {
    pub r: &'a Report,
    pub summary: Option<SummaryView<'a>>,
    pub sections: Vec<SectionView<'a>>,
    pub nav: Option<PeriodNav>,
    /// When opened through a share link: when it expires.
    pub share: Option<String>,
    pub csv_href: String,
    pub json_href: Option<String>,
    pub funnel: Vec<FunnelRow>,
    pub legend: Vec<LegendRow>,
    pub stack: Vec<StackSegment>,
    pub stage_total: String,
    pub drivers: Vec<DriverView>,
}

impl<'a> ReportBody<'a> {
    pub fn new(
        r: &'a Report,
        nav: Option<PeriodNav>,
        share: Option<String>,
        csv_href: String,
        json_href: Option<String>,
    ) -> ReportBody<'a> {
        let sections = r
            .sections
            .iter()
            .map(|s| SectionView {
                title: &s.title,
                kind: s.kind.as_str(),
                cards: s.kpis.iter().map(CardView::new).collect(),
            })
            .collect();
        let funnel = r
            .funnel
            .iter()
            .map(|f| FunnelRow {
                key: f.key,
                label: f.label,
                text: f.text.clone(),
                width: format!("{:.1}", f.width_pct),
                rate: f.step_rate.as_ref().map(|rate| FunnelRate {
                    key: rate.key,
                    text: format!("{} of {}", rate.text, rate.from),
                }),
            })
            .collect();
        let legend = r
            .stages
            .iter()
            .map(|s| LegendRow {
                stage: s.stage,
                label: s.label,
                count: format_value(Unit::Count, Some(s.count as f64)),
                share: format!("{:.0}%", s.share_pct),
            })
            .collect();
        let mut x = 0.0;
        let mut stack = Vec::new();
        for s in &r.stages {
            if s.share_pct > 0.0 {
                stack.push(StackSegment {
                    stage: s.stage,
                    x: format!("{x:.2}"),
                    width: format!("{:.2}", s.share_pct),
                });
                x += s.share_pct;
            }
        }
        ReportBody {
            r,
            summary: SummaryView::new(r),
            sections,
            nav,
            share,
            csv_href,
            json_href,
            funnel,
            legend,
            stack,
            stage_total: format_value(
                Unit::Count,
                Some(r.stages.iter().map(|s| s.count).sum::<u64>() as f64),
            ),
            drivers: r.drivers.iter().map(DriverView::new).collect(),
        }
    }
}

/// A report as the cache keeps it: the numbers, and its page body for signed-in viewers,
/// rendered on first use (index 1: with a link to the next period, which has started).
pub struct CachedReport {
    pub report: Report,
    bodies: [std::sync::OnceLock<String>; 2],
}

impl CachedReport {
    pub fn new(report: Report) -> CachedReport {
        CachedReport {
            report,
            bodies: Default::default(),
        }
    }

    /// The body, rendering it the first time.
    pub fn body(
        &self,
        with_next: bool,
        render: impl FnOnce() -> Result<String, askama::Error>,
    ) -> Result<&str, askama::Error> {
        let slot = &self.bodies[usize::from(with_next)];
        if let Some(body) = slot.get() {
            return Ok(body);
        }
        let body = render()?;
        Ok(slot.get_or_init(|| body))
    }
}

pub struct ReportLink {
    pub href: String,
    pub title: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "pages/home.html")]
pub struct HomePage<'a> {
    pub layout: Layout,
    pub team_name: &'a str,
    pub timezone: &'a str,
    pub week_label: &'a str,
    pub weekly_href: String,
    pub empty: bool,
    pub headline: Vec<CardView<'a>>,
    pub reports: Vec<ReportLink>,
}

pub struct CatalogRow {
    pub key: String,
    pub name: String,
    pub formula: String,
    pub script: Option<String>,
    pub unit: &'static str,
    pub direction: &'static str,
    pub direction_text: &'static str,
    pub source: &'static str,
    pub source_text: &'static str,
}

impl From<CatalogEntry> for CatalogRow {
    fn from(e: CatalogEntry) -> CatalogRow {
        CatalogRow {
            unit: e.meta.unit.as_str(),
            direction: e.meta.direction.as_str(),
            direction_text: match e.meta.direction {
                Direction::HigherIsBetter => "higher",
                Direction::LowerIsBetter => "lower",
                Direction::Neutral => "neutral",
            },
            source: e.meta.source.as_str(),
            source_text: match e.meta.source {
                Source::Builtin => "built-in",
                Source::Script => "script",
            },
            key: e.meta.key,
            name: e.meta.name,
            formula: e.formula,
            script: e.script,
        }
    }
}

pub struct CatalogSection {
    pub title: String,
    pub entries: Vec<CatalogRow>,
}

#[derive(Template)]
#[template(path = "pages/catalog.html")]
pub struct CatalogPage<'a> {
    pub layout: Layout,
    pub team_name: &'a str,
    pub count: usize,
    pub sections: Vec<CatalogSection>,
    /// KPI packs that could not be loaded, each with its file, line and message.
    pub problems: Vec<String>,
}

pub struct ScriptOption {
    pub key: String,
    pub name: String,
    pub unit: &'static str,
    pub direction: &'static str,
    pub kind: &'static str,
    pub category: String,
    pub script: String,
}

#[derive(Template)]
#[template(path = "pages/scripts.html")]
pub struct ScriptsPage<'a> {
    pub layout: Layout,
    pub team_name: &'a str,
    pub period: String,
    /// (key, label) of the periods to run on: recent weeks, months and quarters, ranges too.
    pub periods: Vec<(String, String)>,
    /// What a run may be split by.
    pub dimensions: Vec<String>,
    /// Editors and admins save; viewers only run.
    pub can_edit: bool,
    pub custom: Vec<ScriptOption>,
    pub units: [&'static str; 6],
    pub categories: Vec<&'static str>,
}

pub const UNITS: [&str; 6] = ["count", "currency", "percent", "ratio", "days", "score"];

/// One table on the data page.
pub struct TableInfo {
    pub name: String,
    /// Rows stored, formatted (`1,204`).
    pub rows: String,
    /// The columns a file for it may have.
    pub columns: String,
}

#[derive(Template)]
#[template(path = "pages/data.html")]
pub struct DataPage {
    pub layout: Layout,
    pub can_edit: bool,
    pub tables: Vec<TableInfo>,
    /// The newest row's time, in the team's timezone.
    pub newest: Option<String>,
}

/// A KPI in the report editor, with its target bounds as typed (empty: none).
pub struct EditorKpi {
    pub key: String,
    pub name: String,
    pub category: String,
    pub min: String,
    pub max: String,
}

#[derive(Template)]
#[template(path = "pages/report_editor.html")]
pub struct ReportEditorPage {
    pub layout: Layout,
    /// `None` for a new report.
    pub slug: Option<String>,
    pub title: String,
    pub period_kind: &'static str,
    /// The dimension, or empty for none.
    pub segment_by: String,
    pub compare: &'static str,
    /// The tree's slug, or empty for the default.
    pub tree: String,
    /// (slug, title) of the team's trees.
    pub trees: Vec<(String, String)>,
    /// The picked KPIs first, in order, then the rest of the catalog.
    pub kpis: Vec<EditorKpi>,
    pub picked_count: usize,
}

pub mod alert_form;
pub mod alerts;
pub mod goals;
pub mod schedules;
pub mod structure;

#[cfg(test)]
mod tests;

/// A token as the settings page lists it.
pub struct TokenRow {
    pub id: i32,
    pub label: String,
    pub role: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "pages/settings.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub team_name: String,
    /// `members` or `tokens`.
    pub tab: &'static str,
    pub csrf: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub members: Vec<lodestar_store::people::Member>,
    /// Open invitations: e-mail, role, when the link expires (`2026-12-13`).
    pub invitations: Vec<(lodestar_store::people::PendingInvitation, String)>,
    /// The daily summaries' rebuild after a timezone change, while it runs or once it failed.
    pub rebuild: Option<crate::rebuilds::Rebuild>,
    pub roles: &'static [&'static str],
    pub email: String,
    pub email_error: Option<String>,
    pub tokens: Vec<TokenRow>,
    pub new_token: Option<String>,
    pub label: String,
    pub label_error: Option<String>,
    pub team_form: TeamForm,
}

/// The team settings form: what was typed, and what is wrong with it, field by field.
#[derive(Default)]
pub struct TeamForm {
    pub name: String,
    pub timezone: String,
    pub currency: String,
    pub name_error: Option<String>,
    pub timezone_error: Option<String>,
    pub currency_error: Option<String>,
}
