//! The alerts pages: list the team's alerts; create and edit one (its form becomes the body of
//! `POST /api/v1/alerts`, checked by the scheduler's `parse_body` as the API's are); test it now
//! (what would fire, nothing recorded or sent); snooze it for a week or unsnooze it; delete it;
//! read its events log. Plain forms with the session's CSRF token; viewers see no controls.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{Days, Utc};
use lodestar_mail::Channel;
use lodestar_report::alerts::spec::AlertSpec;
use lodestar_report::catalog::catalog;
use lodestar_scheduler::alerts::parse_body;
use lodestar_store::alerts::{self, Alert, deliveries, events};
use serde::Deserialize;
use serde_json::Value;

use crate::html::{PageError, render, see_other};
use crate::state::AppState;
use crate::viewer::{self, SignedIn};
use crate::views::alerts::{
    AlertForm, AlertInput, AlertPage, AlertRow, AlertsPage, CONDITIONS, EventRow, PERIOD_KINDS,
    SEGMENTATIONS, TestRow,
};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(list_page)
        .service(new_page)
        .service(create)
        .service(edit_page)
        .service(update)
        .service(snooze)
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
                "A viewer reads alerts but cannot change them.",
            ));
        }
        viewer::confirm_form(state, &me, presented).await?;
    }
    Ok(me)
}

#[derive(Deserialize, Default)]
struct Query {
    done: Option<String>,
    test: Option<String>,
}

fn notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "created" => "Alert created: it is checked after the next data load.",
            "saved" => "Saved: every segment starts over, re-armed.",
            "snoozed" => "Snoozed for a week.",
            "unsnoozed" => "Unsnoozed: the next check judges it again.",
            "deleted" => "Alert deleted.",
            _ => return None,
        }
        .to_owned(),
    )
}

/// A stored alert's definition and channels (an unreadable one shows as a new form's).
fn read(a: &Alert) -> Option<(AlertSpec, Vec<Channel>)> {
    let spec = serde_json::from_str(&a.spec).ok()?;
    let value: Value = serde_json::from_str(&a.channels).ok()?;
    Some((spec, Channel::parse_list(&value).ok()?))
}

fn row(a: &Alert, firing: usize) -> AlertRow {
    let form = read(a).map_or_else(AlertForm::new_alert, |(spec, channels)| {
        AlertForm::of(&a.name, &a.kpi, &spec, &channels)
    });
    let condition = match form.condition.as_str() {
        "above" | "below" => format!("{} {}", form.condition, form.value),
        "change" => format!(
            "changes {} by {} vs {}",
            form.direction, form.value, form.compare
        ),
        "anomaly" => format!("anomaly (sensitivity {})", form.value),
        "goal" => format!("goal {}", form.goal_status),
        other => other.to_owned(),
    };
    let mut checks = Vec::new();
    if form.on_data {
        checks.push("after data loads".to_owned());
    }
    if !form.cron.is_empty() {
        checks.push(format!("on {}", form.cron));
    }
    AlertRow {
        id: a.id,
        name: a.name.clone(),
        kpi: a.kpi.clone(),
        condition,
        period: if form.last_complete {
            format!("last complete {}", form.period_kind)
        } else {
            format!("{} to date", form.period_kind)
        },
        segment_by: form.segment_by.clone(),
        checks: checks.join(", "),
        snoozed_until: (!form.snooze_until.is_empty()).then(|| form.snooze_until.clone()),
        firing,
    }
}

#[get("/alerts")]
async fn list_page(
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, None).await?;
    let list = alerts::list(&state.db, me.team.id).await?;
    let firing = alerts::firing_counts(&state.db, me.team.id).await?;
    let rows = list
        .iter()
        .map(|a| row(a, firing.get(&a.id).copied().unwrap_or(0)))
        .collect();
    render(
        StatusCode::OK,
        &AlertsPage {
            layout: me.layout("Alerts", "alerts"),
            can_edit: me.session.role.can_write(),
            notice: notice(q.done.as_deref()),
            rows,
        },
    )
}

/// The alert page around `form`; for a saved alert its events and, asked for, a test.
async fn page(
    state: &AppState,
    me: &SignedIn,
    saved: Option<&Alert>,
    form: AlertForm,
    (notice, test): (Option<String>, bool),
) -> Result<AlertPage, PageError> {
    let kpis = catalog(&state.kpis, &me.team)
        .await?
        .into_iter()
        .map(|e| (e.meta.key, e.meta.name))
        .collect();
    let (tested, events) = match saved {
        Some(a) => (
            if test {
                Some(tested(state, me, a).await?)
            } else {
                None
            },
            event_rows(state, a).await?,
        ),
        None => (None, Vec::new()),
    };
    Ok(AlertPage {
        layout: me.layout("Alert", "alerts"),
        csrf: me.csrf.clone(),
        can_edit: me.session.role.can_write(),
        notice,
        id: saved.map(|a| a.id),
        form,
        kpis,
        period_kinds: PERIOD_KINDS,
        conditions: CONDITIONS,
        dimensions: SEGMENTATIONS,
        tested,
        events,
    })
}

fn scheduler(state: &AppState) -> Result<&lodestar_scheduler::Scheduler, PageError> {
    state.scheduler.as_deref().ok_or_else(|| {
        PageError::internal(std::io::Error::other(
            "this server runs without a scheduler",
        ))
    })
}

/// What the alert would do now, per segment (nothing recorded or sent).
async fn tested(state: &AppState, me: &SignedIn, a: &Alert) -> Result<Vec<TestRow>, PageError> {
    Ok(scheduler(state)?
        .test_alert(&me.team, a, false)
        .await
        .map_err(PageError::internal)?
        .into_iter()
        .map(|t| TestRow {
            segment: t.segment,
            verdict: t.verdict,
            period: t.period,
            text: t.detail["text"].as_str().unwrap_or_default().to_owned(),
        })
        .collect())
}

async fn event_rows(state: &AppState, a: &Alert) -> Result<Vec<EventRow>, PageError> {
    let all = deliveries::list_for_alert(&state.db, a.id).await?;
    Ok(events::list(&state.db, a.id)
        .await?
        .into_iter()
        .rev()
        .map(|e| {
            let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::Null);
            EventRow {
                kind: e.kind.clone(),
                segment: e.segment.clone(),
                period: e.period.clone(),
                text: detail["text"].as_str().unwrap_or_default().to_owned(),
                at: e.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                deliveries: all
                    .iter()
                    .filter(|d| d.event_id == e.id)
                    .map(|d| {
                        (
                            d.channel.clone(),
                            d.status.as_str().to_owned(),
                            d.error.clone().unwrap_or_default(),
                        )
                    })
                    .collect(),
            }
        })
        .collect())
}

async fn owned(state: &AppState, me: &SignedIn, id: i32) -> Result<Alert, PageError> {
    alerts::get(&state.db, me.team.id, id)
        .await?
        .ok_or_else(|| PageError::not_found("No such alert in this team."))
}

#[get("/alerts/new")]
async fn new_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, None).await?;
    if !me.session.role.can_write() {
        return Err(PageError::forbidden(
            "For editors and admins",
            "A viewer reads alerts but cannot make them.",
        ));
    }
    let p = page(&state, &me, None, AlertForm::new_alert(), (None, false)).await?;
    render(StatusCode::OK, &p)
}

#[get("/alerts/{id}")]
async fn edit_page(
    req: HttpRequest,
    id: web::Path<i32>,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, None).await?;
    let a = owned(&state, &me, *id).await?;
    let form = read(&a).map_or_else(AlertForm::new_alert, |(spec, channels)| {
        AlertForm::of(&a.name, &a.kpi, &spec, &channels)
    });
    let asked = (notice(q.done.as_deref()), q.test.is_some());
    render(
        StatusCode::OK,
        &page(&state, &me, Some(&a), form, asked).await?,
    )
}

/// The form as the API's body, checked; else the form with the error next to its field.
async fn checked(
    state: &AppState,
    me: &SignedIn,
    input: &AlertInput,
    kept: &[Channel],
) -> Result<lodestar_store::alerts::AlertFields, Box<AlertForm>> {
    let form = AlertForm::posted(input);
    let body = form.clone().body(kept)?;
    match parse_body(&state.kpis, &me.team, &body).await {
        Ok(Ok(parsed)) => Ok(parsed.fields),
        Ok(Err(e)) => {
            let mut form = form;
            form.set_error(&e.field, e.message);
            Err(Box::new(form))
        }
        Err(e) => {
            let mut form = form;
            form.error = Some(format!("The alert could not be checked: {e}"));
            Err(Box::new(form))
        }
    }
}

#[post("/alerts/new")]
async fn create(
    req: HttpRequest,
    f: web::Form<AlertInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    match checked(&state, &me, &f, &[]).await {
        Ok(fields) => {
            let owner = me.session.user_id;
            let now = state.kpis.now();
            let a = alerts::create(&state.db, me.team.id, &fields, owner, now).await?;
            Ok(see_other(format!("/alerts/{}?done=created", a.id)))
        }
        Err(form) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&state, &me, None, *form, (None, false)).await?,
        ),
    }
}

#[post("/alerts/{id}")]
async fn update(
    req: HttpRequest,
    id: web::Path<i32>,
    f: web::Form<AlertInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    let old = owned(&state, &me, *id).await?;
    let kept = read(&old).map_or_else(Vec::new, |(_, c)| AlertForm::kept(&c));
    match checked(&state, &me, &f, &kept).await {
        Ok(fields) => {
            alerts::update(&state.db, me.team.id, old.id, &fields, state.kpis.now()).await?;
            alerts::reset_states(&state.db, old.id).await?;
            Ok(see_other(format!("/alerts/{}?done=saved", old.id)))
        }
        Err(form) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&state, &me, Some(&old), *form, (None, false)).await?,
        ),
    }
}

#[derive(Deserialize)]
struct Csrf {
    csrf: String,
}

/// Snoozes the alert for a week, or lifts a snooze.
#[post("/alerts/{id}/snooze")]
async fn snooze(
    req: HttpRequest,
    id: web::Path<i32>,
    f: web::Form<Csrf>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    let old = owned(&state, &me, *id).await?;
    let Some((mut spec, _)) = read(&old) else {
        return Err(PageError::bad_request(
            "This alert's stored definition does not read.",
        ));
    };
    let today = state
        .kpis
        .now()
        .with_timezone(&me.team.timezone.0)
        .date_naive();
    spec.snooze_until = match spec.snooze_until {
        Some(_) => None,
        None => today.checked_add_days(Days::new(7)),
    };
    let done = if spec.snooze_until.is_some() {
        "snoozed"
    } else {
        "unsnoozed"
    };
    let fields = lodestar_store::alerts::AlertFields {
        name: old.name.clone(),
        kpi: old.kpi.clone(),
        spec: serde_json::to_string(&spec).map_err(PageError::internal)?,
        channels: old.channels.clone(),
    };
    alerts::update(&state.db, me.team.id, old.id, &fields, Utc::now()).await?;
    Ok(see_other(format!("/alerts/{}?done={done}", old.id)))
}

#[post("/alerts/{id}/delete")]
async fn delete(
    req: HttpRequest,
    id: web::Path<i32>,
    f: web::Form<Csrf>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    if !alerts::delete(&state.db, me.team.id, *id).await? {
        return Err(PageError::not_found("No such alert in this team."));
    }
    Ok(see_other("/alerts?done=deleted".to_owned()))
}
