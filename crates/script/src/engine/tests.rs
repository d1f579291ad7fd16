use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::stack::EvalStack;
use crate::testing::FakeData;

fn week() -> ScriptContext {
    ScriptContext {
        period_key: "2026-W45".into(),
        period_days: 7,
        segment: None,
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

const HOSTILE: [(&str, &str); 6] = [
    ("endless loop", "loop {}"),
    ("endless recursion", "fn f(x) { f(x) } f(1)"),
    ("doubling string", "let s = \"x\"; loop { s += s; }"),
    ("growing array", "let a = []; loop { a.push(1); }"),
    (
        "growing map",
        "let m = #{}; let i = 0; loop { m[i.to_string()] = i; i += 1; }",
    ),
    ("huge padding", "let s = \"x\"; s.pad(1000000000, \"y\"); 1"),
];

#[test]
fn hostile_scripts_are_each_stopped_with_an_error_within_a_second() {
    let data = FakeData::default();
    for engine in [
        ScriptEngine::default(),
        deadline_only_engine(Duration::from_millis(250)),
    ] {
        for (what, source) in HOSTILE {
            let script = engine
                .compile(source)
                .expect("hostile scripts still compile");
            let started = Instant::now();
            let outcome = engine.run(&script, &week(), &data);
            let elapsed = started.elapsed();
            let error = outcome
                .error
                .unwrap_or_else(|| panic!("{what} was not stopped"));
            assert!(elapsed < Duration::from_secs(1), "{what} ran {elapsed:?}");
            assert!(error.line.is_some(), "{what}: {error}");
            assert_eq!(outcome.value, None);
        }
    }
}

#[test]
fn an_endless_loop_without_an_operation_budget_hits_the_deadline() {
    let engine = deadline_only_engine(Duration::from_millis(100));
    let script = engine
        .compile("let i = 0;\nloop { i += 1; }")
        .expect("compiles");
    let started = Instant::now();
    let error = engine
        .run(&script, &week(), &FakeData::default())
        .error
        .expect("stopped");
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        error.message,
        "stopped: ran longer than the time limit of 100 ms"
    );
    assert_eq!(error.line, Some(2));
}

#[test]
fn deep_recursion_with_deep_expressions_is_stopped_before_the_thread_stack_overflows() {
    // Tens of KiB of stack per call level: without the stack guard this would abort the process.
    let engine = ScriptEngine::new(Limits {
        max_call_depth: 100_000,
        ..Limits::default()
    });
    let source = "fn f(x) { 1+(1+(1+(1+(1+(1+(1+(1+(f(x + 1))))))))) }\nf(0)";
    let script = engine.compile(source).expect("compiles");
    let error = thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || engine.run(&script, &week(), &FakeData::default()).error)
        .expect("spawn")
        .join()
        .expect("the thread survives")
        .expect("stopped");
    assert!(error.message.contains("KiB of stack"), "{error}");
}

#[test]
fn concurrent_hostile_runs_each_get_their_own_deadline() {
    let deadline = Duration::from_millis(300);
    let engine = Arc::new(deadline_only_engine(deadline));
    let workers: Vec<_> = (0..4_u64)
        .map(|i| {
            let engine = Arc::clone(&engine);
            thread::spawn(move || {
                // Staggered starts: a shared deadline would stop the later runs early.
                thread::sleep(Duration::from_millis(100 * i));
                let script = engine.compile("loop {}").expect("compiles");
                let started = Instant::now();
                let outcome = engine.run(&script, &week(), &FakeData::default());
                (started.elapsed(), outcome.error)
            })
        })
        .collect();
    for worker in workers {
        let (elapsed, error) = worker.join().expect("worker");
        let error = error.expect("stopped");
        assert!(error.message.contains("time limit"), "{error}");
        assert!(
            elapsed >= deadline,
            "stopped after {elapsed:?}, before its own deadline"
        );
        assert!(elapsed < Duration::from_secs(1), "ran {elapsed:?}");
    }
}

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

#[test]
fn compiling_the_same_source_twice_returns_the_same_script() {
    let engine = ScriptEngine::default();
    let first = engine.compile("metric(\"leads\") * 2").expect("compiles");
    let second = engine.compile("metric(\"leads\") * 2").expect("compiles");
    assert!(Arc::ptr_eq(&first, &second));
    let other = engine.compile("metric(\"leads\") * 3").expect("compiles");
    assert!(!Arc::ptr_eq(&first, &other));
    assert_eq!(first.source_hash().len(), 64);
}

#[test]
fn the_cache_stays_bounded() {
    let engine = ScriptEngine::default();
    let kept = engine.compile("1").expect("compiles");
    for i in 0..CACHE_CAPACITY + 10 {
        engine.compile(&format!("{i} + 1")).expect("compiles");
        // Used all along, so never the least recently used.
        engine.compile("1").expect("compiles");
    }
    assert_eq!(engine.cached_scripts(), CACHE_CAPACITY);
    assert!(Arc::ptr_eq(&kept, &engine.compile("1").expect("compiles")));
}

#[test]
fn dependencies_are_the_literal_keys_of_data_calls() {
    let engine = ScriptEngine::default();
    let script = engine
        .compile(
            "fn spend() { metric(\"total_spend\") }\n\
             let key = \"computed\";\n\
             let x = metric(key);\n\
             ratio(metric(\"revenue\"), spend()) + previous(\"leads\") \
             + count_events(\"demo_booked\") + sum_events(\"revenue\")",
        )
        .expect("compiles");
    let deps = engine.dependencies(&script);
    assert_eq!(
        deps.metrics.iter().collect::<Vec<_>>(),
        ["revenue", "total_spend"]
    );
    assert_eq!(deps.previous.iter().collect::<Vec<_>>(), ["leads"]);
    assert_eq!(
        deps.event_kinds.iter().collect::<Vec<_>>(),
        ["demo_booked", "revenue"]
    );
}

#[test]
fn running_a_small_script_is_cheap() {
    let engine = ScriptEngine::default();
    let data = FakeData::with_metrics(&[("revenue", 9000.0), ("total_spend", 3000.0)]);
    let source = "let revenue = metric(\"revenue\");\nlet spend = metric(\"total_spend\");\nratio(revenue, spend) * 100";
    let started = Instant::now();
    for _ in 0..1_000 {
        let script = engine.compile(source).expect("compiles");
        assert_eq!(engine.run(&script, &week(), &data).value, Some(300.0));
    }
    // About 20 µs each in a debug build; a second would mean per-run engine or AST building.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// Custom KPIs evaluated the way the report layer will: `metric()` of a custom KPI runs its
/// script, nested, on the same thread.
struct NestedData<'a> {
    engine: &'a ScriptEngine,
    scripts: Vec<(&'static str, &'static str)>,
    base: FakeData,
    stack: EvalStack,
    delay: Duration,
}

impl NestedData<'_> {
    fn evaluate(&self, key: &str) -> Result<Option<f64>, String> {
        let _guard = self.stack.enter(key)?;
        let (_, source) = self
            .scripts
            .iter()
            .find(|(custom, _)| *custom == key)
            .ok_or_else(|| format!("unknown KPI `{key}`"))?;
        let script = self.engine.compile(source).map_err(|e| e.to_string())?;
        self.engine
            .run(&script, &week(), self)
            .into_result()
            .map_err(|e| e.message)
    }
}

impl ScriptData for NestedData<'_> {
    fn metric(&self, key: &str) -> Result<Option<f64>, String> {
        thread::sleep(self.delay);
        if self.scripts.iter().any(|(custom, _)| *custom == key) {
            self.evaluate(key)
        } else {
            self.base.metric(key)
        }
    }
    fn previous(&self, key: &str) -> Result<Option<f64>, String> {
        self.base.previous(key)
    }
    fn count_events(&self, kind: &str) -> Result<f64, String> {
        self.base.count_events(kind)
    }
    fn sum_events(&self, kind: &str) -> Result<f64, String> {
        self.base.sum_events(kind)
    }
}

#[test]
fn a_custom_kpi_can_read_another_custom_kpi() {
    let engine = ScriptEngine::default();
    let data = NestedData {
        engine: &engine,
        scripts: vec![
            (
                "win_share",
                "print(\"outer\"); metric(\"wins\") / metric(\"leads\") * 100",
            ),
            ("wins", "print(\"inner\"); metric(\"customers_won\") + 1"),
        ],
        base: FakeData::with_metrics(&[("customers_won", 4.0), ("leads", 50.0)]),
        stack: EvalStack::new(),
        delay: Duration::ZERO,
    };
    assert_eq!(data.evaluate("win_share"), Ok(Some(10.0)));
    let outer = engine.run(
        &engine
            .compile("print(\"outer\"); metric(\"wins\")")
            .expect("compiles"),
        &week(),
        &data,
    );
    // The nested run's print went to the nested run's outcome, not the outer one.
    assert_eq!(outer.logs, vec!["outer"]);
    assert_eq!(outer.value, Some(5.0));
}

#[test]
fn a_cycle_between_custom_kpis_is_reported() {
    let engine = ScriptEngine::default();
    let data = NestedData {
        engine: &engine,
        scripts: vec![("a", "metric(\"b\") + 1"), ("b", "metric(\"a\") * 2")],
        base: FakeData::default(),
        stack: EvalStack::new(),
        delay: Duration::ZERO,
    };
    let error = data.evaluate("a").expect_err("a cycle");
    assert!(error.ends_with("cycle: a -> b -> a"), "{error}");
    assert!(data.stack.keys().is_empty(), "every guard was dropped");
}

#[test]
fn a_nested_run_never_outlives_the_outer_deadline() {
    let engine = deadline_only_engine(Duration::from_millis(400));
    let data = NestedData {
        engine: &engine,
        scripts: vec![("outer", "metric(\"spin\")"), ("spin", "loop {}")],
        base: FakeData::default(),
        stack: EvalStack::new(),
        // The outer run has used 300 ms by the time the nested one starts: a fresh deadline
        // would let the nested run go on until 700 ms.
        delay: Duration::from_millis(300),
    };
    let started = Instant::now();
    let error = data.evaluate("outer").expect_err("stopped");
    let elapsed = started.elapsed();
    assert!(error.contains("time limit"), "{error}");
    assert!(
        elapsed < Duration::from_millis(650),
        "the nested run got a fresh deadline: {elapsed:?}"
    );
}

#[test]
fn nesting_runs_too_deeply_is_an_error() {
    let engine = ScriptEngine::new(Limits {
        max_nested_runs: 2,
        ..Limits::default()
    });
    let data = NestedData {
        engine: &engine,
        scripts: vec![
            ("k0", "metric(\"k1\")"),
            ("k1", "metric(\"k2\")"),
            ("k2", "metric(\"k3\")"),
            ("k3", "1"),
        ],
        base: FakeData::default(),
        stack: EvalStack::new(),
        delay: Duration::ZERO,
    };
    let error = data.evaluate("k0").expect_err("too deep");
    assert!(error.contains("more than 2 levels deep"), "{error}");
}
