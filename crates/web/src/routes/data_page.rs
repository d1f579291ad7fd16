//! The data page: what each table holds and takes, a sample file per table, and an upload that
//! is checked first (the import API's dry run: preview, every bad row with its line and column,
//! the mappings whose header matches) and loaded only when asked. The page's script talks to
//! `POST /api/v1/imports` with the session and its CSRF token; viewers see no upload.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, web};
use lodestar_core::rows::{EventRow, InputRow, LeadRow, SpendRow};

use crate::html::{PageError, render};
use crate::state::AppState;
use crate::viewer;
use crate::views::{DataPage, TableInfo};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(data_page).service(sample);
}

/// A few rows of each table, in the columns the loading API takes.
const SAMPLES: [(&str, &str); 3] = [
    (
        "leads",
        "id,created_at,channel,source,campaign,value,score,mql_at,sql_at,won_at,deal_value\n\
         L-1001,2026-11-02T09:15:00Z,email,newsletter,november-promo,250,62,2026-11-03T10:00:00Z,,,\n\
         L-1002,2026-11-02T14:40:00Z,paid_search,google,brand,400,81,2026-11-02T16:00:00Z,2026-11-04T09:00:00Z,2026-11-10T12:00:00Z,5200\n",
    ),
    (
        "spend",
        "day,channel,campaign,category,amount,impressions,clicks\n\
         2026-11-02,paid_search,brand,advertising,125.50,18000,840\n\
         2026-11-02,email,newsletter,tools,40,,\n",
    ),
    (
        "events",
        "id,kind,occurred_at,channel,campaign,lead_id,value\n\
         E-1,visit,2026-11-02T08:00:00Z,paid_search,brand,,\n\
         E-2,engagement,2026-11-02T10:30:00Z,email,newsletter,L-1001,\n\
         E-3,nps,2026-11-05T12:00:00Z,,,L-1002,9\n",
    ),
];

#[get("/data")]
async fn data_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = viewer::require(&req, &state).await?;
    let counts = lodestar_store::loaded::table_counts(&state.db, me.team.id).await?;
    let newest = lodestar_store::loaded::newest_data(&state.db, me.team.id)
        .await?
        .map(|t| {
            t.with_timezone(&me.team.timezone.0)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string()
        });
    let columns = |table: &str| -> &'static [&'static str] {
        match table {
            "leads" => LeadRow::field_names(),
            "spend" => SpendRow::field_names(),
            _ => EventRow::field_names(),
        }
    };
    let tables = counts
        .iter()
        .map(|(table, rows)| TableInfo {
            name: table.clone(),
            rows: lodestar_report::format::format_value(
                lodestar_core::catalog::Unit::Count,
                Some(*rows as f64),
            ),
            columns: columns(table).join(", "),
        })
        .collect();
    render(
        StatusCode::OK,
        &DataPage {
            layout: me.layout("Data", "data"),
            can_edit: me.session.role.can_write(),
            tables,
            newest,
        },
    )
}

#[get("/data/sample/{table}.csv")]
async fn sample(table: web::Path<String>) -> Result<HttpResponse, PageError> {
    let Some((name, csv)) = SAMPLES.iter().find(|(n, _)| *n == table.as_str()) else {
        return Err(PageError::not_found(
            "No such table: leads, spend or events.",
        ));
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"lodestar-{name}-sample.csv\""),
        ))
        .body(*csv))
}
