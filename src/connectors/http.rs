//! The HTTP client every connector shares: authentication, bounded concurrency, a
//! client-side rate limit, per-token budgets (slowing down as they run low, waiting for the
//! refill when spent, GraphQL's `RATE_LIMITED` answers included), conditional requests
//! (`If-None-Match`), and retries with exponential back-off and full jitter on transport
//! errors, 5xx, 429 and unreadable bodies, honouring `Retry-After`: the pauses a rate limit
//! names are waited out (up to 15 minutes a request) without using up attempts. Every
//! request obeys the outbound rule (where it may connect, same-origin redirects, a size limit
//! on answers); an error answer shows only the source's own short reason, never its body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, AUTHORIZATION, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};

use super::budget::{self, Pick, TokenBudgets};
use super::endpoint;
use super::outbound::{self, BodyError, Outbound, OutboundError};
use super::reason::source_reason;
use crate::telemetry::metrics::{self, SharedString};

/// Waits for a token budget's refill per request before giving up (each can last until
/// the source's reset time, so this bounds a source that never refills).
const MAX_BUDGET_WAITS: u32 = 100;

/// The pause GitHub asks for after a secondary rate limit that names no `Retry-After`.
const SECONDARY_LIMIT_PAUSE: Duration = Duration::from_secs(60);

/// The longest pause a source may ask for.
const LONGEST_PAUSE: Duration = Duration::from_secs(3_600);

/// How long one request may wait out rate limits (429 or a secondary limit with the pause
/// named) before those pauses count as attempts: a source's minute-long storm is waited
/// out, a limit that never lifts still ends the request.
const RATE_LIMITED_FOR_AT_MOST: Duration = Duration::from_secs(15 * 60);

/// How a connector signs its requests.
#[derive(Clone)]
pub enum Auth {
    /// Jira: e-mail and API token.
    Basic { username: String, token: String },
    /// GitHub: bearer tokens, used in turn.
    Bearer { tokens: Vec<String> },
}

impl Auth {
    /// How many tokens take turns (each with a budget of its own).
    fn token_count(&self) -> usize {
        match self {
            Auth::Bearer { tokens } => tokens.len(),
            Auth::Basic { .. } => 1,
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { username, .. } => write!(f, "Basic({username}, token redacted)"),
            Auth::Bearer { tokens } => write!(f, "Bearer({} token(s) redacted)", tokens.len()),
        }
    }
}

/// Limits and retry behaviour of one client.
#[derive(Debug, Clone)]
pub struct ClientPolicy {
    /// The source's name in metrics (`jira`, `github`).
    pub provider: &'static str,
    /// The source's endpoint classes, the metrics' `endpoint` label.
    pub endpoint_classes: endpoint::EndpointClasses,
    /// The integration the client serves: metrics name its tokens `{integration}/{n}`, never
    /// by anything derived from the token.
    pub integration_id: i64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests per second (0: unlimited).
    pub requests_per_second: f64,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub timeout: Duration,
}

impl Default for ClientPolicy {
    fn default() -> Self {
        ClientPolicy {
            provider: "source",
            endpoint_classes: endpoint::unnamed,
            integration_id: 0,
            concurrency: 8,
            requests_per_second: 20.0,
            max_attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{method} {url} answered {status}{}", colon_before(.reason))]
    Status {
        method: Method,
        url: String,
        status: StatusCode,
        /// The source's own short reason (see [`source_reason`]), never a raw body.
        reason: Option<String>,
    },
    #[error("{method} {url} failed after {attempts} attempt(s): {last}")]
    Exhausted {
        method: Method,
        url: String,
        attempts: u32,
        last: String,
    },
    #[error("invalid request URL {0}")]
    Url(String),
    #[error("GraphQL query to {url} failed: {errors}")]
    Graphql { url: String, errors: String },
    #[error("the next-page link {link} is not on the integration's host {base}: not followed")]
    ForeignLink { link: String, base: String },
    #[error("{method} {url}: {refused}")]
    Refused {
        method: Method,
        url: String,
        refused: OutboundError,
    },
}

/// Request, retry and failure counts, shared by all clones of a client.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub failures: AtomicU64,
    /// Answers `304 Not Modified` (they cost no budget).
    pub not_modified: AtomicU64,
    /// Times every token's budget was spent and the client waited for a refill.
    pub budget_waits: AtomicU64,
    /// Points GraphQL answers said their queries cost.
    pub points: AtomicU64,
}

/// A snapshot of [`ClientStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestCounts {
    pub requests: u64,
    pub not_modified: u64,
    pub retries: u64,
    pub failures: u64,
    pub budget_waits: u64,
    pub points: u64,
}

impl ClientStats {
    pub fn snapshot(&self) -> RequestCounts {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RequestCounts {
            requests: read(&self.requests),
            not_modified: read(&self.not_modified),
            retries: read(&self.retries),
            failures: read(&self.failures),
            budget_waits: read(&self.budget_waits),
            points: read(&self.points),
        }
    }
}

/// A successful answer: the parsed body and the headers.
#[derive(Debug)]
pub struct Fetched {
    pub body: Value,
    pub headers: HeaderMap,
}

impl Fetched {
    /// The answer's `ETag`, to send back as `If-None-Match`.
    pub fn etag(&self) -> Option<&str> {
        self.headers.get(ETAG)?.to_str().ok()
    }
}

/// The answer to a conditional request.
#[derive(Debug)]
pub enum Conditional {
    Changed(Fetched),
    /// `304`: the same as the answer the presented `ETag` came with.
    NotModified,
}

#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    outbound: Outbound,
    auth: Auth,
    policy: ClientPolicy,
    in_flight: Arc<Semaphore>,
    next_slot: Arc<Mutex<Instant>>,
    budgets: Arc<TokenBudgets>,
    /// Each token's name in metrics: `{integration}/{position}`.
    token_labels: Arc<[SharedString]>,
    pub stats: Arc<ClientStats>,
}

/// How long to pause before asking again.
enum Pause {
    /// Exponential back-off with jitter (counts as an attempt).
    Backoff,
    /// What the source asked for (counts as an attempt).
    Told(Duration),
    /// What the source's rate limit asked for: does not count as an attempt while the
    /// request's limited time stays under [`RATE_LIMITED_FOR_AT_MOST`].
    Limited(Duration),
    /// Until a token's budget refills (does not count as an attempt).
    Budget,
}

/// What one attempt came to.
enum Attempt {
    Done(Conditional),
    Retry {
        reason: String,
        /// The reason's class, a metrics label: transport, server_error, rate_limited,
        /// secondary_limit, budget, unreadable.
        class: &'static str,
        pause: Pause,
    },
    Fail(ConnectorError),
}

fn epoch_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

impl HttpClient {
    /// A client signing with `auth`, held to `policy`, connecting only where `outbound`
    /// permits.
    pub fn new(
        auth: Auth,
        policy: ClientPolicy,
        outbound: &Outbound,
    ) -> Result<Self, ConnectorError> {
        let client = outbound
            .client_builder(policy.timeout)
            .build()
            .map_err(|error| ConnectorError::Url(error.to_string()))?;
        Ok(HttpClient {
            client,
            outbound: outbound.clone(),
            budgets: Arc::new(TokenBudgets::new(auth.token_count())),
            token_labels: (1..=auth.token_count())
                .map(|n| SharedString::from(format!("{}/{n}", policy.integration_id)))
                .collect(),
            auth,
            in_flight: Arc::new(Semaphore::new(policy.concurrency.max(1))),
            next_slot: Arc::new(Mutex::new(Instant::now())),
            policy,
            stats: Arc::new(ClientStats::default()),
        })
    }

    /// The same client (connections, limits, counters) with budgets of its own: GitHub
    /// counts GraphQL points apart from REST requests.
    pub fn with_own_budgets(&self) -> HttpClient {
        HttpClient {
            budgets: Arc::new(TokenBudgets::new(self.auth.token_count())),
            ..self.clone()
        }
    }

    /// Waits for this request's slot under the rate limit (and after any delay the source
    /// asked for).
    async fn pace(&self) {
        let rate = self.policy.requests_per_second;
        let interval = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
        let wait = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            if let Some(interval) = interval {
                *next = slot + interval;
            }
            slot - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The token to sign the next request with, after any pause its budget asks for
    /// (waiting for a refill while every token is spent).
    async fn budgeted_token(&self, cost: u64) -> usize {
        loop {
            match self.budgets.pick(epoch_seconds(), cost) {
                Pick::Use { index, pace } => {
                    if !pace.is_zero() {
                        tracing::debug!(
                            pace_ms = pace.as_millis() as u64,
                            "request budget low: slowing down"
                        );
                        tokio::time::sleep(pace).await;
                    }
                    return index;
                }
                Pick::Wait(wait) => {
                    self.stats.budget_waits.fetch_add(1, Ordering::Relaxed);
                    metrics::rate_limit_wait(self.policy.provider, "budget", wait);
                    tracing::info!(
                        wait_secs = wait.as_secs(),
                        "request budget spent: waiting for the refill"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn authorise(&self, request: reqwest::RequestBuilder, token: usize) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::Basic { username, token } => request.basic_auth(username, Some(token)),
            Auth::Bearer { tokens } => match tokens.get(token) {
                Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
                None => request,
            },
        }
    }

    /// Back-off before attempt `attempt + 1`: exponential with full jitter, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .policy
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.policy.max_delay);
        ceiling.mul_f64(fastrand::f64())
    }

    pub async fn get(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<Fetched, ConnectorError> {
        self.send(Request::plain(Method::GET, url, query))
            .await
            .and_then(|answer| fresh(answer, url))
    }

    /// A GET that presents `etag` as `If-None-Match` when there is one.
    pub async fn get_if_changed(
        &self,
        url: &str,
        query: &[(&str, String)],
        etag: Option<&str>,
    ) -> Result<Conditional, ConnectorError> {
        let request = Request {
            method: Method::GET,
            url,
            query,
            body: None,
            etag,
            cost: 1,
        };
        self.send(request).await
    }

    /// A DELETE (a `204 No Content` answer's body is null).
    pub async fn delete(&self, url: &str) -> Result<Fetched, ConnectorError> {
        self.send(Request::plain(Method::DELETE, url, &[]))
            .await
            .and_then(|answer| fresh(answer, url))
    }

    pub async fn post(&self, url: &str, body: &Value) -> Result<Fetched, ConnectorError> {
        self.post_costing(url, body, 1).await
    }

    /// A POST with query parameters (an API version, a page size).
    pub async fn post_with_query(
        &self,
        url: &str,
        query: &[(&str, String)],
        body: &Value,
    ) -> Result<Fetched, ConnectorError> {
        let request = Request {
            method: Method::POST,
            url,
            query,
            body: Some(body),
            etag: None,
            cost: 1,
        };
        self.send(request)
            .await
            .and_then(|answer| fresh(answer, url))
    }

    /// A POST expected to cost `cost` of the token's budget (a GraphQL query's points).
    pub async fn post_costing(
        &self,
        url: &str,
        body: &Value,
        cost: u64,
    ) -> Result<Fetched, ConnectorError> {
        let request = Request {
            method: Method::POST,
            url,
            query: &[],
            body: Some(body),
            etag: None,
            cost,
        };
        self.send(request)
            .await
            .and_then(|answer| fresh(answer, url))
    }

    async fn send(&self, request: Request<'_>) -> Result<Conditional, ConnectorError> {
        let (method, url) = (&request.method, request.url);
        let mut last = String::new();
        let mut attempt = 0;
        let mut budget_waits = 0;
        let mut limited_for = Duration::ZERO;
        while attempt < self.policy.max_attempts.max(1) {
            let outcome = self.attempt(&request).await;
            let pause = match outcome {
                Attempt::Done(answer) => return Ok(answer),
                Attempt::Fail(error) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    return Err(error);
                }
                Attempt::Retry {
                    reason,
                    class,
                    pause,
                } => {
                    last = reason;
                    metrics::source_retry(self.policy.provider, class);
                    if let Pause::Told(wait) | Pause::Limited(wait) = pause {
                        metrics::rate_limit_wait(self.policy.provider, class, wait);
                    }
                    pause
                }
            };
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let wait = match pause {
                Pause::Budget if budget_waits < MAX_BUDGET_WAITS => {
                    // The next attempt's token pick waits for the refill.
                    tracing::debug!(%method, url, reason = %last, "budget spent: asking again after the refill");
                    budget_waits += 1;
                    continue;
                }
                // Jitter on top, so that requests told the same pause do not all come
                // back at the same instant.
                Pause::Limited(wait) if limited_for < RATE_LIMITED_FOR_AT_MOST => {
                    let wait = wait.min(LONGEST_PAUSE) + self.backoff(0);
                    limited_for += wait;
                    tracing::debug!(%method, url, reason = %last, wait_ms = wait.as_millis() as u64, "rate limited: waiting as told");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Pause::Budget | Pause::Backoff => self.backoff(attempt),
                Pause::Told(wait) | Pause::Limited(wait) => {
                    wait.min(LONGEST_PAUSE) + self.backoff(attempt)
                }
            };
            attempt += 1;
            tracing::debug!(%method, url, attempt, reason = %last, wait_ms = wait.as_millis() as u64, "retrying");
            if attempt < self.policy.max_attempts {
                tokio::time::sleep(wait).await;
            }
        }
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        Err(ConnectorError::Exhausted {
            method: method.clone(),
            url: url.to_owned(),
            attempts: self.policy.max_attempts.max(1),
            last,
        })
    }

    /// Publishes what the source says is left of `token`'s budget, when it says so.
    fn report_budget(&self, token: usize, headers: &HeaderMap) {
        let remaining = budget::header_number(headers, "x-ratelimit-remaining");
        let (Some(remaining), Some(label)) = (remaining, self.token_labels.get(token)) else {
            return;
        };
        let resource = headers
            .get("x-ratelimit-resource")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("core");
        metrics::budget_remaining(
            self.policy.provider,
            resource.to_owned(),
            label.clone(),
            remaining,
        );
    }

    async fn attempt(&self, call: &Request<'_>) -> Attempt {
        let (method, url) = (&call.method, call.url);
        let refused = |refused| {
            Attempt::Fail(ConnectorError::Refused {
                method: method.clone(),
                url: url.to_owned(),
                refused,
            })
        };
        if let Err(error) = self.outbound.check_url(url) {
            return refused(error);
        }
        let Ok(_permit) = self.in_flight.acquire().await else {
            return Attempt::Fail(ConnectorError::Url("client closed".into()));
        };
        let token = self.budgeted_token(call.cost).await;
        self.pace().await;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self.authorise(
            self.client.request(method.clone(), url).query(call.query),
            token,
        );
        if let Some(body) = call.body {
            request = request.json(body);
        }
        if let Some(etag) = call.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let (provider, endpoint) = (
            self.policy.provider,
            endpoint::class(url, self.policy.endpoint_classes),
        );
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_builder() => {
                return Attempt::Fail(ConnectorError::Url(format!("{url}: {error}")))
            }
            Err(error) => {
                if let Some(refusal) = outbound::refusal(&error) {
                    metrics::source_request(provider, endpoint, SharedString::const_str("refused"));
                    return refused(refusal.clone());
                }
                metrics::source_request(provider, endpoint, SharedString::const_str("error"));
                return Attempt::Retry {
                    reason: format!("transport: {error}"),
                    class: "transport",
                    pause: Pause::Backoff,
                };
            }
        };
        let status = response.status();
        metrics::source_request(provider, endpoint, status.as_u16().to_string().into());
        let headers = response.headers().clone();
        let budget_spent = self.budgets.observe(token, &headers, epoch_seconds());
        self.report_budget(token, &headers);
        if let Some(delay) = budget::delay_asked(&headers) {
            // The source held this request back to slow the client down: the next one
            // waits as long.
            let mut next = self.next_slot.lock().await;
            *next = (*next).max(Instant::now() + delay);
        }
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let told_or_backoff = || retry_after.map_or(Pause::Backoff, Pause::Told);
        if status == StatusCode::NOT_MODIFIED {
            self.stats.not_modified.fetch_add(1, Ordering::Relaxed);
            return Attempt::Done(Conditional::NotModified);
        }
        let bytes = match self.outbound.read_body(response).await {
            Ok(bytes) => bytes,
            Err(BodyError::Refused(error)) => return refused(error),
            Err(BodyError::Transport(error)) => {
                return Attempt::Retry {
                    reason: format!("reading body: {error}"),
                    class: "transport",
                    pause: told_or_backoff(),
                }
            }
        };
        let limited = status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::FORBIDDEN;
        if limited && budget_spent {
            return Attempt::Retry {
                reason: "request budget spent".into(),
                class: "budget",
                pause: Pause::Budget,
            };
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Attempt::Retry {
                reason: format!("status {status}"),
                class: "rate_limited",
                pause: retry_after.map_or(Pause::Backoff, Pause::Limited),
            };
        }
        if status.is_server_error() {
            return Attempt::Retry {
                reason: format!("status {status}"),
                class: "server_error",
                pause: told_or_backoff(),
            };
        }
        if status == StatusCode::FORBIDDEN {
            let secondary = String::from_utf8_lossy(&bytes).contains("secondary rate limit");
            if retry_after.is_some() || secondary {
                return Attempt::Retry {
                    reason: "secondary rate limit".into(),
                    class: "secondary_limit",
                    pause: Pause::Limited(retry_after.unwrap_or(SECONDARY_LIMIT_PAUSE)),
                };
            }
        }
        // Azure DevOps answers a personal access token it does not accept with its sign-in
        // page and 203: a refusal, not a page to retry or store.
        if status == StatusCode::NON_AUTHORITATIVE_INFORMATION {
            return Attempt::Fail(ConnectorError::Status {
                method: method.clone(),
                url: url.to_owned(),
                status,
                reason: Some("a sign-in page: the token was not accepted (expired, revoked or without access)".into()),
            });
        }
        if status == StatusCode::NO_CONTENT {
            return Attempt::Done(Conditional::Changed(Fetched {
                body: Value::Null,
                headers,
            }));
        }
        if !status.is_success() {
            return Attempt::Fail(ConnectorError::Status {
                method: method.clone(),
                url: url.to_owned(),
                status,
                reason: source_reason(&bytes),
            });
        }
        match serde_json::from_slice::<Value>(&bytes) {
            // GitHub's GraphQL answers a spent budget 200 with a `RATE_LIMITED` error.
            // Points may be left, just fewer than the query costs: the budget is spent all
            // the same until its reset.
            Ok(body) if graphql_rate_limited(&body) => Attempt::Retry {
                reason: "GraphQL rate limit".into(),
                class: "rate_limited",
                pause: if self.budgets.exhaust(token, epoch_seconds()) {
                    Pause::Budget
                } else {
                    Pause::Limited(retry_after.unwrap_or(SECONDARY_LIMIT_PAUSE))
                },
            },
            Ok(body) => Attempt::Done(Conditional::Changed(Fetched { body, headers })),
            // A cut-off or garbled body is a transport problem: ask again.
            Err(error) => Attempt::Retry {
                reason: format!("unreadable JSON ({} bytes): {error}", bytes.len()),
                class: "unreadable",
                pause: Pause::Backoff,
            },
        }
    }
}

/// One request as [`HttpClient::send`] makes it.
struct Request<'a> {
    method: Method,
    url: &'a str,
    query: &'a [(&'a str, String)],
    body: Option<&'a Value>,
    etag: Option<&'a str>,
    /// What it is expected to take from the token's budget.
    cost: u64,
}

impl<'a> Request<'a> {
    /// A request without a body or an ETag, costing one request of the budget.
    fn plain(method: Method, url: &'a str, query: &'a [(&'a str, String)]) -> Self {
        Request {
            method,
            url,
            query,
            body: None,
            etag: None,
            cost: 1,
        }
    }
}

/// Whether a GraphQL answer says the token's budget is spent (`RATE_LIMITED`, lately also
/// `RATE_LIMIT`).
fn graphql_rate_limited(body: &Value) -> bool {
    body["errors"].as_array().is_some_and(|errors| {
        errors
            .iter()
            .any(|e| matches!(e["type"].as_str(), Some("RATE_LIMITED" | "RATE_LIMIT")))
    })
}

/// `": reason"`, or nothing without one.
fn colon_before(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .map(|reason| format!(": {reason}"))
        .unwrap_or_default()
}

/// The body of an unconditional request (a `304` to one is the source's mistake).
fn fresh(answer: Conditional, url: &str) -> Result<Fetched, ConnectorError> {
    match answer {
        Conditional::Changed(fetched) => Ok(fetched),
        Conditional::NotModified => Err(ConnectorError::Status {
            method: Method::GET,
            url: url.to_owned(),
            status: StatusCode::NOT_MODIFIED,
            reason: Some("not modified, though nothing was presented to compare with".into()),
        }),
    }
}
