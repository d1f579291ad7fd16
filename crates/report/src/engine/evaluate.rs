//! Step three of a KPI request: each requested KPI's value, comparison, trend and segments from
//! the prefetched numbers. Scripts run here, on a blocking thread, never on the async workers.

use std::cell::RefCell;
use std::sync::Arc;

use lodestar_core::period::Compare;
use lodestar_store::measures::TOTAL;

use super::plan::Requested;
use super::{KpiValue, SegmentValue, TrendPoint};
use crate::error::ReportError;
use crate::meta::KpiMeta;
use crate::script_env::{Env, Which};

/// Every KPI of `env`'s plan, in the order requested, and the logs of the script `logs_of`.
pub(super) async fn evaluate(
    env: Arc<Env>,
    logs_of: Option<String>,
) -> Result<(Vec<KpiValue>, Vec<String>), ReportError> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _runtime = handle.enter();
        let logs = RefCell::new(Vec::new());
        let kpis: Vec<KpiValue> = env
            .plan()
            .requested
            .iter()
            .map(|r| {
                kpi_value(&env, r, |key, l| {
                    if logs_of.as_deref() == Some(key) {
                        logs.borrow_mut().extend(l);
                    }
                })
            })
            .collect();
        (kpis, logs.into_inner())
    })
    .await
    .map_err(|e| ReportError::Internal(format!("KPI evaluation stopped: {e}")))
}

/// One KPI's value, previous value, change, trend and segments.
fn kpi_value(env: &Env, r: &Requested, mut on_logs: impl FnMut(&str, Vec<String>)) -> KpiValue {
    let plan = env.plan();
    let totals = &plan.totals;
    let meta = match r {
        Requested::Builtin(b) => KpiMeta::builtin(*b),
        Requested::Custom(k) => KpiMeta::custom(&env.customs().kpis[k]),
    };
    let at = |which: Which, bucket: usize, seg: &str| -> Option<f64> {
        match r {
            Requested::Builtin(b) => env.builtin(*b, which, bucket, seg).ok().flatten(),
            Requested::Custom(k) => env.custom(k, which, bucket, seg).ok().flatten(),
        }
    };
    // A script's own run for the period asked for keeps its logs and error.
    let mut error = None;
    // The value and its comparison come from the window: for a period in progress, its days so
    // far and the same days of the period before.
    let window = plan.window();
    let value = match r {
        Requested::Builtin(_) => at(Which::Window, window.current(), TOTAL),
        Requested::Custom(k) => {
            let outcome = env.run_top(k, Which::Window, window.current(), TOTAL);
            on_logs(k, outcome.logs);
            error = outcome.error.map(|e| e.with_kpi(k));
            outcome.value
        }
    };
    let compared = plan.compare != Compare::None;
    let previous = at(Which::Window, window.previous(), TOTAL).filter(|_| compared);
    let trend = (totals.len() - plan.trend.min(totals.len())..totals.len())
        .map(|b| TrendPoint {
            period: totals.periods[b].key.to_string(),
            // The last point is the card's own value (lead velocity included).
            value: if b == totals.current() {
                value
            } else {
                at(Which::Totals, b, TOTAL)
            },
        })
        .collect();
    let (segments, unsupported) = match env.dimension() {
        None => (None, None),
        Some(dim) => {
            let reason = match r {
                Requested::Builtin(b) => b.unsupported_reason(dim),
                Requested::Custom(k) => env.customs().unsupported_reason(k, dim),
            };
            match reason {
                Some(reason) => (Some(None), Some(reason)),
                None => {
                    let buckets = &plan.segments;
                    let list = env
                        .segments()
                        .into_iter()
                        .map(|s| SegmentValue {
                            value: at(Which::Segments, buckets.current(), &s),
                            previous: at(Which::Segments, buckets.previous(), &s)
                                .filter(|_| compared),
                            segment: s,
                            goal: None,
                        })
                        .collect();
                    (Some(Some(list)), None)
                }
            }
        }
    };
    let mut base = KpiValue::new(meta, value, previous);
    if !compared {
        // Nothing to compare with: no change to show either (`previous` is already `None`).
        base.change_display = None;
    }
    KpiValue {
        segments,
        unsupported,
        trend,
        error,
        ..base
    }
}
