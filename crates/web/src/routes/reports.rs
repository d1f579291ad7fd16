//! Reports: the HTML page (`/reports/{slug}`), its CSV (`/reports/{slug}.csv`), its JSON
//! (`/api/v1/reports/{slug}`) and report definitions (`PUT /api/v1/reports/{slug}`). All three
//! renderings come from one assembled `Report`, cached per (team, report, period, data version).

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use askama::Template;
use chrono::Utc;
use lodestar_core::dimension::Dimension;
use lodestar_core::period::{Asked, PeriodKey, Progress};
use lodestar_report::cache::CacheKey;
use lodestar_report::definition::{ReportDefinition, ReportInput};
use lodestar_report::report::{OutlineError, assemble, default_period, has_started};
use lodestar_report::share::{self, ShareClaims, ShareError};
use lodestar_report::trees;
use lodestar_report::{export, team_reports};
use lodestar_store::reports;
use lodestar_store::teams::{self, Team};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::html::{PageError, render};
use crate::state::AppState;
use crate::viewer::{self, SignedIn};
use crate::views::{CachedReport, Layout, PeriodNav, ReportBody, ReportPage};

pub fn config(cfg: &mut web::ServiceConfig) {
    // The CSV route first: `/reports/{slug}` would also match `weekly.csv`.
    cfg.service(report_csv)
        .service(report_page)
        .service(list_reports)
        .service(get_report)
        .service(put_report)
        .service(delete_report)
        .service(revoke_links);
}

/// `?tree=slug`: organise the report by that KPI tree instead of its definition's.
fn asked_tree(tree: Option<&str>) -> Option<&str> {
    tree.map(str::trim).filter(|t| !t.is_empty())
}

/// The split a query asks for: `None` when it does not say, `Some(None)` for `none` (no split),
/// else the dimension; a dimension that does not parse is 400 naming `segment_by`.
fn asked_split(segment_by: Option<&str>) -> Result<Option<Option<Dimension>>, ApiError> {
    match segment_by.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some("none") => Ok(Some(None)),
        Some(s) => Ok(Some(Some(Dimension::parse(s)?))),
    }
}

/// The definition as this request shows it: organised by the tree the query names, if any, and
/// split by the dimension it names (`segment_by`, or `none`). A tree named by the query that the
/// team does not have is the request's fault (400); one named by a stored definition that is
/// gone is reported as missing (404) when assembling.
async fn as_asked(
    state: &AppState,
    team: &Team,
    def: Arc<ReportDefinition>,
    tree: Option<&str>,
    segment_by: Option<&str>,
) -> Result<Arc<ReportDefinition>, ApiError> {
    let split = asked_split(segment_by)?;
    let tree = asked_tree(tree);
    if tree.is_none() && split.is_none() {
        return Ok(def);
    }
    let mut def = (*def).clone();
    if let Some(slug) = tree {
        if trees::resolve(&state.kpis, team, slug).await?.is_none() {
            return Err(ApiError::BadRequest(format!(
                "tree: no KPI tree `{slug}` for this team (GET /api/v1/trees lists them)"
            )));
        }
        def.tree = Some(slug.to_owned());
    }
    if let Some(split) = split {
        def.segment_by = split;
    }
    Ok(Arc::new(def))
}

/// The cache name of report `slug` as asked: its definition's layout, or by `?tree=` and
/// `?segment_by=`.
fn cache_name(slug: &str, tree: Option<&str>, segment_by: Option<&str>) -> String {
    let mut name = slug.to_owned();
    if let Some(t) = asked_tree(tree) {
        name.push_str(&format!("?tree={t}"));
    }
    if let Some(s) = segment_by.map(str::trim).filter(|s| !s.is_empty()) {
        name.push_str(&format!("?segment_by={s}"));
    }
    name
}

/// The assembled report, from the cache when the team's data has not changed since.
pub(crate) async fn report_for(
    state: &AppState,
    team: &Team,
    def: &ReportDefinition,
    cache_slug: &str,
    asked: Asked,
) -> Result<Arc<CachedReport>, OutlineError> {
    let Asked { period, comparison } = asked;
    let key = CacheKey {
        team_id: team.id,
        report: cache_slug.to_owned(),
        period,
        comparison,
        // A period in progress changes with the day even when no data does.
        progress: Progress::of(period, state.kpis.now(), team.timezone.0),
        data_version: team.data_version,
        kpi_generation: state.kpi_generation(),
    };
    // Concurrent requests for the same report compute it once.
    state
        .reports
        .get_or_try_insert_with(key, || async {
            Ok(Arc::new(CachedReport::new(
                assemble(&state.kpis, team, def, period, comparison).await?,
            )))
        })
        .await
}

#[derive(Deserialize)]
struct ReportQuery {
    period: Option<String>,
    share: Option<String>,
    tree: Option<String>,
    segment_by: Option<String>,
    compare: Option<String>,
    to: Option<String>,
}

/// The period and comparison asked for: the report's own comparison unless `compare` says
/// otherwise, and its last complete period by default.
fn asked_of(
    def: &ReportDefinition,
    team: &Team,
    period: Option<&str>,
    compare: Option<&str>,
    to: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> Result<Asked, lodestar_core::CoreError> {
    let compare = compare
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .unwrap_or(def.compare.as_str());
    let default = default_period(def, team, now);
    Asked::parse(period, Some(compare), to, default, now, team.timezone.0)
}

/// How the page was reached: a session, or a share link (just that team, report and period).
enum Access {
    Session(SignedIn),
    /// `Authorization: Bearer` (the CSV export, for spreadsheets and BI tools).
    Token(Team),
    Share {
        team: Team,
        claims: ShareClaims,
        token: String,
    },
}

impl Access {
    fn team(&self) -> &Team {
        match self {
            Access::Session(me) => &me.team,
            Access::Token(team) => team,
            Access::Share { team, .. } => team,
        }
    }
}

fn refused(e: ShareError) -> PageError {
    match e {
        ShareError::Expired(at) => PageError::forbidden(
            "This link has expired",
            format!(
                "The shared link stopped working on {}. Ask for a new one, or sign in to see the report.",
                at.format("%b %-d, %Y at %H:%M UTC")
            ),
        ),
        ShareError::Revoked(_) => PageError::forbidden(
            "This link was revoked",
            "The team withdrew the shared links of this report. Ask for a new one, or sign in to see the report.",
        ),
        ShareError::BadSignature | ShareError::Malformed => PageError::forbidden(
            "This link is not valid",
            "The shared link is damaged or was not issued by this server. Ask for a new one, or sign in.",
        ),
    }
}

async fn access(
    req: &HttpRequest,
    state: &AppState,
    slug: &str,
    q: &ReportQuery,
) -> Result<Access, PageError> {
    let Some(token) = q.share.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
        if req.headers().contains_key(header::AUTHORIZATION) {
            // A machine: the token alone decides, never a cookie sent beside it.
            let principal = match crate::auth::bearer(req) {
                Some(t) => lodestar_store::tokens::authenticate(&state.db, &t).await?,
                None => None,
            };
            return match principal {
                Some(p) => Ok(Access::Token(p.team)),
                None => Err(ApiError::Unauthorized.into()),
            };
        }
        return Ok(Access::Session(viewer::require(req, state).await?));
    };
    let secret = state.keys.share(&state.db).await?;
    let claims = share::verify(secret, token, Utc::now()).map_err(refused)?;
    share::check_revocation(&state.db, &claims)
        .await?
        .map_err(refused)?;
    if claims.report != slug {
        return Err(PageError::forbidden(
            "This link is for another report",
            "The shared link opens a different report. Sign in to see this one.",
        ));
    }
    let shared_period =
        PeriodKey::parse(&claims.period).map_err(|_| refused(ShareError::Malformed))?;
    let asked_period = q
        .period
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(PeriodKey::parse)
        .transpose()?;
    if asked_period.is_some_and(|p| p != shared_period) {
        return Err(PageError::forbidden(
            "This link is for another period",
            format!(
                "The shared link opens {} only. Sign in to see other periods.",
                shared_period
            ),
        ));
    }
    let team = teams::find_by_id(&state.db, claims.team_id)
        .await?
        .ok_or_else(|| refused(ShareError::Malformed))?;
    Ok(Access::Share {
        team,
        claims,
        token: token.to_owned(),
    })
}

/// A stored definition's tree that the team no longer has: the page says which and what to do.
fn missing_tree(slug: &str, e: OutlineError) -> PageError {
    match e {
        OutlineError::UnknownTree(tree) => PageError::not_found(format!(
            "The report `{slug}` is organised by the KPI tree `{tree}`, which this team does not have (any more). Save the report with another tree, or restore `{tree}`."
        )),
        other => other.into(),
    }
}

/// The report a page or CSV asks for: its definition, its period, its numbers.
async fn page_report(
    req: &HttpRequest,
    state: &AppState,
    slug: &str,
    q: &ReportQuery,
) -> Result<(Access, Arc<CachedReport>), PageError> {
    let access = access(req, state, slug, q).await?;
    let team = access.team();
    let def = state
        .defs
        .get(&state.db, team, slug)
        .await?
        .ok_or_else(|| {
            PageError::not_found(format!("There is no report `{slug}` for this team."))
        })?;
    // A share link is for its period only.
    let period = match &access {
        Access::Share { claims, .. } => {
            PeriodKey::parse(&claims.period).map_err(|_| refused(ShareError::Malformed))?;
            Some(claims.period.as_str())
        }
        Access::Session(_) | Access::Token(_) => q.period.as_deref(),
    };
    let asked = asked_of(
        &def,
        team,
        period,
        q.compare.as_deref(),
        q.to.as_deref(),
        state.kpis.now(),
    )?;
    let def = as_asked(state, team, def, q.tree.as_deref(), q.segment_by.as_deref()).await?;
    let cache = cache_name(slug, q.tree.as_deref(), q.segment_by.as_deref());
    let report = report_for(state, team, &def, &cache, asked)
        .await
        .map_err(|e| missing_tree(slug, e))?;
    Ok((access, report))
}

#[get("/reports/{slug}")]
async fn report_page(
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<ReportQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let slug = path.into_inner();
    let (access, cached) = page_report(&req, &state, &slug, &q).await?;
    let report = &cached.report;
    let key = report.period.key;
    let base = format!("/reports/{slug}");
    // Links keep the tree the query asked for (a slug the team has: URL-safe as it is).
    let tree = asked_tree(q.tree.as_deref()).map(str::to_owned);
    let mut also = tree
        .as_deref()
        .map(|t| format!("&tree={t}"))
        .unwrap_or_default();
    // Links keep a comparison other than the report's own, and the split asked for.
    if report.compare != report.definition.compare {
        also.push_str(&format!("&compare={}", report.compare));
    }
    if asked_split(q.segment_by.as_deref())?.is_some() {
        let split = report
            .definition
            .segment_by
            .as_ref()
            .map_or_else(|| "none".to_owned(), |d| d.to_string());
        also.push_str(&format!("&segment_by={split}"));
    }
    // Downloads are of exactly what the page shows, a period read to date included.
    let to = report.to.map(|d| format!("&to={d}")).unwrap_or_default();
    let title = format!("{} · {}", report.definition.title, report.label);
    match &access {
        Access::Token(_) => Err(PageError::forbidden(
            "Sign in to see this page",
            "An API token opens the report's CSV and the JSON API; the page is for people.",
        )),
        Access::Session(me) => {
            let next = key.next();
            let started = has_started(&next, &me.team, state.kpis.now());
            let body = cached
                .body(started, || {
                    ReportBody::new(
                        report,
                        Some(PeriodNav {
                            action: base.clone(),
                            prev_href: format!("{base}?period={}{also}", key.previous()),
                            prev_key: lodestar_report::format::nav_label(&key.previous()),
                            next_href: started.then(|| format!("{base}?period={next}{also}")),
                            next_key: lodestar_report::format::nav_label(&next),
                            tree: tree.clone(),
                            splits: PeriodNav::splits(report.definition.segment_by.as_ref()),
                        }),
                        None,
                        format!("{base}.csv?period={key}{also}{to}"),
                        Some(format!("/api/v1/reports/{slug}?period={key}{also}{to}")),
                    )
                    .render()
                })
                .map_err(PageError::internal)?;
            let active = if slug == "weekly" { "reports" } else { "" };
            render(
                StatusCode::OK,
                &ReportPage {
                    layout: me.layout(&title, active),
                    body,
                    edit_href: me
                        .session
                        .role
                        .can_write()
                        .then(|| format!("/reports/{slug}/edit")),
                },
            )
        }
        Access::Share {
            team,
            claims,
            token,
        } => {
            // Rare, and it carries its own token in its links: rendered each time.
            let body = ReportBody::new(
                report,
                None,
                Some(claims.expires_at.format("%b %-d, %Y %H:%M UTC").to_string()),
                format!("{base}.csv?period={key}{also}{to}&share={token}"),
                None,
            )
            .render()
            .map_err(PageError::internal)?;
            let layout = Layout {
                title,
                team: Some(team.name.clone()),
                active: "",
                csrf: None,
                shared: true,
                teams: Vec::new(),
                team_id: 0,
                person: false,
                admin: false,
            };
            render(
                StatusCode::OK,
                &ReportPage {
                    layout,
                    body: &body,
                    edit_href: None,
                },
            )
        }
    }
}

#[get("/reports/{slug}.csv")]
async fn report_csv(
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<ReportQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let slug = path.into_inner();
    let (_, cached) = page_report(&req, &state, &slug, &q).await?;
    let report = &cached.report;
    let body = export::csv(report).map_err(PageError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}-{}.csv\"",
                report.definition.slug, report.period.key
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(body))
}

#[get("/api/v1/reports")]
async fn list_reports(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let defs = team_reports::list(&state.db, auth.0.team.id).await?;
    let reports: Vec<_> = defs
        .iter()
        .map(|d| {
            let mut v = json!(d);
            v["href"] = json!(format!("/reports/{}", d.slug));
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "reports": reports })))
}

#[derive(Deserialize)]
struct ApiReportQuery {
    period: Option<String>,
    tree: Option<String>,
    segment_by: Option<String>,
    compare: Option<String>,
    to: Option<String>,
}

#[get("/api/v1/reports/{slug}")]
async fn get_report(
    auth: Auth,
    path: web::Path<String>,
    q: web::Query<ApiReportQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner();
    let team = &auth.0.team;
    let def = state
        .defs
        .get(&state.db, team, &slug)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no report `{slug}`")))?;
    let asked = asked_of(
        &def,
        team,
        q.period.as_deref(),
        q.compare.as_deref(),
        q.to.as_deref(),
        state.kpis.now(),
    )?;
    let def = as_asked(
        &state,
        team,
        def,
        q.tree.as_deref(),
        q.segment_by.as_deref(),
    )
    .await?;
    let cache = cache_name(&slug, q.tree.as_deref(), q.segment_by.as_deref());
    let cached = report_for(&state, team, &def, &cache, asked)
        .await
        .map_err(|e| match e {
            OutlineError::UnknownTree(tree) => ApiError::NotFound(format!(
                "report `{slug}` is organised by the KPI tree `{tree}`, which this team does not have: save the report with another tree, or restore `{tree}`"
            )),
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(&cached.report))
}

#[put("/api/v1/reports/{slug}")]
async fn put_report(
    auth: Auth,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let slug = path.into_inner();
    let input: ReportInput = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("report definition: {e}")))?;
    let team = &auth.0.team;
    let (saved, created) = team_reports::save(&state.kpis, team, &slug, input).await?;
    state.reports.invalidate_team(team.id);
    let mut reply = json!(saved);
    reply["href"] = json!(format!("/reports/{slug}"));
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(reply))
}

#[delete("/api/v1/reports/{slug}")]
async fn delete_report(
    auth: Auth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let slug = path.into_inner();
    if reports::delete(&state.db, auth.0.team.id, &slug).await? {
        state.reports.invalidate_team(auth.0.team.id);
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("no stored report `{slug}`")))
    }
}

/// Ends every share link of the report issued until now (e-mailed "view in browser" links
/// included); links made afterwards work. Editors and admins may: they are the ones who send
/// reports out.
#[post("/api/v1/reports/{slug}/revoke-links")]
async fn revoke_links(
    auth: Auth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let slug = path.into_inner();
    let team = &auth.0.team;
    if state.defs.get(&state.db, team, &slug).await?.is_none() {
        return Err(ApiError::NotFound(format!("no report `{slug}`")));
    }
    let cutoff = share::revoke_links(&state.db, team.id, &slug, Utc::now()).await?;
    tracing::info!(team = %team.slug, report = %slug, "share links revoked");
    Ok(HttpResponse::Ok().json(json!({
        "report": slug,
        "links_valid_after": cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })))
}
