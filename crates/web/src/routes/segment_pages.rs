//! The segment-set pages: the team's sets with each segment's filter in words (`/segments`),
//! and the editor (`/new-segment-set`, `/segments/{set}/edit`). The editor's script checks each
//! edit with `POST /api/v1/segments/check` (the partition check: rows in no segment or in
//! several, with examples and their values) and saves with `PUT /api/v1/segments/{set}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use lodestar_core::period::{PeriodKey, PeriodKind};
use lodestar_store::segment_sets;

use crate::html::{PageError, render};
use crate::state::AppState;
use crate::viewer::{self, SignedIn};
use crate::views::structure::{SegmentEditorPage, SegmentSetsPage, SetRow};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(list_sets).service(new_set).service(edit_set);
}

/// The dimensions a filter may read, then the `attrs.*` keys the team's sets already read.
const DIMENSIONS: [&str; 4] = ["channel", "source", "campaign", "category"];

#[get("/segments")]
async fn list_sets(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = viewer::require(&req, &state).await?;
    let sets = segment_sets::list(&state.db, me.team.id)
        .await?
        .into_iter()
        .map(|s| SetRow {
            segments: s.set.describe(),
            name: s.set.name,
            version: s.version,
        })
        .collect();
    render(
        StatusCode::OK,
        &SegmentSetsPage {
            layout: me.layout("Segment sets", "trees"),
            can_edit: me.session.role.can_write(),
            sets,
        },
    )
}

async fn editor(
    state: &AppState,
    me: &SignedIn,
    name: Option<String>,
    set_json: serde_json::Value,
) -> Result<HttpResponse, PageError> {
    let mut fields: Vec<String> = DIMENSIONS.iter().map(|d| (*d).to_owned()).collect();
    for stored in segment_sets::list(&state.db, me.team.id).await? {
        for field in stored.set.fields() {
            let field = field.to_string();
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
    }
    let period = PeriodKey::last_complete(PeriodKind::Week, state.kpis.now(), me.team.timezone.0);
    render(
        StatusCode::OK,
        &SegmentEditorPage {
            layout: me.layout("Segment set editor", "trees"),
            name,
            set_json: set_json.to_string(),
            period: period.to_string(),
            fields,
        },
    )
}

#[get("/new-segment-set")]
async fn new_set(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let me = viewer::require_editor(&req, &state, "segment sets").await?;
    let blank = serde_json::json!({"segments": [{"name": "", "filter": {}}]});
    editor(&state, &me, None, blank).await
}

#[get("/segments/{set}/edit")]
async fn edit_set(
    req: HttpRequest,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = viewer::require_editor(&req, &state, "segment sets").await?;
    let Some(stored) = segment_sets::find(&state.db, me.team.id, &name).await? else {
        return Err(PageError::not_found(format!(
            "There is no segment set `{name}` in this team."
        )));
    };
    editor(
        &state,
        &me,
        Some(stored.set.name.clone()),
        stored.set.to_json(),
    )
    .await
}
