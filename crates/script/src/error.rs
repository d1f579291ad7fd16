use std::fmt;

use rhai::{EvalAltResult, ParseError, Position};
use serde::Serialize;

use crate::engine::{Limits, STOP_STACK};

/// Why a script did not compile or did not produce a value, with where it happened.
///
/// `Display` gives `line L, column C: message` (or just the message when there is no position),
/// the shape the HTTP API and `lodestar kpi check` show to analysts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// The KPI the script belongs to, when the caller knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kpi: Option<String>,
}

impl ScriptError {
    /// An error with no position (an unreadable file, a limit hit before the script started).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            line: None,
            column: None,
            message: message.into(),
            kpi: None,
        }
    }

    pub fn at(position: Position, message: impl Into<String>) -> Self {
        Self {
            line: position.line(),
            column: position.position(),
            message: message.into(),
            kpi: None,
        }
    }

    /// `file:line:column: message` (or `file: message`), as compilers print errors.
    pub fn located(&self, file: &std::path::Path) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                format!("{}:{line}:{column}: {}", file.display(), self.message)
            }
            (Some(line), None) => format!("{}:{line}: {}", file.display(), self.message),
            _ => format!("{}: {}", file.display(), self.message),
        }
    }

    pub fn with_kpi(mut self, key: impl Into<String>) -> Self {
        self.kpi = Some(key.into());
        self
    }

    pub(crate) fn from_parse(err: &ParseError) -> Self {
        Self::at(err.position(), err.err_type().to_string())
    }

    pub(crate) fn from_eval(err: EvalAltResult, limits: &Limits) -> Self {
        // Errors raised inside a script-defined function arrive wrapped once per call level; the
        // innermost one points at the offending line, which is what an analyst needs to see.
        let mut err = err;
        let mut outer_position = Position::NONE;
        let mut functions: Vec<String> = Vec::new();
        while let EvalAltResult::ErrorInFunctionCall(name, _, inner, position) = err {
            if outer_position.is_none() {
                outer_position = position;
            }
            if functions.last() != Some(&name) {
                functions.push(name);
            }
            err = *inner;
        }
        let mut position = err.take_position();
        if position.is_none() {
            position = outer_position;
        }
        let mut message = describe(&err, limits);
        if let Some(first) = functions.first() {
            message.push_str(&format!(" (in function {first})"));
        }
        Self::at(position, message)
    }
}

fn describe(err: &EvalAltResult, limits: &Limits) -> String {
    match err {
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            "stopped after {} operations (an endless loop?)",
            limits.max_operations
        ),
        EvalAltResult::ErrorTerminated(token, _)
            if token.clone().into_string().as_deref() == Ok(STOP_STACK) =>
        {
            format!(
                "stopped: used more than {} KiB of stack (recursion too deep?)",
                limits.max_stack_bytes / 1024
            )
        }
        EvalAltResult::ErrorTerminated(..) => format!(
            "stopped: ran longer than the time limit of {} ms",
            limits.deadline.as_millis()
        ),
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "functions called more than {} levels deep (endless recursion?)",
            limits.max_call_depth
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            if what.contains("string") {
                format!("a string grew longer than {} bytes", limits.max_string_len)
            } else if what.contains("array") {
                format!("an array grew larger than {} items", limits.max_array_len)
            } else if what.contains("map") {
                format!(
                    "an object map grew larger than {} entries",
                    limits.max_map_len
                )
            } else {
                format!("{what} is too large")
            }
        }
        // A `throw`, or a data function's error: the value is the whole message.
        EvalAltResult::ErrorRuntime(value, _) => value.to_string(),
        other => other.to_string(),
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "line {line}, column {column}: {}", self.message)
            }
            (Some(line), None) => write!(f, "line {line}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ScriptError {}
