//! The tree editor: make or change a KPI tree in the browser (`/new-tree`, `/trees/{slug}/edit`).
//! The page's script edits the branches (nested by indenting), checks each edit with
//! `POST /api/v1/trees/check` and shows the MECE findings before anything is saved; saving is
//! `PUT /api/v1/trees/{slug}`, deleting a saved tree `DELETE /api/v1/trees/{slug}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use lodestar_core::tree::{KpiTree, TreeNode};
use lodestar_report::catalog::catalog;
use lodestar_report::trees::{self, TreeSource};
use serde::Deserialize;

use crate::html::{PageError, render};
use crate::state::AppState;
use crate::viewer::{self, SignedIn};
use crate::views::structure::TreeEditorPage;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(new_tree).service(edit_tree);
}

async fn page(
    state: &AppState,
    me: &SignedIn,
    slug: Option<String>,
    tree: &KpiTree,
    source: &TreeSource,
) -> Result<HttpResponse, PageError> {
    let kpis = catalog(&state.kpis, &me.team)
        .await?
        .into_iter()
        .map(|e| (e.meta.key, e.meta.name))
        .collect();
    let branches_json = serde_json::to_string(&tree.branches).map_err(PageError::internal)?;
    render(
        StatusCode::OK,
        &TreeEditorPage {
            layout: me.layout("Tree editor", "trees"),
            slug,
            title: tree.title.clone(),
            branches_json,
            source: match source {
                TreeSource::Builtin => {
                    "Built in: saving keeps the team's own copy, which replaces it for this team."
                        .to_owned()
                }
                TreeSource::Pack { pack } => format!(
                    "From pack {pack}: saving keeps the team's own copy, which replaces it for this team."
                ),
                TreeSource::Team { version } => format!("Saved by the team, version {version}."),
                TreeSource::Draft => "Not saved yet.".to_owned(),
            },
            deletable: matches!(source, TreeSource::Team { .. }),
            kpis,
        },
    )
}

#[derive(Deserialize)]
struct NewTreeQuery {
    /// Start from a copy of this tree's branches.
    from: Option<String>,
}

#[get("/new-tree")]
async fn new_tree(
    req: HttpRequest,
    q: web::Query<NewTreeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = viewer::require_editor(&req, &state, "KPI trees").await?;
    let tree = match q.from.as_deref() {
        Some(from) => {
            let Some(copied) = trees::resolve(&state.kpis, &me.team, from).await? else {
                return Err(PageError::not_found(format!(
                    "There is no tree `{from}` to copy."
                )));
            };
            KpiTree {
                slug: String::new(),
                title: format!("Copy of {}", copied.tree.title),
                branches: copied.tree.branches,
            }
        }
        None => KpiTree {
            slug: String::new(),
            title: String::new(),
            branches: vec![TreeNode {
                title: String::new(),
                kind: None,
                kpis: Vec::new(),
                branches: Vec::new(),
            }],
        },
    };
    page(&state, &me, None, &tree, &TreeSource::Draft).await
}

#[get("/trees/{slug}/edit")]
async fn edit_tree(
    req: HttpRequest,
    slug: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let me = viewer::require_editor(&req, &state, "KPI trees").await?;
    let Some(found) = trees::resolve(&state.kpis, &me.team, &slug).await? else {
        return Err(PageError::not_found(format!("There is no tree `{slug}`.")));
    };
    page(
        &state,
        &me,
        Some(slug.into_inner()),
        &found.tree,
        &found.source,
    )
    .await
}
