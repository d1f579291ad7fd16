//! The stylesheet, the pages' scripts (editors, data page, period picker, copy buttons) and the
//! icon, compiled into the binary: pages load nothing from anywhere else.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(asset);
}

/// (name, content type, bytes).
const ASSETS: [(&str, &str, &[u8]); 10] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
    ),
    (
        "scripts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/scripts.js"),
    ),
    (
        "data.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/data.js"),
    ),
    (
        "report_editor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/report_editor.js"),
    ),
    (
        "editor_kit.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/editor_kit.js"),
    ),
    (
        "tree_editor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/tree_editor.js"),
    ),
    (
        "segment_editor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/segment_editor.js"),
    ),
    (
        "period_picker.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/period_picker.js"),
    ),
    (
        "copy.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/copy.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../static/favicon.svg"),
    ),
];

#[get("/static/{name}")]
async fn asset(name: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(n, _, _)| *n == name.as_str()) {
        Some((_, content_type, bytes)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, *content_type))
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(*bytes),
        None => HttpResponse::NotFound()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("no such file"),
    }
}
