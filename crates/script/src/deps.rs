use std::collections::BTreeSet;

use rhai::{AST, ASTNode, Expr, Stmt};
use serde::Serialize;

/// The literal arguments of the data calls a script makes, so the caller can prefetch them in
/// one batch. Keys computed at run time (`metric("x" + n)`) cannot be known here; the caller
/// fetches those on demand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dependencies {
    /// Keys passed to `metric(..)`.
    pub metrics: BTreeSet<String>,
    /// Keys passed to `previous(..)`.
    pub previous: BTreeSet<String>,
    /// Kinds passed to `count_events(..)` or `sum_events(..)`.
    pub event_kinds: BTreeSet<String>,
}

impl Dependencies {
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty() && self.previous.is_empty() && self.event_kinds.is_empty()
    }
}

pub(crate) fn collect(ast: &AST) -> Dependencies {
    let mut deps = Dependencies::default();
    ast.walk(&mut |path: &[ASTNode]| {
        // A call used as a statement (`metric("x")` as a function's last line) is a `Stmt`.
        let call = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, _)) | ASTNode::Stmt(Stmt::FnCall(call, _))) => {
                call
            }
            _ => return true,
        };
        if let [Expr::StringConstant(arg, _)] = call.args.as_slice() {
            let arg = arg.to_string();
            match call.name.as_str() {
                "metric" => {
                    deps.metrics.insert(arg);
                }
                "previous" => {
                    deps.previous.insert(arg);
                }
                "count_events" | "sum_events" => {
                    deps.event_kinds.insert(arg);
                }
                _ => {}
            }
        }
        true
    });
    deps
}
