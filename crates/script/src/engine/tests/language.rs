//! What scripts see and give: errors at their line and column, numbers and unit, logs, period
//! and segment in scope, the sandbox, and event data.

use super::*;
use crate::testing::FakeData;

#[test]
fn a_compile_error_reports_its_line_and_column() {
    let engine = ScriptEngine::default();
    let error = engine
        .compile("let leads = metric(\"leads\");\nlet x = ;\nx")
        .expect_err("does not compile");
    assert_eq!((error.line, error.column), (Some(2), Some(9)));
    assert_eq!(error.to_string(), "line 2, column 9: Unexpected ';'");
    // The example of scripts/README.md.
    let error = engine
        .compile(
            "let spend = metric(\"total_spend\");\n\
             let demos = count_events(\"demo_booked\");\n\
             ratio(spend, demos * )",
        )
        .expect_err("does not compile");
    assert_eq!(error.to_string(), "line 3, column 22: Unexpected ')'");
}

#[test]
fn an_unknown_variable_is_a_compile_error() {
    let error = ScriptEngine::default()
        .compile("let spend = 1;\nspnd * 2")
        .expect_err("does not compile");
    assert_eq!((error.line, error.column), (Some(2), Some(1)));
    assert!(error.message.contains("spnd"), "{error}");
}

#[test]
fn a_data_function_error_becomes_a_runtime_error_at_the_call() {
    let error = error_of(
        "let a = 1;\nlet b =  metric(\"missing\");\nb",
        &FakeData::default(),
    );
    assert_eq!((error.line, error.column), (Some(2), Some(10)));
    assert_eq!(error.message, "metric(\"missing\"): unknown KPI `missing`");
}

#[test]
fn an_error_inside_a_function_points_into_the_function_body() {
    let error = error_of(
        "fn share(x) {\n    x / metric(\"nope\")\n}\nshare(1)",
        &FakeData::default(),
    );
    assert_eq!(error.line, Some(2));
    assert!(error.message.starts_with("metric(\"nope\")"), "{error}");
    assert!(error.message.ends_with("(in function share)"), "{error}");
}

#[test]
fn metrics_reach_scripts_as_floats_so_division_is_not_truncated() {
    let data = FakeData::with_metrics(&[("sqls", 59.0), ("leads", 100.0)]);
    assert_eq!(
        value_of("metric(\"sqls\") / metric(\"leads\")", &data),
        Some(0.59)
    );
    assert_eq!(value_of("metric(\"sqls\") * 100", &data), Some(5900.0));
    assert_eq!(value_of("100 * metric(\"sqls\") / 2", &data), Some(2950.0));
    assert_eq!(value_of("metric(\"sqls\") - 9", &data), Some(50.0));
}

#[test]
fn an_integer_result_is_a_number() {
    assert_eq!(value_of("40 + 2", &FakeData::default()), Some(42.0));
}

#[test]
fn ratio_is_unit_on_a_zero_or_missing_operand() {
    let mut data = FakeData::with_metrics(&[("won", 3.0), ("zero", 0.0)]);
    data.metrics.insert("none".into(), None);
    assert_eq!(
        value_of("ratio(metric(\"won\"), metric(\"zero\"))", &data),
        None
    );
    assert_eq!(
        value_of("ratio(metric(\"won\"), metric(\"none\"))", &data),
        None
    );
    assert_eq!(
        value_of("ratio(metric(\"none\"), metric(\"won\"))", &data),
        None
    );
    assert_eq!(value_of("ratio(1, 4)", &data), Some(0.25));
    assert_eq!(
        value_of("ratio(metric(\"zero\"), metric(\"won\"))", &data),
        Some(0.0)
    );
}

#[test]
fn ratio_of_a_string_is_an_error() {
    let error = error_of("ratio(\"a\", 2)", &FakeData::default());
    assert_eq!(error.message, "ratio() expects numbers or (), not a string");
}

#[test]
fn arithmetic_with_unit_gives_unit() {
    let mut data = FakeData::default();
    data.metrics.insert("none".into(), None);
    for source in [
        "metric(\"none\") + 1",
        "2.5 * metric(\"none\")",
        "-metric(\"none\")",
        "ratio(1, 0) * 100",
        "let x = metric(\"none\"); x += 1; x",
    ] {
        assert_eq!(value_of(source, &data), None, "{source}");
    }
}

#[test]
fn comparing_unit_with_a_number_is_an_error_that_says_how_to_check() {
    let mut data = FakeData::default();
    data.metrics.insert("none".into(), None);
    let error = error_of("if metric(\"none\") > 10 { 1 } else { 0 }", &data);
    assert!(error.message.contains("cannot compare ()"), "{error}");
    assert_eq!(
        value_of(
            "let x = metric(\"none\"); if x == () { -1 } else { x }",
            &data
        ),
        Some(-1.0)
    );
}

#[test]
fn a_script_ending_in_a_string_is_an_error_at_its_last_statement() {
    let error = error_of("let x = 1;\n\"done\"", &FakeData::default());
    assert_eq!(
        error.message,
        "a KPI script must end with a number or (), not a string"
    );
    assert_eq!(error.line, Some(2));
    let error = error_of("1 < 2", &FakeData::default());
    assert!(error.message.ends_with("not a bool"), "{error}");
}

#[test]
fn a_script_ending_in_unit_has_no_value_and_no_error() {
    assert_eq!(value_of("let x = 1;", &FakeData::default()), None);
    assert_eq!(
        value_of("if true { return (); } 5", &FakeData::default()),
        None
    );
}

#[test]
fn an_infinite_result_is_reported_as_unit_with_a_log_line() {
    let outcome = eval("1.0 / 0", &FakeData::default());
    assert_eq!((outcome.value, outcome.error), (None, None));
    assert!(
        outcome.logs[0].contains("ratio(a, b)"),
        "{:?}",
        outcome.logs
    );
}

#[test]
fn print_and_debug_land_in_the_logs() {
    let outcome = eval(
        "print(\"leads so far\");\nprint(1.5);\ndebug(\"x\");\n1",
        &FakeData::default(),
    );
    assert_eq!(outcome.logs, vec!["leads so far", "1.5", "[line 3] \"x\""]);
    assert_eq!(outcome.value, Some(1.0));
}

#[test]
fn logs_are_bounded() {
    let outcome = eval("for i in 0..250 { print(i); } 1", &FakeData::default());
    assert_eq!(outcome.logs.len(), 101);
    assert_eq!(outcome.logs[99], "99");
    assert_eq!(outcome.logs[100], "… 150 more log lines not kept");
}

#[test]
fn period_and_segment_are_in_scope() {
    let engine = ScriptEngine::default();
    let data = FakeData::default();
    let script = engine
        .compile(
            "if period.key == \"2026-W45\" && segment == \"email\" { 10 / period.days } else { 0 }",
        )
        .expect("compiles");
    let ctx = ScriptContext {
        segment: Some("email".into()),
        ..week()
    };
    let value = engine.run(&script, &ctx, &data).value.expect("a value");
    assert!((value - 10.0 / 7.0).abs() < 1e-12);
    assert_eq!(engine.run(&script, &week(), &data).value, Some(0.0));
    let script = engine
        .compile("if segment == () { 1 } else { 2 }")
        .expect("compiles");
    assert_eq!(engine.run(&script, &week(), &data).value, Some(1.0));
}

#[test]
fn period_is_read_only() {
    let error = error_of("period = 1; 2", &FakeData::default());
    assert!(error.message.contains("period"), "{error}");
}

#[test]
fn a_misspelt_period_property_is_an_error() {
    let error = error_of("period.dayz", &FakeData::default());
    assert!(error.message.contains("dayz"), "{error}");
}

#[test]
fn the_sandbox_has_no_sleep_eval_or_modules() {
    let engine = ScriptEngine::default();
    let error = error_of("sleep(10); 1", &FakeData::default());
    assert!(error.message.contains("sleep"), "{error}");
    assert!(engine.compile("eval(\"1\")").is_err());
    assert!(engine.compile("import \"os\" as os; 1").is_err());
}

#[test]
fn events_are_counted_and_summed() {
    let mut data = FakeData::default();
    data.events.insert("demo_booked".into(), (4.0, 1200.0));
    assert_eq!(
        value_of(
            "sum_events(\"demo_booked\") / count_events(\"demo_booked\")",
            &data
        ),
        Some(300.0)
    );
    assert_eq!(value_of("count_events(\"webinar\")", &data), Some(0.0));
}
