use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage,
    BasicMathPackage, BasicStringPackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{AST, Dynamic, Engine, EvalAltResult, OptimizationLevel, Position};
use sha2::{Digest, Sha256};

use crate::budget::{Budget, Spent};
use crate::data::{RunOutcome, ScriptContext, ScriptData};
use crate::deps::{self, Dependencies};
use crate::error::ScriptError;

mod api;
use api::{compile_scope, number_of, register_kpi_api, run_scope};

mod cache;
use cache::Cache;

mod map_call;
pub use map_call::MappingCall;

/// Sandbox limits applied to every compile and run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Rhai operations (roughly: expressions evaluated) one run may perform; 0 for no budget
    /// (the deadline still applies).
    pub max_operations: u64,
    /// How deep script-defined functions may call each other.
    pub max_call_depth: usize,
    /// How deeply expressions may nest (checked when compiling); functions get half of it.
    pub max_expr_depth: usize,
    /// Longest string a script may build, in bytes.
    pub max_string_len: usize,
    /// Most items an array may hold (nested arrays count too).
    pub max_array_len: usize,
    /// Most entries an object map may hold (nested maps count too).
    pub max_map_len: usize,
    /// Wall-clock time one run may take, data calls included. A nested run (a custom KPI read
    /// through `metric()` by another) never gets more than what is left of the outer run's time.
    pub deadline: Duration,
    /// Longest script source accepted, in bytes.
    pub max_source_len: usize,
    /// Lines of `print`/`debug` output kept per run; later lines are counted, not kept.
    pub max_log_lines: usize,
    /// How many runs may be nested on one thread (a KPI reading a KPI reading a KPI…).
    pub max_nested_runs: usize,
    /// Thread stack a run (with the runs nested in it) may use, in bytes. Deep recursion with
    /// deep expressions can use tens of KiB per call level; overflowing the thread's stack would
    /// abort the whole server, so a run is stopped well before that. Run scripts on threads
    /// with at least this much stack to spare (tokio and std threads have 2 MiB).
    pub max_stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_operations: 1_000_000,
            max_call_depth: 32,
            max_expr_depth: 64,
            max_string_len: 64 * 1024,
            // Rhai re-measures a container after each change, so filling one costs O(n²):
            // keep these small (KPI scripts need lookup tables, not data sets).
            max_array_len: 1_000,
            max_map_len: 1_000,
            deadline: Duration::from_millis(250),
            max_source_len: 256 * 1024,
            max_log_lines: 100,
            max_nested_runs: 8,
            max_stack_bytes: 512 * 1024,
        }
    }
}

/// Longest single log line kept, in bytes; a script printing a 64 KiB string 100 times should
/// not make a run's reply megabytes long.
const MAX_LOG_LINE: usize = 1_000;

/// How many operations pass between two looks at the clock: reading it costs about as much as
/// a cheap operation, and a few hundred operations take microseconds.
const CLOCK_EVERY_OPS: u64 = 256;

/// Compiled scripts kept, keyed by the SHA-256 of their source.
const CACHE_CAPACITY: usize = 1_024;

/// A compiled KPI script: share it (it is behind an `Arc`) and run it as often as needed.
pub struct CompiledScript {
    ast: AST,
    hash: [u8; 32],
    dependencies: Dependencies,
    /// Where the value-producing last statement starts, to place a "wrong result type" error.
    last_statement: Position,
}

impl CompiledScript {
    /// SHA-256 of the source, hex: identifies a script version.
    pub fn source_hash(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The literal data calls the script makes (see [`Dependencies`]).
    pub fn dependencies(&self) -> &Dependencies {
        &self.dependencies
    }
}

impl fmt::Debug for CompiledScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledScript")
            .field("source_hash", &self.source_hash())
            .field("dependencies", &self.dependencies)
            .finish_non_exhaustive()
    }
}

/// The one Rhai engine of the process: built once, shared in an `Arc`, used from any thread.
///
/// It holds only the language core, arithmetic, logic, math, strings, arrays, maps and
/// iteration, plus the KPI API. There is no `sleep`, no `eval`, no file, network, time or module
/// access. `print`/`debug` go to the run's logs, never to stdout.
pub struct ScriptEngine {
    engine: Engine,
    limits: Limits,
    /// Runs started since the process began (the `lodestar_script_runs_total` metric).
    runs: std::sync::atomic::AtomicU64,
    /// Runs stopped (or not started) because their request's budget was spent.
    budget_stops: std::sync::atomic::AtomicU64,
    cache: Mutex<Cache>,
}

impl fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptEngine")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for ScriptEngine {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

/// What a run in progress on this thread needs from inside Rhai's callbacks, which are
/// `'static` and shared by all threads: its data source, its deadline and its log.
struct RunFrame<'a> {
    data: &'a (dyn ScriptData + 'a),
    deadline: Instant,
    /// The request's budget, shared with nested runs.
    budget: Option<&'a Budget>,
    /// Operations of this run already charged to the budget.
    charged: std::cell::Cell<u64>,
    nesting: usize,
    /// Stack address where the outermost run on this thread started.
    stack_base: usize,
    logs: RefCell<Logs>,
}

/// Why `on_progress` stopped a run (carried in Rhai's termination token).
pub(crate) const STOP_DEADLINE: &str = "deadline";
pub(crate) const STOP_STACK: &str = "stack";
pub(crate) const STOP_BUDGET: &str = "budget";

/// The current stack position: the address of a local. Comparing two of these on one thread
/// tells how much stack lies between them.
#[inline(never)]
fn stack_position() -> usize {
    let marker = 0_u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

scoped_tls_hkt::scoped_thread_local!(static FRAME: for<'a> &'a RunFrame<'a>);

struct Logs {
    lines: Vec<String>,
    dropped: usize,
    max: usize,
}

impl Logs {
    fn push(&mut self, line: &str) {
        if self.lines.len() >= self.max {
            self.dropped += 1;
            return;
        }
        let mut line = line.to_string();
        if line.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        self.lines.push(line);
    }

    fn finish(self) -> Vec<String> {
        let mut lines = self.lines;
        if self.dropped > 0 {
            lines.push(format!("… {} more log lines not kept", self.dropped));
        }
        lines
    }
}

fn log_line(line: &str) {
    if FRAME.is_set() {
        FRAME.with(|frame| frame.logs.borrow_mut().push(line));
    }
}

impl ScriptEngine {
    pub fn new(limits: Limits) -> Self {
        let mut engine = Engine::new_raw();
        for package in [
            ArithmeticPackage::new().as_shared_module(),
            LogicPackage::new().as_shared_module(),
            BasicMathPackage::new().as_shared_module(),
            BasicStringPackage::new().as_shared_module(),
            MoreStringPackage::new().as_shared_module(),
            BasicArrayPackage::new().as_shared_module(),
            BasicMapPackage::new().as_shared_module(),
            BasicIteratorPackage::new().as_shared_module(),
            BasicFnPackage::new().as_shared_module(),
        ] {
            engine.register_global_module(package);
        }
        engine.disable_symbol("eval");
        // Registered operator overloads (the null rules below) must win over built-in ones.
        engine.set_fast_operators(false);
        engine.set_optimization_level(OptimizationLevel::Simple);
        // Typos in variable names and map properties are errors, not silent `()`.
        engine.set_strict_variables(true);
        engine.set_fail_on_invalid_map_property(true);

        engine.set_max_operations(limits.max_operations);
        engine.set_max_call_levels(limits.max_call_depth);
        engine.set_max_expr_depths(limits.max_expr_depth, (limits.max_expr_depth / 2).max(1));
        engine.set_max_string_size(limits.max_string_len);
        engine.set_max_array_size(limits.max_array_len);
        engine.set_max_map_size(limits.max_map_len);
        // With strings capped at 64 KiB, this caps what live variables can hold at 16 MiB.
        engine.set_max_variables(256);
        engine.set_max_functions(256);

        let max_stack = limits.max_stack_bytes;
        engine.on_progress(move |operations| {
            if !FRAME.is_set() {
                return None;
            }
            FRAME.with(|frame| {
                // Checked on every operation: each call level does some, and one level can
                // take tens of KiB of stack.
                if frame.stack_base.abs_diff(stack_position()) > max_stack {
                    return Some(Dynamic::from(STOP_STACK));
                }
                if operations % CLOCK_EVERY_OPS != 0 {
                    return None;
                }
                let now = Instant::now();
                if let Some(budget) = frame.budget {
                    budget.charge(operations - frame.charged.replace(operations));
                    if budget.spent(now).is_some() {
                        return Some(Dynamic::from(STOP_BUDGET));
                    }
                }
                (now >= frame.deadline).then(|| Dynamic::from(STOP_DEADLINE))
            })
        });
        engine.on_print(log_line);
        engine.on_debug(|text, _, position| match position.line() {
            Some(line) => log_line(&format!("[line {line}] {text}")),
            None => log_line(text),
        });

        register_kpi_api(&mut engine);

        Self {
            engine,
            limits,
            runs: std::sync::atomic::AtomicU64::new(0),
            budget_stops: std::sync::atomic::AtomicU64::new(0),
            cache: Mutex::new(Cache::default()),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs started since the process began.
    pub fn runs(&self) -> u64 {
        self.runs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs stopped, or not started, because their request's script budget was spent.
    pub fn budget_stops(&self) -> u64 {
        self.budget_stops.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Compile `source`, or return the already compiled script with the same source.
    pub fn compile(&self, source: &str) -> Result<Arc<CompiledScript>, ScriptError> {
        if source.len() > self.limits.max_source_len {
            return Err(ScriptError::new(format!(
                "the script is {} bytes long; the limit is {} bytes",
                source.len(),
                self.limits.max_source_len
            )));
        }
        let hash: [u8; 32] = Sha256::digest(source.as_bytes()).into();
        if let Some(hit) = self.lock_cache().get(&hash) {
            return Ok(hit);
        }

        let ast = self
            .engine
            .compile_with_scope(&compile_scope(), source)
            .map_err(|err| ScriptError::from_parse(&err))?;
        let last_statement = ast
            .statements()
            .last()
            .map_or(Position::NONE, |stmt| stmt.position());
        let compiled = Arc::new(CompiledScript {
            dependencies: deps::collect(&ast),
            ast,
            hash,
            last_statement,
        });
        // Another thread may have compiled the same source meanwhile: keep one shared copy.
        Ok(self.lock_cache().insert(hash, compiled))
    }

    /// The literal keys `script` reads, for prefetching.
    pub fn dependencies(&self, script: &CompiledScript) -> Dependencies {
        script.dependencies.clone()
    }

    /// Run `script` for one period and segment. Never panics on script behaviour and never
    /// takes longer than the deadline (plus the time of a single data call in flight).
    ///
    /// May be called again from inside `data` (a custom KPI reading another): the nested run
    /// shares the outer run's deadline, and nesting deeper than `max_nested_runs` is an error.
    pub fn run(
        &self,
        script: &CompiledScript,
        ctx: &ScriptContext,
        data: &dyn ScriptData,
    ) -> RunOutcome {
        self.run_charged(script, ctx, data, None)
    }

    /// [`run`](Self::run), charged to a request's `budget`: a spent or cancelled budget stops
    /// the run (and does not start it).
    pub fn run_within(
        &self,
        script: &CompiledScript,
        ctx: &ScriptContext,
        data: &dyn ScriptData,
        budget: &Budget,
    ) -> RunOutcome {
        self.run_charged(script, ctx, data, Some(budget))
    }

    fn run_charged(
        &self,
        script: &CompiledScript,
        ctx: &ScriptContext,
        data: &dyn ScriptData,
        budget: Option<&Budget>,
    ) -> RunOutcome {
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = Instant::now();
        let own_deadline = now + self.limits.deadline;
        let (deadline, nesting, stack_base) = if FRAME.is_set() {
            FRAME.with(|outer| {
                (
                    outer.deadline.min(own_deadline),
                    outer.nesting + 1,
                    outer.stack_base,
                )
            })
        } else {
            (own_deadline, 0, stack_position())
        };
        if nesting > self.limits.max_nested_runs {
            return RunOutcome::failed(
                ScriptError::new(format!(
                    "custom KPIs read each other more than {} levels deep",
                    self.limits.max_nested_runs
                )),
                Vec::new(),
            );
        }
        if let Some(why) = budget.and_then(|b| b.spent(now)) {
            self.budget_stops
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let message = budget.map(|b| b.message(why)).unwrap_or_default();
            return RunOutcome::failed(ScriptError::new(message), Vec::new());
        }
        if now >= deadline {
            return RunOutcome::failed(
                ScriptError::new(format!(
                    "stopped: ran longer than the time limit of {} ms",
                    self.limits.deadline.as_millis()
                )),
                Vec::new(),
            );
        }

        let frame = RunFrame {
            data,
            deadline: budget.map_or(deadline, |b| deadline.min(b.deadline())),
            budget,
            charged: std::cell::Cell::new(0),
            nesting,
            stack_base,
            logs: RefCell::new(Logs {
                lines: Vec::new(),
                dropped: 0,
                max: self.limits.max_log_lines,
            }),
        };
        let result = FRAME.set(&frame, || {
            let mut scope = run_scope(ctx);
            self.engine
                .eval_ast_with_scope::<Dynamic>(&mut scope, &script.ast)
        });
        let logs = frame.logs.into_inner().finish();
        if let Some(b) = budget
            && let Err(err) = &result
            && matches!(&**err, EvalAltResult::ErrorTerminated(token, _)
                if token.clone().into_string().as_deref() == Ok(STOP_BUDGET))
        {
            self.budget_stops
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let why = b.spent(Instant::now()).unwrap_or(Spent::Time);
            return RunOutcome::failed(ScriptError::new(b.message(why)), logs);
        }

        match result {
            Ok(value) => match number_of(&value) {
                Some(Ok(number)) if number.is_finite() => RunOutcome {
                    value: Some(number),
                    logs,
                    error: None,
                },
                Some(Ok(number)) => {
                    let mut logs = logs;
                    logs.push(format!(
                        "the script's value was {number} (a division by zero?) and is reported \
                         as (): use ratio(a, b) to divide"
                    ));
                    RunOutcome {
                        value: None,
                        logs,
                        error: None,
                    }
                }
                None => RunOutcome {
                    value: None,
                    logs,
                    error: None,
                },
                Some(Err(type_name)) => RunOutcome::failed(
                    ScriptError::at(
                        script.last_statement,
                        format!("a KPI script must end with a number or (), not a {type_name}"),
                    ),
                    logs,
                ),
            },
            Err(err) => RunOutcome::failed(ScriptError::from_eval(*err, &self.limits), logs),
        }
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache holds no invariant a panicking thread could break halfway.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
impl ScriptEngine {
    pub(crate) fn cached_scripts(&self) -> usize {
        self.lock_cache().len()
    }
}

// The engine is built once and shared by every request thread.
const _: () = {
    const fn shareable<T: Send + Sync + 'static>() {}
    shareable::<ScriptEngine>();
    shareable::<CompiledScript>();
};

#[cfg(test)]
mod tests;
