//! KPI trees, named segment sets and driver explanations over HTTP, and the tree page:
//!
//! - `GET /api/v1/trees`, `GET|PUT|DELETE /api/v1/trees/{slug}`, `GET /api/v1/trees/{slug}/check`,
//!   `POST /api/v1/trees/check` (a tree not saved, as the editor checks each edit)
//! - `GET /api/v1/segments`, `GET|PUT|DELETE /api/v1/segments/{set}`,
//!   `GET /api/v1/segments/{set}/check?period=…`, `POST /api/v1/segments/check?period=…`
//! - `GET /api/v1/drivers?period=…`, `GET /api/v1/drivers/{kpi}?period=…`
//! - `GET /trees/{slug}?period=…` (HTML)

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use askama::Template;
use lodestar_core::segment_set::SegmentSet;
use lodestar_core::tree::{KpiTree, TreeNode, is_tree_slug};
use lodestar_report::drivers::{self, Explanation};
use lodestar_report::segments::{self, check_partition};
use lodestar_report::trees::{self, TreeReport};
use lodestar_store::segment_sets;
use lodestar_store::trees as stored_trees;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::html::{PageError, render};
use crate::state::AppState;
use crate::viewer;
use crate::views::{Layout, PeriodNav};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(list_trees)
        .service(check_draft_tree)
        .service(check_draft_set)
        .service(check_tree)
        .service(get_tree)
        .service(put_tree)
        .service(delete_tree)
        .service(list_sets)
        .service(check_set)
        .service(get_set)
        .service(put_set)
        .service(delete_set)
        .service(list_drivers)
        .service(get_driver)
        .service(tree_page);
}

#[derive(Deserialize)]
struct PeriodQuery {
    period: Option<String>,
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        field: field.to_owned(),
        message: message.into(),
    }
}

// ---- trees ----

#[get("/api/v1/trees")]
async fn list_trees(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let trees = trees::list(&state.kpis, &auth.0.team).await?;
    Ok(HttpResponse::Ok().json(json!({ "trees": trees })))
}

#[get("/api/v1/trees/{slug}")]
async fn get_tree(
    auth: Auth,
    slug: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match trees::resolve(&state.kpis, &auth.0.team, &slug).await? {
        Some(tree) => {
            let sections = tree.sections();
            let mut body = serde_json::to_value(&tree).map_err(ApiError::internal)?;
            body["sections"] = json!(sections);
            Ok(HttpResponse::Ok().json(body))
        }
        None => Err(ApiError::NotFound(format!("no tree `{slug}`"))),
    }
}

#[get("/api/v1/trees/{slug}/check")]
async fn check_tree(
    auth: Auth,
    slug: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match trees::check_tree(&state.kpis, &auth.0.team, &slug).await? {
        Some(check) => Ok(HttpResponse::Ok().json(check)),
        None => Err(ApiError::NotFound(format!("no tree `{slug}`"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeBody {
    #[serde(default)]
    slug: Option<String>,
    title: String,
    #[serde(default)]
    branches: Vec<TreeNode>,
}

/// The tree of a body, its slug from the address (or `draft` when checking an unsaved one).
fn tree_of(slug: String, body: TreeBody) -> Result<KpiTree, ApiError> {
    if body.slug.as_ref().is_some_and(|s| *s != slug) {
        return Err(invalid(
            "slug",
            "the body's slug differs from the one in the address",
        ));
    }
    if !is_tree_slug(&slug) {
        return Err(invalid(
            "slug",
            format!("tree slug `{slug}`: use 1 to 64 lowercase letters, digits and -"),
        ));
    }
    let tree = KpiTree {
        slug,
        title: body.title.trim().to_owned(),
        branches: body.branches,
    };
    tree.validate_title().map_err(|m| invalid("title", m))?;
    tree.validate().map_err(|m| invalid("branches", m))?;
    Ok(tree)
}

/// Checks a tree without saving it: the findings `PUT` would answer with.
#[post("/api/v1/trees/check")]
async fn check_draft_tree(
    auth: Auth,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: TreeBody = parse_json(&body)?;
    let slug = body.slug.clone().unwrap_or_else(|| "draft".to_owned());
    let tree = tree_of(slug, body)?;
    let check = trees::check_draft(&state.kpis, &auth.0.team, &tree).await?;
    Ok(HttpResponse::Ok().json(check))
}

#[put("/api/v1/trees/{slug}")]
async fn put_tree(
    auth: Auth,
    slug: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let body: TreeBody = parse_json(&body)?;
    let tree = tree_of(slug.into_inner(), body)?;
    let (stored, created) = stored_trees::save(&state.db, auth.0.team.id, &tree).await?;
    // Saving is allowed with findings (a tree may be drawn before its KPIs exist); the reply
    // says what the check finds.
    let check = trees::check_tree(&state.kpis, &auth.0.team, &tree.slug).await?;
    let reply = json!({
        "slug": stored.tree.slug,
        "version": stored.version,
        "tree": stored.tree,
        "check": check,
    });
    Ok(if created {
        HttpResponse::Created().json(reply)
    } else {
        HttpResponse::Ok().json(reply)
    })
}

#[delete("/api/v1/trees/{slug}")]
async fn delete_tree(
    auth: Auth,
    slug: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    if stored_trees::delete(&state.db, auth.0.team.id, &slug).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!(
            "no saved tree `{slug}` (built-in and pack trees cannot be deleted)"
        )))
    }
}

// ---- segment sets ----

#[derive(Serialize)]
struct SetView {
    name: String,
    version: i32,
    updated_at: i64,
    segments: Value,
}

impl From<segment_sets::StoredSet> for SetView {
    fn from(s: segment_sets::StoredSet) -> SetView {
        SetView {
            segments: s.set.to_json()["segments"].clone(),
            name: s.set.name,
            version: s.version,
            updated_at: s.updated_at,
        }
    }
}

#[get("/api/v1/segments")]
async fn list_sets(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let sets: Vec<SetView> = segment_sets::list(&state.db, auth.0.team.id)
        .await?
        .into_iter()
        .map(SetView::from)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "sets": sets })))
}

#[get("/api/v1/segments/{set}")]
async fn get_set(
    auth: Auth,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match segment_sets::find(&state.db, auth.0.team.id, &name).await? {
        Some(set) => Ok(HttpResponse::Ok().json(SetView::from(set))),
        None => Err(ApiError::NotFound(format!("no segment set `{name}`"))),
    }
}

#[put("/api/v1/segments/{set}")]
async fn put_set(
    auth: Auth,
    name: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let body: Value = parse_json(&body)?;
    let set = SegmentSet::from_json(&name, &body).map_err(|e| invalid(&e.field, e.to_string()))?;
    let (stored, created) = segment_sets::save(&state.db, auth.0.team.id, &set).await?;
    let view = SetView::from(stored);
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

#[delete("/api/v1/segments/{set}")]
async fn delete_set(
    auth: Auth,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    if segment_sets::delete(&state.db, auth.0.team.id, &name).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("no segment set `{name}`")))
    }
}

#[derive(Deserialize)]
struct DraftSetQuery {
    period: Option<String>,
    name: Option<String>,
}

/// Checks a segment set without saving it (`{"segments": […]}` as `PUT` takes it): the
/// partition check of `GET /api/v1/segments/{set}/check`.
#[post("/api/v1/segments/check")]
async fn check_draft_set(
    auth: Auth,
    q: web::Query<DraftSetQuery>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let period = super::period_or_last_week(q.period.as_deref(), &auth.0.team, state.kpis.now())?;
    let body: Value = parse_json(&body)?;
    let name = q.name.as_deref().unwrap_or("draft");
    let set = SegmentSet::from_json(name, &body).map_err(|e| invalid(&e.field, e.to_string()))?;
    let check = segments::check_set(&state.db, &auth.0.team, set, period).await?;
    Ok(HttpResponse::Ok().json(check))
}

#[get("/api/v1/segments/{set}/check")]
async fn check_set(
    auth: Auth,
    name: web::Path<String>,
    q: web::Query<PeriodQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let period = super::period_or_last_week(q.period.as_deref(), &auth.0.team, state.kpis.now())?;
    match check_partition(&state.db, &auth.0.team, &name, period).await? {
        Some(check) => Ok(HttpResponse::Ok().json(check)),
        None => Err(ApiError::NotFound(format!("no segment set `{name}`"))),
    }
}

// ---- drivers ----

/// An explanation with its sentence, as the API gives it.
fn explained(e: &Explanation) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(e).map_err(ApiError::internal)?;
    v["sentence"] = json!(e.sentence());
    Ok(v)
}

#[get("/api/v1/drivers")]
async fn list_drivers(
    auth: Auth,
    q: web::Query<PeriodQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let period = super::period_or_last_week(q.period.as_deref(), &auth.0.team, state.kpis.now())?;
    let all = drivers::explain(&state.kpis, &auth.0.team, period).await?;
    let explanations = all.iter().map(explained).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(json!({
        "period": period.to_string(),
        "explanations": explanations,
    })))
}

#[get("/api/v1/drivers/{kpi}")]
async fn get_driver(
    auth: Auth,
    kpi: web::Path<String>,
    q: web::Query<PeriodQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let period = super::period_or_last_week(q.period.as_deref(), &auth.0.team, state.kpis.now())?;
    match drivers::explain_kpi(&state.kpis, &auth.0.team, &kpi, period).await? {
        Some(e) => Ok(HttpResponse::Ok().json(explained(&e)?)),
        None => Err(ApiError::NotFound(format!(
            "`{kpi}` has no driver tree for this team"
        ))),
    }
}

// ---- the tree page ----

/// One line of the tree table: a branch heading or a KPI.
struct Row {
    branch: bool,
    /// Nesting shown as a prefix (pages load no inline style).
    indent: String,
    title: String,
    key: String,
    value: String,
    previous: String,
    change: String,
    tone: &'static str,
    note: String,
}

struct FindingRow {
    rule: String,
    message: String,
}

#[derive(Template)]
#[template(path = "pages/tree.html")]
struct TreePage {
    layout: Layout,
    team_name: String,
    title: String,
    slug: String,
    source: String,
    period: String,
    previous_period: String,
    nav: PeriodNav,
    rows: Vec<Row>,
    findings: Vec<FindingRow>,
    sentences: Vec<String>,
    others: Vec<(String, String)>,
    /// An editor or admin: the page offers to edit and copy the tree.
    can_edit: bool,
}

fn tone_str(t: lodestar_report::format::Tone) -> &'static str {
    t.as_str()
}

impl TreePage {
    fn rows(r: &TreeReport) -> Vec<Row> {
        let mut rows = Vec::new();
        for node in &r.nodes {
            rows.push(Row {
                branch: true,
                indent: "· ".repeat(node.depth),
                title: node.title.clone(),
                key: String::new(),
                value: String::new(),
                previous: String::new(),
                change: String::new(),
                tone: "none",
                note: format!("{} better · {} worse", node.better, node.worse),
            });
            for leaf in &node.kpis {
                rows.push(Row {
                    branch: false,
                    indent: "· ".repeat(node.depth + 1),
                    title: leaf.name.clone(),
                    key: leaf.key.clone(),
                    value: leaf.value_text.clone(),
                    previous: leaf.previous_text.clone(),
                    change: leaf.change_text.clone(),
                    tone: tone_str(leaf.tone),
                    note: if leaf.unknown {
                        "not a KPI of this team".to_owned()
                    } else {
                        leaf.error.clone().unwrap_or_default()
                    },
                });
            }
        }
        rows
    }
}

#[get("/trees/{slug}")]
async fn tree_page(
    req: HttpRequest,
    slug: web::Path<String>,
    q: web::Query<PeriodQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = viewer::require(&req, &state).await?;
    let period = super::period_or_last_week(q.period.as_deref(), &me.team, state.kpis.now())
        .map_err(|e| PageError::bad_request(e.to_string()))?;
    let Some(report) = trees::tree_report(&state.kpis, &me.team, &slug, period).await? else {
        return Err(PageError::not_found(format!("There is no tree `{slug}`.")));
    };
    let base = format!("/trees/{slug}");
    let next = period.next();
    let others = trees::list(&state.kpis, &me.team)
        .await?
        .into_iter()
        .filter(|t| t.tree.slug != *slug)
        .map(|t| {
            (
                format!("/trees/{}?period={period}", t.tree.slug),
                t.tree.title,
            )
        })
        .collect();
    let page = TreePage {
        layout: me.layout(&report.tree.tree.title, "trees"),
        team_name: me.team.name.clone(),
        title: report.tree.tree.title.clone(),
        slug: slug.to_string(),
        source: match &report.tree.source {
            trees::TreeSource::Builtin => "built in".to_owned(),
            trees::TreeSource::Pack { pack } => format!("from pack {pack}"),
            trees::TreeSource::Team { version } => format!("saved, version {version}"),
            trees::TreeSource::Draft => "not saved".to_owned(),
        },
        period: report.period.key.to_string(),
        previous_period: report
            .previous_period
            .as_ref()
            .map(|p| p.key.to_string())
            .unwrap_or_default(),
        nav: PeriodNav {
            action: base.clone(),
            prev_href: format!("{base}?period={}", period.previous()),
            prev_key: lodestar_report::format::nav_label(&period.previous()),
            next_href: (next.resolve(me.team.timezone.0).start <= state.kpis.now())
                .then(|| format!("{base}?period={next}")),
            next_key: lodestar_report::format::nav_label(&next),
            tree: None,
            splits: Vec::new(),
        },
        rows: TreePage::rows(&report),
        findings: report
            .findings
            .iter()
            .map(|f| FindingRow {
                rule: serde_json::to_value(&f.finding)
                    .ok()
                    .and_then(|v| v["rule"].as_str().map(|r| r.replace('_', " ")))
                    .unwrap_or_default(),
                message: f.message.clone(),
            })
            .collect(),
        sentences: report
            .explanations
            .iter()
            .map(Explanation::sentence)
            .collect(),
        others,
        can_edit: me.session.role.can_write(),
    };
    render(StatusCode::OK, &page)
}
