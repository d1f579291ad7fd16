//! Report definitions by (team, slug), remembered per data version: saving a definition bumps
//! the team's data version, so a remembered one is only used while it is still the stored one.
//! This spares a cached report page its second database query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lodestar_report::definition::ReportDefinition;
use lodestar_report::team_reports;
use lodestar_store::teams::Team;
use lodestar_store::{Db, StoreError};

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
        let def = team_reports::find(db, team.id, slug).await?.map(Arc::new);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (team.data_version, def.clone()));
        }
        Ok(def)
    }
}
