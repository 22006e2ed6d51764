//! Request and response counters behind `/_sim/stats`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

#[derive(Default)]
pub struct Stats {
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    requests: BTreeMap<String, u64>,
    responses: BTreeMap<String, u64>,
    graphql_points: u64,
}

impl Stats {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn record(&self, route: &str, status: u16) {
        let mut counts = self.counts();
        *counts.requests.entry(route.to_owned()).or_default() += 1;
        *counts.responses.entry(status.to_string()).or_default() += 1;
    }

    /// Points charged for GraphQL queries.
    pub fn add_graphql_points(&self, points: u64) {
        let mut counts = self.counts();
        counts.graphql_points += points;
    }

    pub fn graphql_points(&self) -> u64 {
        self.counts().graphql_points
    }

    /// (requests by route, responses by status code).
    pub fn snapshot(&self) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
        let counts = self.counts();
        (counts.requests.clone(), counts.responses.clone())
    }
}

/// Counts every API request by method and route template, and every response by status.
pub async fn count(State(stats): State<Arc<Stats>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let route = format!("{} {route}", request.method());
    let response = next.run(request).await;
    stats.record(&route, response.status().as_u16());
    response
}
