//! Report definitions by (team, slug), remembered per data version: saving a definition bumps
//! the team's data version, so a remembered one is only used while it is still the stored one.
//! This spares a cached report page its second database query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lodestar_report::definition::{ReportDefinition, WEEKLY};
use lodestar_store::teams::Team;
use lodestar_store::{Db, StoreError, reports};

/// Past this many entries the map starts over: definitions are cheap to read again.
const MAX_ENTRIES: usize = 4096;

type Entry = (i64, Option<Arc<ReportDefinition>>);

#[derive(Default)]
pub struct Definitions {
    entries: Mutex<HashMap<(i32, String), Entry>>,
}

impl Definitions {
    /// The team's report `slug`: the stored one, else the built-in `weekly`, else `None`.
    pub async fn get(
        &self,
        db: &Db,
        team: &Team,
        slug: &str,
    ) -> Result<Option<Arc<ReportDefinition>>, StoreError> {
        let key = (team.id, slug.to_owned());
        if let Ok(entries) = self.entries.lock()
            && let Some((version, def)) = entries.get(&key)
            && *version == team.data_version
        {
            return Ok(def.clone());
        }
        let def = match reports::find(db, team.id, slug).await? {
            Some(stored) => Some(Arc::new(ReportDefinition::from_stored(&stored)?)),
            None if slug == WEEKLY => Some(Arc::new(ReportDefinition::weekly())),
            None => None,
        };
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (team.data_version, def.clone()));
        }
        Ok(def)
    }

    /// Every report of the team: `weekly` first (stored or built-in), then the others by slug.
    pub async fn list(db: &Db, team: &Team) -> Result<Vec<ReportDefinition>, StoreError> {
        let stored = reports::list(db, team.id).await?;
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
}
