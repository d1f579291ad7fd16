//! The goals page: every goal of the team with where it stands now, and a form to set, change
//! or delete one. Plain forms with the session's CSRF token; checking a goal is the report
//! crate's (`goals::validate`), as for `PUT /api/v1/goals/{kpi}`; viewers see no controls.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use lodestar_report::catalog::catalog;
use lodestar_report::goal_progress::progress;
use lodestar_report::goals;
use lodestar_store::goals as stored;
use serde::Deserialize;

use crate::html::{PageError, render, see_other};
use crate::state::AppState;
use crate::viewer::{self, SignedIn};
use crate::views::goals::{DIMENSIONS, GoalForm, GoalRow, GoalsPage, PERIOD_KINDS, PHASINGS};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(list_page)
        .service(edit_page)
        .service(save)
        .service(delete);
}

/// The person signed in; with a form, checked to be an editor or admin and its CSRF token.
async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    csrf: Option<&str>,
) -> Result<SignedIn, PageError> {
    let me = viewer::require(req, state).await?;
    if let Some(presented) = csrf {
        if !me.session.role.can_write() {
            return Err(PageError::forbidden(
                "For editors and admins",
                "A viewer reads goals but cannot change them.",
            ));
        }
        viewer::confirm_form(state, &me, presented).await?;
    }
    Ok(me)
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "saved" => "Goal saved.",
            "deleted" => "Goal deleted.",
            _ => return None,
        }
        .to_owned(),
    )
}

fn new_form() -> GoalForm {
    GoalForm {
        period_kind: "month".to_owned(),
        phasing: "even".to_owned(),
        ..GoalForm::default()
    }
}

/// The page around `form`.
async fn page(
    state: &AppState,
    me: &SignedIn,
    form: GoalForm,
    notice: Option<String>,
) -> Result<GoalsPage, PageError> {
    let all = stored::list(&state.db, me.team.id).await?;
    let rows = progress(&state.kpis, &me.team, &all)
        .await?
        .iter()
        .map(GoalRow::new)
        .collect();
    let kpis = catalog(&state.kpis, &me.team)
        .await?
        .into_iter()
        .map(|e| (e.meta.key, e.meta.name))
        .collect();
    Ok(GoalsPage {
        layout: me.layout("Goals", "goals"),
        csrf: me.csrf.clone(),
        can_edit: me.session.role.can_write(),
        notice,
        rows,
        form,
        kpis,
        period_kinds: PERIOD_KINDS,
        phasings: PHASINGS,
        dimensions: DIMENSIONS,
    })
}

#[get("/goals")]
async fn list_page(
    req: HttpRequest,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, None).await?;
    let p = page(&state, &me, new_form(), notice(q.done.as_deref())).await?;
    render(StatusCode::OK, &p)
}

/// A goal's identity, as the list's links and forms carry it.
#[derive(Deserialize)]
struct Identity {
    kpi: String,
    period_kind: String,
    #[serde(default)]
    segment_by: String,
    #[serde(default)]
    segment: String,
}

#[get("/goals/edit")]
async fn edit_page(
    req: HttpRequest,
    q: web::Query<Identity>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, None).await?;
    let goal = stored::list(&state.db, me.team.id)
        .await?
        .into_iter()
        .find(|g| {
            g.kpi == q.kpi
                && g.period_kind == q.period_kind
                && g.segment_by == q.segment_by
                && g.segment == q.segment
        })
        .ok_or_else(|| PageError::not_found("No such goal in this team."))?;
    let form = GoalForm {
        kpi: goal.kpi.clone(),
        period_kind: goal.period_kind.clone(),
        segment_by: goal.segment_by.clone(),
        segment: goal.segment.clone(),
        target: lodestar_report::number::raw(Some(goal.target)),
        phasing: goal.phasing.clone(),
        original: Some((goal.kpi, goal.period_kind, goal.segment_by, goal.segment)),
        ..GoalForm::default()
    };
    render(StatusCode::OK, &page(&state, &me, form, None).await?)
}

#[derive(Deserialize)]
struct GoalInput {
    csrf: String,
    kpi: String,
    period_kind: String,
    #[serde(default)]
    segment_by: String,
    #[serde(default)]
    segment: String,
    target: String,
    phasing: String,
    original_kpi: Option<String>,
    original_period_kind: Option<String>,
    original_segment_by: Option<String>,
    original_segment: Option<String>,
}

impl GoalInput {
    fn original(&self) -> Option<(String, String, String, String)> {
        Some((
            self.original_kpi.clone()?,
            self.original_period_kind.clone()?,
            self.original_segment_by.clone().unwrap_or_default(),
            self.original_segment.clone().unwrap_or_default(),
        ))
    }

    fn form(&self) -> GoalForm {
        GoalForm {
            kpi: self.kpi.clone(),
            period_kind: self.period_kind.clone(),
            segment_by: self.segment_by.clone(),
            segment: self.segment.clone(),
            target: self.target.clone(),
            phasing: self.phasing.clone(),
            original: self.original(),
            ..GoalForm::default()
        }
    }
}

/// Sets the goal; an edited goal saved under another identity replaces the one edited.
#[post("/goals")]
async fn save(
    req: HttpRequest,
    f: web::Form<GoalInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    let mut form = f.form();
    let target = f.target.trim().parse::<f64>().unwrap_or(f64::NAN);
    let segment = match f.segment_by.trim() {
        "" => (None, None),
        by => (Some(by), Some(f.segment.trim())),
    };
    let checked = goals::validate(
        &state.kpis,
        &me.team,
        &f.kpi,
        (&f.period_kind, target, Some(&f.phasing)),
        segment,
    )
    .await?;
    let fields = match checked {
        Ok(fields) => fields,
        Err((field, message)) => {
            let slot = match field {
                "kpi" => &mut form.kpi_error,
                "period_kind" => &mut form.period_kind_error,
                "target" => &mut form.target_error,
                "phasing" => &mut form.phasing_error,
                _ => &mut form.segment_error,
            };
            *slot = Some(message);
            let p = page(&state, &me, form, None).await?;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
        }
    };
    stored::put(&state.db, me.team.id, &fields, state.kpis.now()).await?;
    if let Some((kpi, kind, by, seg)) = f.original()
        && (kpi != fields.kpi
            || kind != fields.period_kind
            || by != fields.segment_by
            || seg != fields.segment)
    {
        stored::delete(&state.db, me.team.id, &kpi, &kind, (&by, &seg)).await?;
    }
    Ok(see_other("/goals?done=saved".to_owned()))
}

#[derive(Deserialize)]
struct DeleteInput {
    csrf: String,
    kpi: String,
    period_kind: String,
    #[serde(default)]
    segment_by: String,
    #[serde(default)]
    segment: String,
}

#[post("/goals/delete")]
async fn delete(
    req: HttpRequest,
    f: web::Form<DeleteInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    let segment = (f.segment_by.as_str(), f.segment.as_str());
    if !stored::delete(&state.db, me.team.id, &f.kpi, &f.period_kind, segment).await? {
        return Err(PageError::not_found("No such goal in this team."));
    }
    Ok(see_other("/goals?done=deleted".to_owned()))
}
