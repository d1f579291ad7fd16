//! The signed-in pages besides reports: the team's home, the KPI catalog and the script editor.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use lodestar_core::catalog::Branch;
use lodestar_core::period::{Asked, Comparison, PeriodKey, PeriodKind};
use lodestar_report::catalog::catalog;
use lodestar_report::definition::{ReportDefinition, WEEKLY};
use lodestar_report::format::period_label;
use lodestar_report::report::{HEADLINE, default_period};
use lodestar_report::team_reports;

use crate::html::{PageError, render};
use crate::routes::reports::report_for;
use crate::state::AppState;
use crate::viewer;
use crate::views::{
    CardView, CatalogPage, CatalogRow, CatalogSection, HomePage, ReportLink, ScriptOption,
    ScriptsPage, UNITS,
};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(home)
        .service(catalog_page)
        .service(scripts_page);
}

/// The cache name of the home page's report when the team replaced its `weekly`: the home page
/// always shows the built-in selection.
const HOME: &str = "(home)";

#[get("/")]
async fn home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let me = viewer::require(&req, &state).await?;
    let defs = team_reports::list(&state.db, me.team.id).await?;
    let builtin = ReportDefinition::weekly();
    let replaced = defs.iter().any(|d| d.slug == WEEKLY && !d.builtin);
    let period = default_period(&builtin, &me.team, state.kpis.now());
    let cache_slug = if replaced { HOME } else { WEEKLY };
    let asked = Asked {
        period,
        comparison: Comparison::default(),
    };
    let cached = report_for(&state, &me.team, &builtin, cache_slug, asked).await?;
    let report = &cached.report;
    let headline = HEADLINE
        .iter()
        .filter_map(|key| report.card(key))
        .map(CardView::new)
        .collect();
    let reports = defs
        .iter()
        .map(|d| ReportLink {
            href: format!("/reports/{}", d.slug),
            title: d.title.clone(),
            detail: format!(
                "{} · {}{}{}",
                d.period_kind,
                match d.keys() {
                    None => "all KPIs".to_owned(),
                    Some(k) => format!("{} KPIs", k.len()),
                },
                d.segment_by
                    .as_ref()
                    .map(|s| format!(" · by {s}"))
                    .unwrap_or_default(),
                d.tree
                    .as_ref()
                    .map(|t| format!(" · tree {t}"))
                    .unwrap_or_default()
            ),
        })
        .collect();
    let tz = me.team.timezone.to_string();
    let page = HomePage {
        layout: me.layout("Home", "home"),
        team_name: &me.team.name,
        timezone: &tz,
        week_label: &report.label,
        weekly_href: format!("/reports/{WEEKLY}?period={period}"),
        empty: report.empty,
        headline,
        reports,
    };
    render(StatusCode::OK, &page)
}

#[get("/catalog")]
async fn catalog_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = viewer::require(&req, &state).await?;
    let entries = catalog(&state.kpis, &me.team).await?;
    let problems = state
        .kpis
        .custom_kpis(&me.team)
        .await?
        .problems
        .iter()
        .map(ToString::to_string)
        .collect();
    let count = entries.len();
    let mut titles: Vec<String> = Branch::ALL.iter().map(|b| b.title().to_owned()).collect();
    for e in &entries {
        if !titles.contains(&e.meta.category) {
            titles.push(e.meta.category.clone());
        }
    }
    let mut sections: Vec<CatalogSection> = titles
        .into_iter()
        .map(|title| CatalogSection {
            title,
            entries: Vec::new(),
        })
        .collect();
    for e in entries {
        if let Some(s) = sections.iter_mut().find(|s| s.title == e.meta.category) {
            s.entries.push(CatalogRow::from(e));
        }
    }
    sections.retain(|s| !s.entries.is_empty());
    let page = CatalogPage {
        layout: me.layout("KPI catalog", "catalog"),
        team_name: &me.team.name,
        count,
        sections,
        problems,
    };
    render(StatusCode::OK, &page)
}

#[get("/scripts")]
async fn scripts_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = viewer::require(&req, &state).await?;
    let custom = catalog(&state.kpis, &me.team)
        .await?
        .into_iter()
        .filter_map(|e| {
            let script = e.script?;
            Some(ScriptOption {
                unit: e.meta.unit.as_str(),
                direction: e.meta.direction.as_str(),
                kind: e.meta.kind.as_str(),
                key: e.meta.key,
                name: e.meta.name,
                category: e.meta.category,
                script,
            })
        })
        .collect();
    let now = state.kpis.now();
    let tz = me.team.timezone.0;
    let period = PeriodKey::last_complete(PeriodKind::Week, now, tz);
    // The last complete periods first, then the ones in progress and rolling windows.
    let mut periods: Vec<(String, String)> = Vec::new();
    for (kind, n) in [
        (PeriodKind::Week, 8),
        (PeriodKind::Month, 6),
        (PeriodKind::Quarter, 4),
    ] {
        let last = PeriodKey::last_complete(kind, now, tz);
        for k in last.trend(n).into_iter().rev() {
            periods.push((k.to_string(), format!("{k} · {}", period_label(&k))));
        }
    }
    for (key, label) in [
        ("wtd", "this week to date"),
        ("mtd", "this month to date"),
        ("last-28d", "the last 28 days"),
        ("last-3m", "the last 3 months"),
    ] {
        periods.push((key.to_owned(), label.to_owned()));
    }
    let page = ScriptsPage {
        layout: me.layout("Scripts", "scripts"),
        team_name: &me.team.name,
        period: period.to_string(),
        periods,
        dimensions: ["channel", "campaign", "source", "category"]
            .iter()
            .map(|d| (*d).to_owned())
            .collect(),
        can_edit: me.session.role.can_write(),
        custom,
        units: UNITS,
        categories: Branch::ALL.iter().map(|b| b.title()).collect(),
    };
    render(StatusCode::OK, &page)
}
