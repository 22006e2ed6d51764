//! The HTTP client every connector shares: authentication, bounded concurrency, a
//! client-side rate limit, and retries with exponential back-off and full jitter on
//! transport errors, 5xx, 429 and unreadable bodies, honouring `Retry-After`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};

/// How a connector signs its requests.
#[derive(Clone)]
pub enum Auth {
    /// Jira: e-mail and API token.
    Basic { username: String, token: String },
    /// GitHub: bearer tokens, used in turn.
    Bearer { tokens: Vec<String> },
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
    #[error("{method} {url} answered {status}: {body}")]
    Status {
        method: Method,
        url: String,
        status: StatusCode,
        body: String,
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
}

/// Request, retry and failure counts, shared by all clones of a client.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub failures: AtomicU64,
}

/// A successful answer: the parsed body and the headers.
#[derive(Debug)]
pub struct Fetched {
    pub body: Value,
    pub headers: HeaderMap,
}

#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    auth: Auth,
    policy: ClientPolicy,
    in_flight: Arc<Semaphore>,
    next_slot: Arc<Mutex<Instant>>,
    token_turn: Arc<AtomicU64>,
    pub stats: Arc<ClientStats>,
}

/// When a 403 says the hourly budget is spent (`x-ratelimit-remaining: 0`), how long until
/// `x-ratelimit-reset` (epoch seconds).
fn budget_reset_wait(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<i64>().ok();
    if number("x-ratelimit-remaining")? != 0 {
        return None;
    }
    let reset = number("x-ratelimit-reset")?;
    let now = chrono::Utc::now().timestamp();
    Some(Duration::from_secs((reset - now).clamp(1, 3_600) as u64))
}

/// What one attempt came to.
enum Attempt {
    Done(Fetched),
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
    Fail(ConnectorError),
}

impl HttpClient {
    pub fn new(auth: Auth, policy: ClientPolicy) -> Result<Self, ConnectorError> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .user_agent(concat!("pulse-etl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ConnectorError::Url(error.to_string()))?;
        Ok(HttpClient {
            client,
            auth,
            in_flight: Arc::new(Semaphore::new(policy.concurrency.max(1))),
            next_slot: Arc::new(Mutex::new(Instant::now())),
            token_turn: Arc::new(AtomicU64::new(0)),
            policy,
            stats: Arc::new(ClientStats::default()),
        })
    }

    /// Waits for this request's slot under the rate limit.
    async fn pace(&self) {
        if self.policy.requests_per_second <= 0.0 {
            return;
        }
        let interval = Duration::from_secs_f64(1.0 / self.policy.requests_per_second);
        let wait = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + interval;
            slot - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn authorise(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::Basic { username, token } => request.basic_auth(username, Some(token)),
            Auth::Bearer { tokens } if !tokens.is_empty() => {
                let turn = self.token_turn.fetch_add(1, Ordering::Relaxed) as usize;
                request.header(
                    AUTHORIZATION,
                    format!("Bearer {}", tokens[turn % tokens.len()]),
                )
            }
            Auth::Bearer { .. } => request,
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
        self.send(Method::GET, url, query, None).await
    }

    pub async fn post(&self, url: &str, body: &Value) -> Result<Fetched, ConnectorError> {
        self.send(Method::POST, url, &[], Some(body)).await
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Fetched, ConnectorError> {
        let mut last = String::new();
        for attempt in 0..self.policy.max_attempts.max(1) {
            if attempt > 0 {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
            }
            let outcome = self.attempt(&method, url, query, body).await;
            match outcome {
                Attempt::Done(fetched) => return Ok(fetched),
                Attempt::Fail(error) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    return Err(error);
                }
                Attempt::Retry { reason, wait } => {
                    let wait = wait
                        .unwrap_or_else(|| self.backoff(attempt))
                        .min(self.policy.max_delay);
                    tracing::debug!(%method, url, attempt = attempt + 1, %reason, wait_ms = wait.as_millis() as u64, "retrying");
                    last = reason;
                    if attempt + 1 < self.policy.max_attempts {
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        Err(ConnectorError::Exhausted {
            method,
            url: url.to_owned(),
            attempts: self.policy.max_attempts.max(1),
            last,
        })
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Attempt {
        let Ok(_permit) = self.in_flight.acquire().await else {
            return Attempt::Fail(ConnectorError::Url("client closed".into()));
        };
        self.pace().await;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self.authorise(self.client.request(method.clone(), url).query(query));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_builder() => {
                return Attempt::Fail(ConnectorError::Url(format!("{url}: {error}")))
            }
            Err(error) => {
                return Attempt::Retry {
                    reason: format!("transport: {error}"),
                    wait: None,
                }
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => {
                return Attempt::Retry {
                    reason: format!("reading body: {error}"),
                    wait: retry_after,
                }
            }
        };
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Attempt::Retry {
                reason: format!("status {status}"),
                wait: retry_after,
            };
        }
        if status == StatusCode::FORBIDDEN {
            if let Some(wait) = retry_after.or_else(|| budget_reset_wait(&headers)) {
                return Attempt::Retry {
                    reason: "rate limit exhausted".into(),
                    wait: Some(wait),
                };
            }
        }
        if !status.is_success() {
            let body = String::from_utf8_lossy(&bytes).chars().take(300).collect();
            return Attempt::Fail(ConnectorError::Status {
                method: method.clone(),
                url: url.to_owned(),
                status,
                body,
            });
        }
        match serde_json::from_slice(&bytes) {
            Ok(body) => Attempt::Done(Fetched { body, headers }),
            // A cut-off or garbled body is a transport problem: ask again.
            Err(error) => Attempt::Retry {
                reason: format!("unreadable JSON ({} bytes): {error}", bytes.len()),
                wait: None,
            },
        }
    }
}
