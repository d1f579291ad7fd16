//! A fake data source for the tests of this crate.

use std::collections::HashMap;

use crate::data::ScriptData;

#[derive(Default)]
pub(crate) struct FakeData {
    pub metrics: HashMap<String, Option<f64>>,
    pub previous: HashMap<String, Option<f64>>,
    pub events: HashMap<String, (f64, f64)>,
}

impl FakeData {
    pub fn with_metrics(pairs: &[(&str, f64)]) -> Self {
        Self {
            metrics: pairs
                .iter()
                .map(|(key, value)| (key.to_string(), Some(*value)))
                .collect(),
            ..Self::default()
        }
    }
}

impl ScriptData for FakeData {
    fn metric(&self, key: &str) -> Result<Option<f64>, String> {
        self.metrics
            .get(key)
            .copied()
            .ok_or_else(|| format!("unknown KPI `{key}`"))
    }

    fn previous(&self, key: &str) -> Result<Option<f64>, String> {
        self.previous
            .get(key)
            .copied()
            .ok_or_else(|| format!("unknown KPI `{key}`"))
    }

    fn count_events(&self, kind: &str) -> Result<f64, String> {
        Ok(self.events.get(kind).map_or(0.0, |(count, _)| *count))
    }

    fn sum_events(&self, kind: &str) -> Result<f64, String> {
        Ok(self.events.get(kind).map_or(0.0, |(_, sum)| *sum))
    }
}
