use std::sync::{Mutex, MutexGuard, PoisonError};

/// The chain of custom KPIs being evaluated, to turn `a` reading `b` reading `a` into the error
/// `cycle: a -> b -> a` instead of a deep chain of runs.
///
/// A [`crate::ScriptData`] that evaluates custom KPIs holds one and wraps each evaluation in
/// [`EvalStack::enter`]:
///
/// ```
/// # use lodestar_script::EvalStack;
/// let stack = EvalStack::new();
/// let a = stack.enter("a").expect("a is not being evaluated yet");
/// let b = stack.enter("b").expect("b is not being evaluated yet");
/// assert_eq!(stack.enter("a").err().as_deref(), Some("cycle: a -> b -> a"));
/// drop(b);
/// drop(a);
/// assert!(stack.enter("a").is_ok());
/// ```
///
/// Nested runs happen on the thread of the outer run, so one stack per evaluation (per request
/// and thread) is right; two threads evaluating at once each need their own.
#[derive(Debug, Default)]
pub struct EvalStack {
    keys: Mutex<Vec<String>>,
}

/// Leaves the KPI entered by [`EvalStack::enter`] when dropped.
#[derive(Debug)]
#[must_use = "the KPI is left as soon as the guard is dropped"]
pub struct EvalGuard<'a> {
    stack: &'a EvalStack,
}

impl EvalStack {
    pub fn new() -> Self {
        Self::default()
    }

    /// Mark `key` as being evaluated, or say which cycle evaluating it would close.
    pub fn enter(&self, key: &str) -> Result<EvalGuard<'_>, String> {
        let mut keys = self.lock();
        if let Some(start) = keys.iter().position(|entered| entered == key) {
            let mut chain: Vec<&str> = keys[start..].iter().map(String::as_str).collect();
            chain.push(key);
            return Err(format!("cycle: {}", chain.join(" -> ")));
        }
        keys.push(key.to_string());
        Ok(EvalGuard { stack: self })
    }

    /// The KPIs being evaluated, outermost first.
    pub fn keys(&self) -> Vec<String> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<String>> {
        // A panic mid-evaluation leaves at worst a stale key, which the guard's drop removes.
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for EvalGuard<'_> {
    fn drop(&mut self) {
        self.stack.lock().pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_names_only_the_keys_inside_it() {
        let stack = EvalStack::new();
        let _x = stack.enter("x").expect("x is new");
        let _a = stack.enter("a").expect("a is new");
        let _b = stack.enter("b").expect("b is new");
        assert_eq!(
            stack.enter("a").err().as_deref(),
            Some("cycle: a -> b -> a")
        );
    }

    #[test]
    fn a_kpi_read_twice_in_sequence_is_no_cycle() {
        let stack = EvalStack::new();
        drop(stack.enter("a").expect("a is new"));
        let _a = stack.enter("a").expect("a was left");
        assert_eq!(stack.keys(), vec!["a".to_string()]);
    }

    #[test]
    fn a_kpi_reading_itself_is_a_cycle() {
        let stack = EvalStack::new();
        let _a = stack.enter("a").expect("a is new");
        assert_eq!(stack.enter("a").err().as_deref(), Some("cycle: a -> a"));
    }
}
