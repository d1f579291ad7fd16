//! The schedules pages: list the team's digests; create and edit one with presets, its cron in
//! words and its next five runs; pause, delete, send a test to yourself; read its delivery log
//! and re-send a failed delivery. Plain forms with the session's CSRF token. Checking a schedule
//! is the scheduler's (`spec::validate`), as for the JSON API; viewers see no controls.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lodestar_scheduler::cron::describe;
use lodestar_scheduler::spec::{self, FieldError};
use lodestar_scheduler::{Resend, next_run, next_runs};
use lodestar_store::deliveries;
use lodestar_store::schedules::{self, Schedule, ScheduleFields};
use serde::Deserialize;

use crate::html::{PageError, render, see_other};
use crate::state::AppState;
use crate::viewer::{self, SignedIn};
use crate::views::schedules::{
    DeliveryRow, PRESETS, ScheduleForm, SchedulePage, ScheduleRow, SchedulesPage,
};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(list_page)
        .service(new_page)
        .service(create)
        .service(edit_page)
        .service(update)
        .service(pause)
        .service(delete)
        .service(test)
        .service(resend);
}

/// Deliveries a schedule's page lists, newest first.
const LOG_ROWS: u64 = 50;

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
                "A viewer reads schedules but cannot change them.",
            ));
        }
        viewer::confirm_form(state, &me, presented).await?;
    }
    Ok(me)
}

fn when(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

fn tz_of(s: &Schedule) -> Tz {
    s.timezone.parse().unwrap_or(Tz::UTC)
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "created" => "Schedule created.",
            "saved" => "Saved.",
            "paused" => "Paused: nothing is sent until you resume it.",
            "resumed" => "Resumed: the next run is below.",
            "deleted" => "Schedule deleted.",
            "test-sent" => "Test sent to you: check your inbox.",
            "resent" => "Re-sent: the log below has the server's answer.",
            _ => return None,
        }
        .to_owned(),
    )
}

#[get("/schedules")]
async fn list_page(
    req: HttpRequest,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, None).await?;
    let now = state.kpis.now();
    let rows = schedules::list_for_team(&state.db, me.team.id)
        .await?
        .iter()
        .map(|s| ScheduleRow {
            id: s.id,
            report: s.report.clone(),
            words: describe(&s.cron),
            timezone: s.timezone.clone(),
            recipients: s.recipients.clone(),
            next_run: next_run(s, now).map_or_else(|| "—".to_owned(), |t| when(t, tz_of(s))),
            paused: s.paused,
        })
        .collect();
    render(
        StatusCode::OK,
        &SchedulesPage {
            layout: me.layout("Schedules", "schedules"),
            can_edit: me.session.role.can_write(),
            notice: notice(q.done.as_deref()),
            rows,
        },
    )
}

/// The schedule page around `form`: reports to pick, and for a saved schedule its runs and log.
async fn page(
    state: &AppState,
    me: &SignedIn,
    saved: Option<&Schedule>,
    form: ScheduleForm,
    notice: Option<String>,
) -> Result<SchedulePage, PageError> {
    let mut reports = vec![("weekly".to_owned(), "Weekly report".to_owned())];
    for def in lodestar_report::team_reports::list(&state.db, me.team.id).await? {
        if def.slug != "weekly" {
            reports.push((def.slug.clone(), def.title.clone()));
        }
    }
    let now = state.kpis.now();
    let (words, next, paused, deliveries) = match saved {
        Some(s) => {
            let tz = tz_of(s);
            let log = deliveries::list(&state.db, me.team.id, Some(s.id), LOG_ROWS)
                .await?
                .into_iter()
                .map(|d| DeliveryRow {
                    id: d.id,
                    period: d.period,
                    recipient: d.recipient,
                    status: d.status.as_str(),
                    attempts: d.attempts,
                    answer: d.error.or(d.response).unwrap_or_default(),
                    when: when(d.sent_at.unwrap_or(d.updated_at), tz),
                    origin: d.origin.as_str(),
                })
                .collect();
            (
                format!("{} ({})", describe(&s.cron), s.timezone),
                next_runs(s, now, 5)
                    .into_iter()
                    .map(|t| when(t, tz))
                    .collect(),
                s.paused,
                log,
            )
        }
        None => (String::new(), Vec::new(), false, Vec::new()),
    };
    Ok(SchedulePage {
        layout: me.layout("Schedule", "schedules"),
        csrf: me.csrf.clone(),
        can_edit: me.session.role.can_write(),
        notice,
        error: None,
        id: saved.map(|s| s.id),
        form,
        reports,
        presets: PRESETS,
        zones: chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect(),
        words,
        next_runs: next,
        paused,
        deliveries,
    })
}

fn form_of(s: &Schedule) -> ScheduleForm {
    ScheduleForm {
        report: s.report.clone(),
        preset: "custom".to_owned(),
        cron: s.cron.clone(),
        timezone: s.timezone.clone(),
        recipients: s.recipients.join("\n"),
        skip_empty: s.skip_empty,
        ..ScheduleForm::default()
    }
}

async fn owned(state: &AppState, me: &SignedIn, id: i32) -> Result<Schedule, PageError> {
    schedules::get(&state.db, me.team.id, id)
        .await?
        .ok_or_else(|| PageError::not_found("No such schedule in this team."))
}

#[get("/schedules/new")]
async fn new_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, None).await?;
    if !me.session.role.can_write() {
        return Err(PageError::forbidden(
            "For editors and admins",
            "A viewer reads schedules but cannot make them.",
        ));
    }
    let form = ScheduleForm {
        report: "weekly".to_owned(),
        preset: PRESETS[0].1.to_owned(),
        cron: PRESETS[0].1.to_owned(),
        timezone: me.team.timezone.to_string(),
        ..ScheduleForm::default()
    };
    render(StatusCode::OK, &page(&state, &me, None, form, None).await?)
}

#[get("/schedules/{id}")]
async fn edit_page(
    req: HttpRequest,
    id: web::Path<i32>,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, None).await?;
    let s = owned(&state, &me, *id).await?;
    let mut p = page(
        &state,
        &me,
        Some(&s),
        form_of(&s),
        notice(q.done.as_deref()),
    )
    .await?;
    if q.done.as_deref() == Some("test-failed") {
        p.error = Some("The test could not be sent: the log below has the server's answer.".into());
    }
    render(StatusCode::OK, &p)
}

#[derive(Deserialize)]
struct ScheduleInput {
    csrf: String,
    report: String,
    preset: Option<String>,
    cron: Option<String>,
    timezone: String,
    recipients: String,
    skip_empty: Option<String>,
}

/// The fields the form asks for, checked; else the form with the error next to its field.
async fn checked(
    state: &AppState,
    me: &SignedIn,
    f: &ScheduleInput,
    paused: bool,
) -> Result<ScheduleFields, ScheduleForm> {
    let preset = f.preset.clone().unwrap_or_else(|| "custom".to_owned());
    let cron = match PRESETS.iter().find(|(_, c)| *c == preset) {
        Some((_, c)) => (*c).to_owned(),
        None => f.cron.clone().unwrap_or_default(),
    };
    let recipients: Vec<String> = f
        .recipients
        .split(['\n', ','])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let mut form = ScheduleForm {
        report: f.report.clone(),
        preset,
        cron: cron.clone(),
        timezone: f.timezone.clone(),
        recipients: f.recipients.clone(),
        skip_empty: f.skip_empty.is_some(),
        ..ScheduleForm::default()
    };
    let fields = spec::validate(
        &f.report,
        &cron,
        &f.timezone,
        &recipients,
        form.skip_empty,
        paused,
    );
    let fields = match fields {
        Ok(fields) => fields,
        Err(FieldError { field, message }) => {
            let slot = match field {
                "report" => &mut form.report_error,
                "cron" => &mut form.cron_error,
                "timezone" => &mut form.timezone_error,
                _ => &mut form.recipients_error,
            };
            *slot = Some(message);
            return Err(form);
        }
    };
    match spec::find_report(&state.db, me.team.id, &fields.report).await {
        Ok(Some(_)) => Ok(fields),
        _ => {
            form.report_error = Some(format!("The team has no report {:?}.", fields.report));
            Err(form)
        }
    }
}

fn changed(state: &AppState) {
    if let Some(scheduler) = &state.scheduler {
        scheduler.notify_changed();
    }
}

#[post("/schedules/new")]
async fn create(
    req: HttpRequest,
    f: web::Form<ScheduleInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    match checked(&state, &me, &f, false).await {
        Ok(fields) => {
            let owner = me.session.user_id;
            let s = schedules::create(&state.db, me.team.id, &fields, owner, Utc::now()).await?;
            changed(&state);
            Ok(see_other(format!("/schedules/{}?done=created", s.id)))
        }
        Err(form) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&state, &me, None, form, None).await?,
        ),
    }
}

#[post("/schedules/{id}")]
async fn update(
    req: HttpRequest,
    id: web::Path<i32>,
    f: web::Form<ScheduleInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    let old = owned(&state, &me, *id).await?;
    match checked(&state, &me, &f, old.paused).await {
        Ok(mut fields) => {
            // The page does not edit Slack and webhook channels (the API does): keep them.
            fields.channels = old.channels.clone();
            schedules::update(&state.db, me.team.id, old.id, &fields, Utc::now()).await?;
            changed(&state);
            Ok(see_other(format!("/schedules/{}?done=saved", old.id)))
        }
        Err(form) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&state, &me, Some(&old), form, None).await?,
        ),
    }
}

#[derive(Deserialize)]
struct Csrf {
    csrf: String,
}

#[post("/schedules/{id}/pause")]
async fn pause(
    req: HttpRequest,
    id: web::Path<i32>,
    f: web::Form<Csrf>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    let old = owned(&state, &me, *id).await?;
    let mut fields = old.fields();
    fields.paused = !old.paused;
    schedules::update(&state.db, me.team.id, old.id, &fields, Utc::now()).await?;
    changed(&state);
    let done = if fields.paused { "paused" } else { "resumed" };
    Ok(see_other(format!("/schedules/{}?done={done}", old.id)))
}

#[post("/schedules/{id}/delete")]
async fn delete(
    req: HttpRequest,
    id: web::Path<i32>,
    f: web::Form<Csrf>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    if !schedules::delete(&state.db, me.team.id, *id).await? {
        return Err(PageError::not_found("No such schedule in this team."));
    }
    changed(&state);
    Ok(see_other("/schedules?done=deleted".to_owned()))
}

fn scheduler(state: &AppState) -> Result<&lodestar_scheduler::Scheduler, PageError> {
    state.scheduler.as_deref().ok_or_else(|| {
        PageError::internal(std::io::Error::other(
            "this server runs without a scheduler",
        ))
    })
}

/// Sends the last complete period's digest to the person signed in, once.
#[post("/schedules/{id}/test")]
async fn test(
    req: HttpRequest,
    id: web::Path<i32>,
    f: web::Form<Csrf>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    let Some(user_id) = me.session.user_id else {
        return Err(PageError::bad_request(
            "Signed in with an API token there is no address to send a test to: sign in with your e-mail and password.",
        ));
    };
    let email = lodestar_store::people::email_of(&state.db, user_id)
        .await?
        .ok_or_else(|| PageError::not_found("No such person."))?;
    state.limits.send_now(me.team.id)?;
    let sent = scheduler(&state)?
        .send_digest_test(me.team.id, *id, &email)
        .await
        .map_err(PageError::internal)?
        .ok_or_else(|| PageError::not_found("No such schedule in this team."))?;
    let ok = sent
        .results
        .iter()
        .all(|r| r.status == deliveries::Status::Sent);
    let done = if ok { "test-sent" } else { "test-failed" };
    Ok(see_other(format!("/schedules/{id}?done={done}")))
}

#[post("/schedules/{id}/deliveries/{delivery}/resend")]
async fn resend(
    req: HttpRequest,
    path: web::Path<(i32, i32)>,
    f: web::Form<Csrf>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = signed_in(&req, &state, Some(&f.csrf)).await?;
    let (id, delivery) = path.into_inner();
    match scheduler(&state)?
        .resend(me.team.id, delivery)
        .await
        .map_err(PageError::internal)?
    {
        Resend::NotFound => Err(PageError::not_found("No such delivery in this team.")),
        Resend::NotFailed(status) => Err(PageError::bad_request(format!(
            "Only failed deliveries are re-sent; this one is {status}."
        ))),
        Resend::Done(_) => Ok(see_other(format!("/schedules/{id}?done=resent"))),
    }
}
