//! A team's reports: its stored definitions, each replacing the built-in of its slug, the
//! built-in `weekly` otherwise, and the checks a definition passes against the team's KPIs and
//! trees before it is saved.

use lodestar_core::CoreError;
use lodestar_core::catalog::Builtin;
use lodestar_store::teams::Team;
use lodestar_store::{Db, StoreError, reports};

use crate::definition::{DefinitionError, ReportDefinition, ReportInput, WEEKLY};
use crate::engine::KpiEngine;
use crate::error::ReportError;
use crate::trees;

/// The team's report `slug`: its stored definition, else the built-in `weekly`; `None` when
/// the team has no such report.
pub async fn find(
    db: &Db,
    team_id: i32,
    slug: &str,
) -> Result<Option<ReportDefinition>, StoreError> {
    if let Some(stored) = reports::find(db, team_id, slug).await? {
        return ReportDefinition::from_stored(&stored).map(Some);
    }
    Ok((slug == WEEKLY).then(ReportDefinition::weekly))
}

/// Every report of the team: `weekly` first (stored or built-in), then the others by slug.
pub async fn list(db: &Db, team_id: i32) -> Result<Vec<ReportDefinition>, StoreError> {
    let stored = reports::list(db, team_id).await?;
    let mut out = Vec::with_capacity(stored.len() + 1);
    if !stored.iter().any(|r| r.slug == WEEKLY) {
        out.push(ReportDefinition::weekly());
    }
    for s in &stored {
        out.push(ReportDefinition::from_stored(s)?);
    }
    out.sort_by_key(|d| (d.slug != WEEKLY, d.slug.clone()));
    Ok(out)
}

/// Why a definition was not saved: it is invalid (the field at fault), or the server failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(transparent)]
    Invalid(#[from] DefinitionError),
    #[error(transparent)]
    Failed(#[from] ReportError),
}

impl From<StoreError> for SaveError {
    fn from(e: StoreError) -> SaveError {
        SaveError::Failed(e.into())
    }
}

/// Checks `input` as report `slug` of `team` (its fields, then that every KPI it names and its
/// tree exist for the team) and stores it. Replies the stored definition, and whether it is new.
pub async fn save(
    engine: &KpiEngine,
    team: &Team,
    slug: &str,
    input: ReportInput,
) -> Result<(ReportDefinition, bool), SaveError> {
    let def = input.validate(slug)?;
    check_names(engine, team, &def).await?;
    let (stored, created) = reports::save(engine.db(), team.id, &def.to_stored()).await?;
    Ok((ReportDefinition::from_stored(&stored)?, created))
}

/// Every KPI the definition shows or targets is a built-in or one of the team's custom KPIs, and
/// its tree is one of the team's.
async fn check_names(
    engine: &KpiEngine,
    team: &Team,
    def: &ReportDefinition,
) -> Result<(), SaveError> {
    let customs = engine.custom_kpis(team).await?;
    if let Some(tree) = &def.tree
        && trees::resolve_with(engine, team, &customs, tree)
            .await?
            .is_none()
    {
        return Err(DefinitionError {
            field: "tree".to_owned(),
            message: format!(
                "tree: no KPI tree `{tree}` for this team (GET /api/v1/trees lists them)"
            ),
        }
        .into());
    }
    let shown = def.keys().unwrap_or_default();
    let unknown = shown
        .iter()
        .chain(def.targets.keys())
        .find(|k| Builtin::from_key(k).is_none() && !customs.kpis.contains_key(*k));
    match unknown {
        Some(k) => Err(DefinitionError {
            field: "kpis".to_owned(),
            message: format!("report definition: {}", CoreError::UnknownKpi(k.clone())),
        }
        .into()),
        None => Ok(()),
    }
}
