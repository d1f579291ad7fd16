//! What a KPI script computes, in a form that can be compared with other scripts and with the
//! built-in formulas (the MECE check's duplicate rule).
//!
//! A script that is arithmetic over the KPI API (`metric`, `previous`, `count_events`,
//! `sum_events`, `ratio`, numbers, `let` bindings, then one final expression) becomes a
//! `lodestar_core::expr::Expr`, whose normal form ignores order, parentheses, spelling of
//! constants and intermediate variables. Anything else (branches, loops, functions) is compared
//! by its token stream: comments and layout do not count, everything else does.

use std::collections::HashMap;

use lodestar_core::expr::Expr;
use rhai::{Engine, Expr as RhaiExpr, FnCallExpr, OptimizationLevel, Stmt, Token};

/// What a script computes.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptShape {
    /// Arithmetic over the KPI API.
    Formula(Expr),
    /// Its tokens, without comments or layout, one per line.
    Tokens(String),
}

/// Parses without optimising (so constants are not folded away into something else) and with
/// the expression depth of the sandbox; `None` when the source does not parse.
fn parser() -> Engine {
    let mut engine = Engine::new_raw();
    engine.set_optimization_level(OptimizationLevel::None);
    engine.set_max_expr_depths(64, 32);
    engine
}

/// The shape of `source`, or `None` when it does not compile.
pub fn script_shape(source: &str) -> Option<ScriptShape> {
    let engine = parser();
    let ast = engine.compile(source).ok()?;
    if !ast.has_functions()
        && let Some(expr) = lower_statements(ast.statements())
    {
        return Some(ScriptShape::Formula(expr));
    }
    let (tokens, _) = engine.lex([&source]);
    let text: Vec<String> = tokens
        .map(|(token, _)| token)
        .take_while(|token| !matches!(token, Token::EOF))
        .filter(|token| !matches!(token, Token::Comment(_)))
        .map(|token| format!("{token:?}"))
        .collect();
    Some(ScriptShape::Tokens(text.join("\n")))
}

fn lower_statements(statements: &[Stmt]) -> Option<Expr> {
    let mut vars: HashMap<String, Expr> = HashMap::new();
    let (last, init) = statements.split_last()?;
    for stmt in init {
        match stmt {
            Stmt::Var(var, _, _) => {
                let (ident, value, _) = var.as_ref();
                let value = lower(value, &vars)?;
                vars.insert(ident.name.to_string(), value);
            }
            Stmt::Noop(_) => {}
            _ => return None,
        }
    }
    match last {
        Stmt::Expr(expr) => lower(expr, &vars),
        Stmt::FnCall(call, _) => lower_call(call, &vars),
        _ => None,
    }
}

fn lower(expr: &RhaiExpr, vars: &HashMap<String, Expr>) -> Option<Expr> {
    match expr {
        RhaiExpr::IntegerConstant(i, _) => Some(Expr::Num(*i as f64)),
        RhaiExpr::FloatConstant(f, _) => Some(Expr::Num(**f)),
        RhaiExpr::Variable(var, _, _) => vars.get(var.1.as_str()).cloned(),
        RhaiExpr::FnCall(call, _) => lower_call(call, vars),
        _ => None,
    }
}

fn lower_call(call: &FnCallExpr, vars: &HashMap<String, Expr>) -> Option<Expr> {
    let name = call.name.as_str();
    if let [RhaiExpr::StringConstant(arg, _)] = call.args.as_slice() {
        let arg = arg.to_string();
        match name {
            "metric" => return Some(Expr::Kpi(arg)),
            "previous" => return Some(Expr::Previous(arg)),
            "count_events" => {
                return Some(Expr::Events {
                    kind: arg,
                    sum: false,
                });
            }
            "sum_events" => {
                return Some(Expr::Events {
                    kind: arg,
                    sum: true,
                });
            }
            _ => {}
        }
    }
    let args: Vec<Expr> = call
        .args
        .iter()
        .map(|a| lower(a, vars))
        .collect::<Option<_>>()?;
    let mut it = args.into_iter();
    Some(match (name, it.next(), it.next(), it.next()) {
        ("+", Some(a), None, None) => a,
        ("-", Some(a), None, None) => -a,
        ("+", Some(a), Some(b), None) => a + b,
        ("-", Some(a), Some(b), None) => a - b,
        ("*", Some(a), Some(b), None) => a * b,
        ("/" | "ratio", Some(a), Some(b), None) => a / b,
        (_, a, b, c) => Expr::Call(
            name.to_owned(),
            a.into_iter().chain(b).chain(c).chain(it).collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lodestar_core::catalog::Builtin;
    use lodestar_core::expr::normal_form;
    use lodestar_core::formula::{expansion, signature};

    fn form(source: &str) -> String {
        match script_shape(source).expect("parses") {
            ScriptShape::Formula(e) => normal_form(&e, &expansion),
            ScriptShape::Tokens(t) => t,
        }
    }

    #[test]
    fn a_cpa_script_normalises_like_the_builtin_cac() {
        let cac = signature(Builtin::Cac);
        for source in [
            "metric(\"total_spend\") / metric(\"customers_won\")",
            "// cost per acquisition\nratio(metric(\"total_spend\"), metric(\"customers_won\"))",
            "let spend = metric(\"total_spend\");\nlet won = metric(\"customers_won\");\nspend / won",
            "metric(\"cac\")",
        ] {
            assert_eq!(form(source), cac, "{source}");
        }
        assert_ne!(form("metric(\"total_spend\") / metric(\"leads\")"), cac);
    }

    #[test]
    fn percent_scripts_compare_by_what_they_compute() {
        assert_eq!(
            form("ratio(metric(\"sqls\"), metric(\"mqls\")) * 100"),
            signature(Builtin::MqlToSqlRate)
        );
        assert_eq!(
            form("100.0 * metric(\"sqls\") / metric(\"mqls\")"),
            signature(Builtin::MqlToSqlRate)
        );
    }

    #[test]
    fn other_scripts_compare_by_tokens_without_comments_or_layout() {
        let a = "if metric(\"leads\") > 10 { 1 } else { 0 }";
        let b = "// big weeks\nif metric(\"leads\")  >  10 {\n  1\n} else {\n  0\n}";
        assert!(matches!(script_shape(a), Some(ScriptShape::Tokens(_))));
        assert_eq!(script_shape(a), script_shape(b));
        assert_ne!(
            script_shape(a),
            script_shape("if metric(\"leads\") > 11 { 1 } else { 0 }")
        );
        assert_eq!(script_shape("let x = ;"), None);
    }
}
