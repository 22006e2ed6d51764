//! Source rate limits as the real APIs enforce them: Jira's per-second limit (429 with
//! `Retry-After`) and GitHub's hourly budget per token (403 with `x-ratelimit-remaining: 0`),
//! GitHub's secondary limit on concurrent requests (429 with `retry-after`), and the
//! `x-ratelimit-*` headers on every GitHub response. GitHub's GraphQL points are charged to a
//! budget of their own by the GraphQL endpoint.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::github::routes::github_error;
use super::jira::routes::jira_error;

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Jira: at most `per_second` requests in each wall-clock second (`None`: no such limit),
/// and every `throttle_every`-th request refused whatever the rate (0: never), so a test
/// meets 429s however slowly the machine runs.
pub struct JiraRate {
    per_second: Option<u32>,
    throttle_every: u64,
    window: Mutex<(i64, u32)>,
    answered: AtomicU64,
}

impl JiraRate {
    pub fn new(per_second: Option<u32>, throttle_every: u64) -> Self {
        JiraRate {
            per_second,
            throttle_every,
            window: Mutex::new((0, 0)),
            answered: AtomicU64::new(0),
        }
    }

    /// Whether the request arriving now is let through.
    fn admits(&self) -> bool {
        let number = self.answered.fetch_add(1, Ordering::Relaxed) + 1;
        if self.throttle_every > 0 && number % self.throttle_every == 0 {
            return false;
        }
        let Some(per_second) = self.per_second else {
            return true;
        };
        let second = now_ms() / 1_000;
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if window.0 != second {
            *window = (second, 0);
        }
        window.1 += 1;
        window.1 <= per_second
    }
}

pub async fn jira_rate(
    State(rate): State<Arc<JiraRate>>,
    request: Request,
    next: Next,
) -> Response {
    if rate.admits() {
        return next.run(request).await;
    }
    let mut response = jira_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded.");
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    if let Some(per_second) = rate.per_second {
        insert(headers, "x-ratelimit-limit", per_second);
    }
    insert(headers, "x-ratelimit-remaining", 0);
    response
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
        headers.insert(name, value);
    }
}

/// GitHub: `budget` requests per `window_ms` per token, and at most `max_concurrent`
/// requests in flight before the secondary limit answers.
pub struct GithubQuota {
    pub budget: u64,
    pub window_ms: i64,
    pub max_concurrent: usize,
    pub secondary_retry_after_secs: u64,
    windows: Mutex<HashMap<String, (i64, u64)>>,
    in_flight: AtomicUsize,
}

impl GithubQuota {
    pub fn new(
        budget: u64,
        window_ms: i64,
        max_concurrent: usize,
        secondary_retry_after_secs: u64,
    ) -> Self {
        GithubQuota {
            budget,
            window_ms,
            max_concurrent,
            secondary_retry_after_secs,
            windows: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Charges `cost` (one request, or a GraphQL query's points) to `budget`, a token's
    /// budget for one resource; returns (allowed, used, reset epoch seconds).
    pub fn charge(&self, budget: &str, cost: u64, now: i64) -> (bool, u64, i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows.entry(budget.to_owned()).or_insert((now, 0));
        if now >= window.0 + self.window_ms {
            *window = (now, 0);
        }
        let reset = (window.0 + self.window_ms) / 1_000;
        if window.1 + cost > self.budget {
            return (false, window.1, reset);
        }
        window.1 += cost;
        (true, window.1, reset)
    }

    /// A 304 costs nothing: give the charge back.
    fn refund(&self, token: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(window) = windows.get_mut(token) {
            window.1 = window.1.saturating_sub(1);
        }
    }

    fn used(&self, token: &str) -> u64 {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.get(token).map_or(0, |w| w.1)
    }
}

/// Decrements the in-flight count however the request ends.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The token a GitHub request presents (auth has already checked it).
pub fn github_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("token "))
        .map(str::trim)
}

/// The `x-ratelimit-*` headers GitHub puts on every answer.
pub fn rate_headers(headers: &mut HeaderMap, limit: u64, used: u64, reset: i64, resource: &str) {
    insert(headers, "x-ratelimit-limit", limit);
    insert(headers, "x-ratelimit-remaining", limit.saturating_sub(used));
    insert(headers, "x-ratelimit-used", used);
    insert(headers, "x-ratelimit-reset", reset);
    insert(headers, "x-ratelimit-resource", resource);
}

/// GitHub's secondary limit, for REST and GraphQL requests alike: too many in flight at once
/// answer 429 with `retry-after`.
pub async fn github_secondary_limit(
    State(quota): State<Arc<GithubQuota>>,
    request: Request,
    next: Next,
) -> Response {
    let _in_flight = InFlight(&quota.in_flight);
    let concurrent = quota.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    if concurrent > quota.max_concurrent {
        let mut response = github_error(
            StatusCode::TOO_MANY_REQUESTS,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        );
        insert(
            response.headers_mut(),
            "retry-after",
            quota.secondary_retry_after_secs,
        );
        return response;
    }
    next.run(request).await
}

/// GitHub's REST budget: one request each (a 304 is free), 403 once spent, and the
/// `x-ratelimit-*` headers of the `core` resource. (GraphQL charges its points itself.)
pub async fn github_rest_budget(
    State(quota): State<Arc<GithubQuota>>,
    request: Request,
    next: Next,
) -> Response {
    let token = github_token(request.headers())
        .unwrap_or_default()
        .to_owned();
    let (allowed, used, reset) = quota.charge(&token, 1, now_ms());
    let mut response = if allowed {
        next.run(request).await
    } else {
        github_error(
            StatusCode::FORBIDDEN,
            "API rate limit exceeded for this token.",
        )
    };
    if response.status() == StatusCode::NOT_MODIFIED {
        quota.refund(&token);
    }
    let used = if allowed { quota.used(&token) } else { used };
    rate_headers(response.headers_mut(), quota.budget, used, reset, "core");
    response
}

#[cfg(test)]
mod tests {
    use super::JiraRate;

    #[test]
    fn every_nth_jira_request_is_refused_whatever_the_rate() {
        let rate = JiraRate::new(None, 3);
        let admitted: Vec<bool> = (0..7).map(|_| rate.admits()).collect();
        assert_eq!(admitted, [true, true, false, true, true, false, true]);
        let unlimited = JiraRate::new(None, 0);
        assert!((0..100).all(|_| unlimited.admits()));
    }

    #[test]
    fn a_second_admits_at_most_its_rate() {
        let rate = JiraRate::new(Some(2), 0);
        let admitted = (0..50).filter(|_| rate.admits()).count();
        // The 50 calls span at most two wall-clock seconds.
        assert!((2..=4).contains(&admitted), "{admitted}");
    }
}
