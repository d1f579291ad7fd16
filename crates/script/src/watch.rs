use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::engine::ScriptEngine;
use crate::pack::{PackSet, load_packs};

/// Files deeper than this under the packs folder are not watched (packs are shallow).
const MAX_DEPTH: usize = 4;

/// Keeps the packs of a folder loaded and reloads them when their files change.
///
/// A background thread hashes the folder's file names and contents every `every` (a few
/// small files: cheaper and more reliable than file-system events or modification times) and
/// swaps in a freshly loaded [`PackSet`] when the hash changes. Readers take the current set
/// with [`PackWatcher::current`]; a reload never blocks them for longer than a pointer swap.
/// Dropping the watcher stops the thread.
pub struct PackWatcher {
    shared: Arc<Shared>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    dir: PathBuf,
    engine: Arc<ScriptEngine>,
    reserved: BTreeSet<String>,
    current: RwLock<Arc<PackSet>>,
    fingerprint: Mutex<[u8; 32]>,
    generation: AtomicU64,
}

impl PackWatcher {
    /// Load the packs under `dir` now, then look for changes every `every`. KPIs whose key is
    /// in `reserved` (the built-in keys) are reported as problems instead of loaded.
    pub fn start(
        dir: impl Into<PathBuf>,
        engine: Arc<ScriptEngine>,
        every: Duration,
        reserved: BTreeSet<String>,
    ) -> Self {
        let dir = dir.into();
        let fingerprint = fingerprint(&dir);
        let packs = load_packs(&dir, &engine).without_reserved(&reserved);
        log_problems(&packs);
        let shared = Arc::new(Shared {
            dir,
            engine,
            reserved,
            current: RwLock::new(Arc::new(packs)),
            fingerprint: Mutex::new(fingerprint),
            generation: AtomicU64::new(0),
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let watched = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("kpi-pack-watcher".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    watched.reload_if_changed();
                }
            })
            .map_err(|err| tracing::error!("cannot start the KPI pack watcher: {err}"))
            .ok();
        Self {
            shared,
            stop: Some(stop),
            thread,
        }
    }

    /// The packs as last loaded.
    pub fn current(&self) -> Arc<PackSet> {
        Arc::clone(
            &self
                .shared
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// How many times the packs were reloaded since start: compare to notice a reload.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::SeqCst)
    }

    /// Look for changes now instead of waiting for the next poll; true when it reloaded.
    pub fn check_now(&self) -> bool {
        self.shared.reload_if_changed()
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }
}

impl Drop for PackWatcher {
    fn drop(&mut self) {
        // Closing the channel wakes the thread at once.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn reload_if_changed(&self) -> bool {
        // Held through the reload, so a poll and a `check_now` never load twice.
        let mut last = self
            .fingerprint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = fingerprint(&self.dir);
        if now == *last {
            return false;
        }
        let packs = load_packs(&self.dir, &self.engine).without_reserved(&self.reserved);
        tracing::info!(
            dir = %self.dir.display(),
            kpis = packs.kpis().count(),
            problems = packs.problems.len(),
            "KPI packs reloaded"
        );
        log_problems(&packs);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(packs);
        *last = now;
        self.generation.fetch_add(1, Ordering::SeqCst);
        true
    }
}

fn log_problems(packs: &PackSet) {
    for problem in &packs.problems {
        tracing::warn!(pack = %problem.pack, "KPI pack problem: {problem}");
    }
}

/// A hash of the names and contents of the files under `dir` (hidden ones excepted).
fn fingerprint(dir: &Path) -> [u8; 32] {
    let mut files = Vec::new();
    collect_files(dir, 0, &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update([0]);
        match fs::read(&file) {
            Ok(content) => {
                hasher.update((content.len() as u64).to_le_bytes());
                hasher.update(&content);
            }
            // Unreadable now (being written?): differ from any readable state.
            Err(_) => hasher.update(u64::MAX.to_le_bytes()),
        }
    }
    hasher.finalize().into()
}

fn collect_files(dir: &Path, depth: usize, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // `is_dir`/`is_file` follow symbolic links, as loading does; MAX_DEPTH stops loops.
        if path.is_dir() {
            if depth < MAX_DEPTH {
                collect_files(&path, depth + 1, files);
            }
        } else if path.is_file() {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn write(path: &Path, text: &str) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create folder");
        }
        fs::write(path, text).expect("write");
    }

    const PLUGIN: &str = "[pack]\nname = \"p\"\nversion = \"1\"\n\n[[kpi]]\nkey = \"k\"\nname = \"K\"\nunit = \"count\"\ndirection = \"higher_is_better\"\nkind = \"leading\"\ncategory = \"Lead volume & quality\"\nscript = \"k.rhai\"\n";

    fn value_of_k(watcher: &PackWatcher) -> Option<f64> {
        let packs = watcher.current();
        let kpi = packs.kpi("k")?;
        let ctx = crate::ScriptContext {
            period_key: "2026".into(),
            period_days: 365,
            segment: None,
            ..Default::default()
        };
        watcher
            .shared
            .engine
            .run(&kpi.script, &ctx, &crate::testing::FakeData::default())
            .value
    }

    #[test]
    fn a_changed_script_is_reloaded_by_the_polling_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(&dir.path().join("p/plugin.toml"), PLUGIN);
        write(&dir.path().join("p/k.rhai"), "1");
        let watcher = PackWatcher::start(
            dir.path(),
            Arc::new(ScriptEngine::default()),
            Duration::from_millis(20),
            BTreeSet::new(),
        );
        assert_eq!(value_of_k(&watcher), Some(1.0));

        write(&dir.path().join("p/k.rhai"), "2");
        let waited = Instant::now();
        while watcher.generation() == 0 && waited.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(watcher.generation(), 1);
        assert_eq!(value_of_k(&watcher), Some(2.0));
    }

    #[test]
    fn a_reload_reports_a_new_breakage_and_its_repair() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(&dir.path().join("p/plugin.toml"), PLUGIN);
        write(&dir.path().join("p/k.rhai"), "1");
        // Polls rarely: this test drives the checks itself.
        let watcher = PackWatcher::start(
            dir.path(),
            Arc::new(ScriptEngine::default()),
            Duration::from_secs(3600),
            BTreeSet::new(),
        );
        assert!(!watcher.check_now(), "nothing changed yet");

        write(&dir.path().join("p/k.rhai"), "1 +");
        assert!(watcher.check_now());
        assert!(watcher.current().kpi("k").is_none());
        assert_eq!(watcher.current().problems.len(), 1);

        write(&dir.path().join("p/k.rhai"), "3");
        write(
            &dir.path().join("q/plugin.toml"),
            &PLUGIN.replace("\"p\"", "\"q\"").replace("\"k\"", "\"k2\""),
        );
        write(&dir.path().join("q/k.rhai"), "4");
        assert!(watcher.check_now());
        let packs = watcher.current();
        assert!(packs.problems.is_empty(), "{:?}", packs.problems);
        assert_eq!(packs.keys().into_iter().collect::<Vec<_>>(), ["k", "k2"]);
        assert_eq!(value_of_k(&watcher), Some(3.0));
        assert_eq!(watcher.generation(), 2);
    }

    #[test]
    fn reserved_keys_stay_reserved_across_reloads() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(&dir.path().join("p/plugin.toml"), PLUGIN);
        write(&dir.path().join("p/k.rhai"), "1");
        let watcher = PackWatcher::start(
            dir.path(),
            Arc::new(ScriptEngine::default()),
            Duration::from_secs(3600),
            ["k".to_string()].into_iter().collect(),
        );
        assert!(watcher.current().kpi("k").is_none());
        write(&dir.path().join("p/k.rhai"), "2");
        assert!(watcher.check_now());
        assert!(watcher.current().kpi("k").is_none());
        assert_eq!(watcher.current().problems.len(), 1);
    }

    #[test]
    fn dropping_the_watcher_stops_its_thread_promptly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let watcher = PackWatcher::start(
            dir.path(),
            Arc::new(ScriptEngine::default()),
            Duration::from_secs(3600),
            BTreeSet::new(),
        );
        let started = Instant::now();
        drop(watcher);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
