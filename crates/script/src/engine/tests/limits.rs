//! Hostile scripts: each is stopped with an error within a second, by the deadline when there is
//! no operation budget, before deep recursion overflows the thread stack, and each concurrent run
//! under its own deadline.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::testing::FakeData;

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
fn a_spent_budget_stops_the_run_in_progress_and_starts_no_other() {
    let engine = deadline_only_engine(Duration::from_secs(30));
    let script = engine
        .compile("let x = 0; loop { x += 1; } x")
        .expect("compiles");
    let budget = crate::Budget::new(Duration::from_millis(200), 0);
    let started = std::time::Instant::now();
    let outcome = engine.run_within(&script, &week(), &FakeData::default(), &budget);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let message = outcome.error.expect("stopped").message;
    assert!(message.contains("budget (200 ms"), "{message}");
    // The next run does not start.
    let started = std::time::Instant::now();
    let outcome = engine.run_within(&script, &week(), &FakeData::default(), &budget);
    assert!(started.elapsed() < Duration::from_millis(50));
    assert!(outcome.error.is_some());
}

#[test]
fn operations_of_all_runs_count_against_one_budget() {
    let engine = deadline_only_engine(Duration::from_secs(30));
    let script = engine
        .compile("let x = 0; while x < 10000 { x += 1; } x")
        .expect("compiles");
    let alone = engine.run(&script, &week(), &FakeData::default());
    assert_eq!(alone.error, None);
    let budget = crate::Budget::new(Duration::from_secs(60), 1_000_000);
    let mut ran = 0;
    let error = loop {
        match engine
            .run_within(&script, &week(), &FakeData::default(), &budget)
            .error
        {
            None => ran += 1,
            Some(e) => break e.message,
        }
        assert!(ran < 1000, "the budget never ran out");
    };
    assert!(error.contains("1000000 operations"), "{error}");
    // Each run takes some tens of thousands of operations: a million is a few dozen runs.
    assert!((5..200).contains(&ran), "{ran} runs");
}

#[test]
fn a_cancelled_budget_stops_a_run_from_another_thread() {
    let engine = std::sync::Arc::new(deadline_only_engine(Duration::from_secs(30)));
    let budget = crate::Budget::unlimited();
    let (e, b) = (
        std::sync::Arc::clone(&engine),
        std::sync::Arc::clone(&budget),
    );
    let run = std::thread::spawn(move || {
        let script = e
            .compile("let x = 0; loop { x += 1; } x")
            .expect("compiles");
        e.run_within(&script, &week(), &FakeData::default(), &b)
    });
    std::thread::sleep(Duration::from_millis(100));
    let cancelled = std::time::Instant::now();
    budget.cancel();
    let outcome = run.join().expect("the run ends");
    assert!(cancelled.elapsed() < Duration::from_millis(500));
    assert!(
        outcome
            .error
            .expect("stopped")
            .message
            .contains("cancelled")
    );
}
