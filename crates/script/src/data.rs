use serde::Serialize;

use crate::error::ScriptError;

/// What a running script can ask for, answered by the report layer from prefetched numbers.
///
/// Every method speaks of the period and segment the run was started for. An `Err` stops the
/// script with a runtime error that names the call (`metric("x"): <your message>`) and carries
/// the call's line and column.
///
/// An implementation may evaluate another custom KPI by calling [`crate::ScriptEngine::run`]
/// from inside `metric`/`previous` on the same thread: the nested run shares the outer run's
/// deadline. Use [`crate::EvalStack`] to turn a cycle into an error instead of a deep chain.
pub trait ScriptData: Send + Sync {
    /// The KPI `key` (built-in or custom) in the current period and segment; `Ok(None)` when it
    /// is undefined (the script sees `()`).
    fn metric(&self, key: &str) -> Result<Option<f64>, String>;
    /// The KPI `key` in the period before the current one, same segment.
    fn previous(&self, key: &str) -> Result<Option<f64>, String>;
    /// How many events of `kind` occurred in the current period and segment.
    fn count_events(&self, kind: &str) -> Result<f64, String>;
    /// The sum of the `value` of events of `kind` in the current period and segment.
    fn sum_events(&self, kind: &str) -> Result<f64, String>;
}

/// Where a run is: the values behind the script variables `period` and `segment`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptContext {
    /// The period's key, e.g. `2026-W45` (`period.key` in a script).
    pub period_key: String,
    /// The days read of the period (`period.days`, a float): all of them, or the days so far of a
    /// period in progress.
    pub period_days: i64,
    /// The segment being computed (`segment`), `None` for the total (`()` in a script).
    pub segment: Option<String>,
    /// The first instant read, RFC 3339 (`period.start`).
    pub period_start: String,
    /// The instant after the last one read, RFC 3339 (`period.end`): the next local midnight
    /// for a period in progress.
    pub period_end: String,
    /// The period is over (`period.complete`).
    pub period_complete: bool,
}

/// The result of one run. `error` is set exactly when the script failed; `value` is then `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunOutcome {
    /// The script's value; `None` when it ended with `()` (undefined, like a zero denominator).
    pub value: Option<f64>,
    /// What the script printed with `print`/`debug`, in order, bounded.
    pub logs: Vec<String>,
    pub error: Option<ScriptError>,
}

impl RunOutcome {
    pub(crate) fn failed(error: ScriptError, logs: Vec<String>) -> Self {
        Self {
            value: None,
            logs,
            error: Some(error),
        }
    }

    /// The value, or the error: convenient for a [`ScriptData`] that evaluates nested KPIs.
    pub fn into_result(self) -> Result<Option<f64>, ScriptError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.value),
        }
    }
}
