//! The report editor: make or change a report definition in the browser. The page lists the
//! catalog to pick from (with search), the picked KPIs in order (moved by dragging or with the
//! buttons, by keyboard too), a target per picked KPI, and the report's period kind, split,
//! comparison and tree. Saving is `PUT /api/v1/reports/{slug}` from the page's script, so the
//! definition is checked exactly as for the API and its error names the field.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use lodestar_report::catalog::catalog;
use lodestar_report::definition::{KpiSelection, ReportDefinition};
use lodestar_report::trees;

use crate::html::{PageError, render};
use crate::state::AppState;
use crate::viewer::{self, SignedIn};
use crate::views::{EditorKpi, ReportEditorPage};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(new_report).service(edit_report);
}

async fn page(
    state: &AppState,
    me: &SignedIn,
    def: Option<&ReportDefinition>,
) -> Result<HttpResponse, PageError> {
    let entries = catalog(&state.kpis, &me.team).await?;
    let picked: Vec<String> = match def.map(|d| &d.kpis) {
        Some(KpiSelection::Keys(keys)) => keys.clone(),
        Some(KpiSelection::All) => entries.iter().map(|e| e.meta.key.clone()).collect(),
        None => Vec::new(),
    };
    let target = |key: &str, min: bool| -> String {
        def.and_then(|d| d.targets.get(key))
            .and_then(|t| if min { t.min } else { t.max })
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let kpi = |e: &lodestar_report::catalog::CatalogEntry| EditorKpi {
        key: e.meta.key.clone(),
        name: e.meta.name.clone(),
        category: e.meta.category.clone(),
        min: target(&e.meta.key, true),
        max: target(&e.meta.key, false),
    };
    // The picked ones in their order, then the rest of the catalog in its order.
    let mut kpis: Vec<EditorKpi> = picked
        .iter()
        .filter_map(|k| entries.iter().find(|e| &e.meta.key == k))
        .map(kpi)
        .collect();
    let picked_count = kpis.len();
    kpis.extend(
        entries
            .iter()
            .filter(|e| !picked.contains(&e.meta.key))
            .map(kpi),
    );
    let trees = trees::list(&state.kpis, &me.team)
        .await?
        .into_iter()
        .map(|t| (t.tree.slug, t.tree.title))
        .collect();
    render(
        StatusCode::OK,
        &ReportEditorPage {
            layout: me.layout("Report editor", "reports"),
            slug: def.map(|d| d.slug.clone()),
            title: def.map(|d| d.title.clone()).unwrap_or_default(),
            period_kind: def.map_or("week", |d| d.period_kind.as_str()),
            segment_by: def
                .and_then(|d| d.segment_by.as_ref())
                .map(ToString::to_string)
                .unwrap_or_default(),
            compare: def.map_or("previous", |d| d.compare.as_str()),
            tree: def.and_then(|d| d.tree.clone()).unwrap_or_default(),
            trees,
            kpis,
            picked_count,
        },
    )
}

#[get("/new-report")]
async fn new_report(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = viewer::require_editor(&req, &state, "reports").await?;
    page(&state, &me, None).await
}

#[get("/reports/{slug}/edit")]
async fn edit_report(
    req: HttpRequest,
    slug: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = viewer::require_editor(&req, &state, "reports").await?;
    let def = state
        .defs
        .get(&state.db, &me.team, &slug)
        .await?
        .ok_or_else(|| {
            PageError::not_found(format!("There is no report `{slug}` for this team."))
        })?;
    page(&state, &me, Some(&def)).await
}
