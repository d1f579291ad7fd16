//! Step two of a KPI request: the numbers a [`Plan`] reads, in one batched query per batch
//! (totals; a period in progress's window; segments when the request splits) and one per batch for the event kinds.

use std::collections::HashMap;

use lodestar_core::dimension::{Dimension, Table};
use lodestar_core::period::Buckets;
use lodestar_store::Db;
use lodestar_store::measures::{self, KindTotals, MeasureQuery, Measured};

use super::Plan;
use crate::error::ReportError;

/// Event kind totals by (bucket, segment, kind).
pub type KindMap = HashMap<(usize, String, String), KindTotals>;

/// The prefetched numbers of one batch.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub measured: Measured,
    pub kinds: KindMap,
}

#[derive(Debug, Clone)]
pub struct Prefetch {
    pub totals: Fetched,
    /// A period in progress's window (see [`Plan::window`]).
    pub window: Option<Fetched>,
    /// `None` when the request does not split.
    pub segments: Option<Fetched>,
}

impl Prefetch {
    pub async fn load(db: &Db, team_id: i32, plan: &Plan) -> Result<Prefetch, ReportError> {
        // A standalone plan split by segment reads only the segments.
        let totals = if plan.standalone && plan.segment_by.is_some() {
            Fetched::default()
        } else {
            fetch(db, team_id, plan, &plan.totals, None).await?
        };
        let window = match &plan.window {
            Some(w) => Some(fetch(db, team_id, plan, w, None).await?),
            None => None,
        };
        let segments = match &plan.segment_by {
            None => None,
            Some(dim) => Some(fetch(db, team_id, plan, &plan.segments, Some(dim)).await?),
        };
        Ok(Prefetch {
            totals,
            window,
            segments,
        })
    }
}

async fn fetch(
    db: &Db,
    team_id: i32,
    plan: &Plan,
    buckets: &Buckets,
    dimension: Option<&Dimension>,
) -> Result<Fetched, ReportError> {
    let measured = measures::compute(
        db,
        &MeasureQuery {
            team_id,
            bounds: buckets,
            dimension,
            measures: &plan.needed,
        },
    )
    .await?;
    let kinds = match dimension {
        Some(dim) if !dim.supported_by(Table::Events) => KindMap::new(),
        _ => measures::event_kinds(db, team_id, buckets, dimension, &plan.kinds).await?,
    };
    Ok(Fetched { measured, kinds })
}
