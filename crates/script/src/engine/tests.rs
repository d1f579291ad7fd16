//! The script engine's tests. The helpers the topics share are here; each topic has its file
//! below `engine/tests/`.

mod cache;
mod language;
mod limits;
mod nesting;

use std::time::Duration;

use super::*;
use crate::testing::FakeData;

fn week() -> ScriptContext {
    ScriptContext {
        period_key: "2026-W45".into(),
        period_days: 7,
        segment: None,
        ..Default::default()
    }
}

fn eval(source: &str, data: &FakeData) -> RunOutcome {
    let engine = ScriptEngine::default();
    let script = engine.compile(source).expect("the test script compiles");
    engine.run(&script, &week(), data)
}

fn value_of(source: &str, data: &FakeData) -> Option<f64> {
    let outcome = eval(source, data);
    assert_eq!(outcome.error, None, "{source}");
    outcome.value
}

fn error_of(source: &str, data: &FakeData) -> ScriptError {
    eval(source, data).error.expect("the script fails")
}

/// Only the wall clock can stop these: the operation budget is unlimited.
fn deadline_only_engine(deadline: Duration) -> ScriptEngine {
    ScriptEngine::new(Limits {
        max_operations: 0,
        deadline,
        ..Limits::default()
    })
}
