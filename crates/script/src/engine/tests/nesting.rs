//! Custom KPIs reading custom KPIs: a nested run, a cycle reported, the outer deadline never
//! outlived, and nesting too deeply an error.

use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::stack::EvalStack;
use crate::testing::FakeData;

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
