//! Compiled scripts: the cache returns the same script for the same source and stays bounded,
//! dependencies are the literal keys of data calls, and a small run is cheap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::testing::FakeData;

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
