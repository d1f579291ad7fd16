//! The functions scripts call (`metric`, `previous`, `count_events`, `sum_events`, `log`) and
//! the null-aware arithmetic that lets a missing value flow through a formula.

use crate::data::{ScriptContext, ScriptData};
use rhai::{Dynamic, Engine, EvalAltResult, FLOAT, INT, ImmutableString, Map, Scope};

use super::FRAME;

/// `None` for `()`, `Some(Ok)` for a number, `Some(Err(type name))` for anything else.
pub(super) fn number_of(value: &Dynamic) -> Option<Result<f64, &'static str>> {
    if value.is_unit() {
        None
    } else if let Ok(float) = value.as_float() {
        Some(Ok(float))
    } else if let Ok(int) = value.as_int() {
        Some(Ok(int as f64))
    } else {
        Some(Err(friendly_type_name(value)))
    }
}

fn friendly_type_name(value: &Dynamic) -> &'static str {
    if value.is_string() {
        "string"
    } else if value.is_bool() {
        "bool"
    } else if value.is_array() {
        "array"
    } else if value.is_map() {
        "object map"
    } else if value.is_char() {
        "char"
    } else {
        value.type_name()
    }
}

/// Strict variables needs to know the names a run will provide; their values come per run.
pub(super) fn compile_scope() -> Scope<'static> {
    let mut scope = Scope::new();
    scope.push("period", Dynamic::UNIT);
    scope.push("segment", Dynamic::UNIT);
    scope
}

pub(super) fn run_scope(ctx: &ScriptContext) -> Scope<'static> {
    let mut period = Map::new();
    period.insert("key".into(), ctx.period_key.clone().into());
    period.insert("days".into(), (ctx.period_days as FLOAT).into());
    period.insert("start".into(), ctx.period_start.clone().into());
    period.insert("end".into(), ctx.period_end.clone().into());
    period.insert("complete".into(), ctx.period_complete.into());
    let segment = ctx
        .segment
        .as_ref()
        .map_or(Dynamic::UNIT, |segment| segment.clone().into());
    let mut scope = Scope::new();
    scope.push_constant("period", period);
    scope.push_constant("segment", segment);
    scope
}

fn optional(value: Option<f64>) -> Dynamic {
    value.map_or(Dynamic::UNIT, Dynamic::from_float)
}

/// Call the data source of the run on this thread; a data error becomes a runtime error whose
/// message names the call (Rhai adds the call's position).
fn with_data(
    function: &str,
    arg: &str,
    call: impl FnOnce(&dyn ScriptData) -> Result<Dynamic, String>,
) -> Result<Dynamic, Box<EvalAltResult>> {
    if !FRAME.is_set() {
        return Err(format!("{function}() can only be used while a KPI runs").into());
    }
    FRAME
        .with(|frame| call(frame.data))
        .map_err(|message| format!("{function}(\"{arg}\"): {message}").into())
}

fn as_number(function: &str, value: &Dynamic) -> Result<Option<f64>, Box<EvalAltResult>> {
    match number_of(value) {
        None => Ok(None),
        Some(Ok(number)) => Ok(Some(number)),
        Some(Err(type_name)) => {
            Err(format!("{function}() expects numbers or (), not a {type_name}").into())
        }
    }
}

pub(super) fn register_kpi_api(engine: &mut Engine) {
    engine.register_fn("metric", |key: ImmutableString| {
        with_data("metric", &key, |data| data.metric(&key).map(optional))
    });
    engine.register_fn("previous", |key: ImmutableString| {
        with_data("previous", &key, |data| data.previous(&key).map(optional))
    });
    engine.register_fn("count_events", |kind: ImmutableString| {
        with_data("count_events", &kind, |data| {
            data.count_events(&kind).map(Dynamic::from_float)
        })
    });
    engine.register_fn("sum_events", |kind: ImmutableString| {
        with_data("sum_events", &kind, |data| {
            data.sum_events(&kind).map(Dynamic::from_float)
        })
    });
    engine.register_fn(
        "ratio",
        |numerator: Dynamic, denominator: Dynamic| -> Result<Dynamic, Box<EvalAltResult>> {
            let numerator = as_number("ratio", &numerator)?;
            let denominator = as_number("ratio", &denominator)?;
            Ok(match (numerator, denominator) {
                (Some(n), Some(d)) if d != 0.0 => Dynamic::from_float(n / d),
                _ => Dynamic::UNIT,
            })
        },
    );
    register_null_arithmetic(engine);
}

/// `()` is Lodestar's null: arithmetic with it gives `()` (like a derived KPI whose input is
/// undefined), so `ratio(a, b) * 100` needs no guard. Ordering comparisons with `()` have no
/// sensible answer and stop the script with a message saying how to check for it.
fn register_null_arithmetic(engine: &mut Engine) {
    fn null_binary(engine: &mut Engine, op: &'static str) {
        engine.register_fn(op, |_: (), _: ()| ());
        engine.register_fn(op, |_: (), _: INT| ());
        engine.register_fn(op, |_: (), _: FLOAT| ());
        engine.register_fn(op, |_: INT, _: ()| ());
        engine.register_fn(op, |_: FLOAT, _: ()| ());
    }
    for op in ["+", "-", "*", "/", "%", "**"] {
        null_binary(engine, op);
    }
    engine.register_fn("-", |_: ()| ());
    engine.register_fn("+", |_: ()| ());

    fn null_comparison(engine: &mut Engine, op: &'static str) {
        let message = move || -> Result<bool, Box<EvalAltResult>> {
            Err(format!(
                "cannot compare () (no value) with `{op}`: check `if x == () {{ … }}` first"
            )
            .into())
        };
        engine.register_fn(op, move |_: (), _: ()| message());
        engine.register_fn(op, move |_: (), _: INT| message());
        engine.register_fn(op, move |_: (), _: FLOAT| message());
        engine.register_fn(op, move |_: INT, _: ()| message());
        engine.register_fn(op, move |_: FLOAT, _: ()| message());
    }
    for op in ["<", "<=", ">", ">="] {
        null_comparison(engine, op);
    }
}
