//! Calling an import mapping's `map_row(row)`: the same sandbox, limits and budget as a KPI run,
//! with no team data to read.

use std::cell::RefCell;
use std::time::Instant;

use rhai::{AST, Dynamic, EvalAltResult, Map, Position, Scope};

use super::{CompiledScript, FRAME, Logs, RunFrame, STOP_BUDGET, ScriptEngine, stack_position};
use crate::budget::{Budget, Spent};
use crate::data::ScriptData;
use crate::error::ScriptError;

/// Mapping scripts see rows, not the team's numbers.
struct NoData;

const NO_DATA: &str = "an import mapping cannot read KPIs or events; it maps one row at a time";

impl ScriptData for NoData {
    fn metric(&self, _: &str) -> Result<Option<f64>, String> {
        Err(NO_DATA.to_owned())
    }
    fn previous(&self, _: &str) -> Result<Option<f64>, String> {
        Err(NO_DATA.to_owned())
    }
    fn count_events(&self, _: &str) -> Result<f64, String> {
        Err(NO_DATA.to_owned())
    }
    fn sum_events(&self, _: &str) -> Result<f64, String> {
        Err(NO_DATA.to_owned())
    }
}

impl CompiledScript {
    /// Whether the script defines a function `name` taking `arity` parameters.
    pub fn defines(&self, name: &str, arity: usize) -> bool {
        self.ast
            .iter_functions()
            .any(|f| f.name == name && f.params.len() == arity)
    }
}

/// A mapping script with a last statement `map_row(row)`, ready to evaluate per row.
pub struct MappingCall {
    ast: AST,
    /// Where `map_row`'s body starts: the line given for an error that has none of its own
    /// (Rhai places no operation-limit stop inside a function).
    start: Position,
}

impl ScriptEngine {
    /// Prepares calls of the script's `map_row(row)`.
    pub(crate) fn mapping_call(&self, script: &CompiledScript) -> Result<MappingCall, ScriptError> {
        let start = script
            .ast
            .iter_fn_def()
            .find(|f| f.name == "map_row" && f.params.len() == 1)
            .map(|f| f.body.start_position())
            .ok_or_else(|| ScriptError::new("a mapping script must define fn map_row(row)"))?;
        let mut scope = Scope::new();
        scope.push("row", Map::new());
        let call = self
            .engine
            .compile_with_scope(&scope, "map_row(row)")
            .map_err(|err| ScriptError::from_parse(&err))?;
        Ok(MappingCall {
            ast: script.ast.clone_functions_only().merge(&call),
            start,
        })
    }

    /// Calls `map_row(row)` of a mapping script, charged to the import's `budget`; each call
    /// also stops at the engine's own per-run limits.
    pub(crate) fn call_map_row(
        &self,
        call: &MappingCall,
        row: Map,
        budget: &Budget,
    ) -> Result<Dynamic, ScriptError> {
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = Instant::now();
        if let Some(why) = budget.spent(now) {
            return Err(ScriptError::new(mapping_budget_message(budget, why)));
        }
        let frame = RunFrame {
            data: &NoData,
            deadline: (now + self.limits.deadline).min(budget.deadline()),
            budget: Some(budget),
            charged: std::cell::Cell::new(0),
            nesting: 0,
            stack_base: stack_position(),
            logs: RefCell::new(Logs {
                lines: Vec::new(),
                dropped: 0,
                max: 0,
            }),
        };
        let result = FRAME.set(&frame, || {
            let mut scope = Scope::new();
            scope.push("row", row);
            self.engine
                .eval_ast_with_scope::<Dynamic>(&mut scope, &call.ast)
        });
        result.map_err(|err| {
            if matches!(&*err, EvalAltResult::ErrorTerminated(token, _)
                if token.clone().into_string().as_deref() == Ok(STOP_BUDGET))
            {
                let why = budget.spent(Instant::now()).unwrap_or(Spent::Time);
                ScriptError::new(mapping_budget_message(budget, why))
            } else {
                let mut error = ScriptError::from_eval(*err, &self.limits);
                // Placed at the `map_row(row)` call (line 1, column 1 of the call's own source):
                // Rhai had no position inside the function.
                if (error.line, error.column) == (Some(1), Some(1)) {
                    error.line = call.start.line();
                    error.column = None;
                }
                error
            }
        })
    }
}

fn mapping_budget_message(budget: &Budget, why: Spent) -> String {
    match why {
        Spent::Cancelled => "stopped: the import was cancelled".to_owned(),
        Spent::Time | Spent::Operations => format!(
            "stopped: the mapping script used up the import's budget ({} operations so far)",
            budget.used()
        ),
    }
}
