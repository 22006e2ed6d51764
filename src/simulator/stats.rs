//! Request and response counters behind `/_sim/stats`.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Stats {
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    requests: BTreeMap<String, u64>,
    responses: BTreeMap<String, u64>,
}

impl Stats {
    pub fn record(&self, route: &str, status: u16) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *counts.requests.entry(route.to_owned()).or_default() += 1;
        *counts.responses.entry(status.to_string()).or_default() += 1;
    }

    /// (requests by route, responses by status code).
    pub fn snapshot(&self) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (counts.requests.clone(), counts.responses.clone())
    }
}
