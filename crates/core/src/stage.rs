//! The stage distribution: at the end of a period every lead created before it is in exactly one
//! stage, the first of this list that holds.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Churned,
    Customer,
    Lost,
    Opportunity,
    Sql,
    Sal,
    Mql,
    Lead,
}

impl Stage {
    /// In precedence order: the first that holds wins.
    pub const ALL: [Stage; 8] = [
        Stage::Churned,
        Stage::Customer,
        Stage::Lost,
        Stage::Opportunity,
        Stage::Sql,
        Stage::Sal,
        Stage::Mql,
        Stage::Lead,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Stage::Churned => "churned",
            Stage::Customer => "customer",
            Stage::Lost => "lost",
            Stage::Opportunity => "opportunity",
            Stage::Sql => "sql",
            Stage::Sal => "sal",
            Stage::Mql => "mql",
            Stage::Lead => "lead",
        }
    }

    /// Funnel order, from first touch to customer (for charts).
    pub const FUNNEL: [Stage; 6] = [
        Stage::Lead,
        Stage::Mql,
        Stage::Sal,
        Stage::Sql,
        Stage::Opportunity,
        Stage::Customer,
    ];
}
