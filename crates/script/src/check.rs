use std::path::Path;

use crate::engine::ScriptEngine;
use crate::error::ScriptError;

/// Compile a script file, for `lodestar kpi check FILE.rhai`. An error's position is in the
/// file; print it with [`ScriptError::located`] as `file:line:column: message`.
pub fn check_file(engine: &ScriptEngine, path: &Path) -> Result<(), ScriptError> {
    let source = std::fs::read_to_string(path)
        .map_err(|err| ScriptError::new(format!("cannot read {}: {err}", path.display())))?;
    engine.compile(&source).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file_checks_and_a_bad_one_says_where() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.rhai");
        std::fs::write(&good, "ratio(metric(\"sqls\"), metric(\"leads\")) * 100\n").expect("write");
        assert_eq!(check_file(&ScriptEngine::default(), &good), Ok(()));

        let bad = dir.path().join("bad.rhai");
        std::fs::write(&bad, "let a = metric(\"leads\");\nlet b = (a;\n").expect("write");
        let error = check_file(&ScriptEngine::default(), &bad).expect_err("does not compile");
        assert_eq!(error.line, Some(2));
        assert!(
            error
                .located(&bad)
                .starts_with(&format!("{}:2:", bad.display())),
            "{}",
            error.located(&bad)
        );
    }

    #[test]
    fn a_missing_file_is_an_error_without_position() {
        let error = check_file(&ScriptEngine::default(), Path::new("/nonexistent/x.rhai"))
            .expect_err("missing");
        assert_eq!(error.line, None);
        assert!(error.message.starts_with("cannot read /nonexistent/x.rhai"));
    }
}
