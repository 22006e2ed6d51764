//! The built-in source simulator: Jira Cloud REST v3 on localhost, deterministic from a
//! seed, generated lazily so large sites stay small in memory. Started by
//! `pulse-etl simulate` and, in-process on a random port, by tests and demos.
//!
//! Served now: the Jira endpoints of DESIGN §8 with Basic auth, and `/_sim/stats`.
//! Not yet: the GitHub API, rate-limit and fault knobs, `/_sim/mutate` and `/_sim/delete`.

pub mod jira;
mod rng;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use jira::issues::Population;
use jira::routes::{jira_error, JiraState};
use jira::site::JiraSite;
use stats::Stats;

/// What to generate and whom to let in.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub seed: u64,
    pub jira_projects: usize,
    pub jira_issues: u32,
    /// Jira Basic auth: account e-mail and API token.
    pub jira_user: String,
    pub jira_token: String,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed: 1,
            jira_projects: 3,
            jira_issues: 2_000,
            jira_user: "sim@example.com".into(),
            jira_token: "sim-token".into(),
        }
    }
}

struct Shared {
    jira: Arc<JiraState>,
    stats: Stats,
    jira_basic: String,
}

/// A simulator serving on a local port until stopped.
pub struct RunningSimulator {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningSimulator {
    /// Binds `addr` (port 0 picks a free port), generates the site and starts serving.
    pub async fn start(config: SimulatorConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let population = Population {
            seed: config.seed,
            issues: config.jira_issues,
            projects: config.jira_projects.max(1),
        };
        let site = tokio::task::spawn_blocking(move || JiraSite::new(population))
            .await
            .map_err(std::io::Error::other)?;
        let jira = Arc::new(JiraState { site, base_url });
        let jira_basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", config.jira_user, config.jira_token));
        let shared = Arc::new(Shared {
            jira: jira.clone(),
            stats: Stats::default(),
            jira_basic,
        });
        let api = jira::routes::router(jira)
            .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
            .layer(middleware::from_fn_with_state(shared.clone(), count));
        let control = Router::new()
            .route("/_sim/stats", get(stats_handler))
            .with_state(shared);
        let app = api.merge(control);
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(RunningSimulator {
            addr,
            shutdown: Some(shutdown),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`: the base URL for a Jira integration.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests and waits for in-flight ones.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        (&mut self.task).await.map_err(std::io::Error::other)?
    }

    /// Serves until the task ends (for `pulse-etl simulate`, which stops on Ctrl-C).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        (&mut self.task).await.map_err(std::io::Error::other)?
    }
}

/// Jira Basic auth on every `/rest/` request; 401 with Jira's error shape otherwise.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .map(str::trim);
    if presented == Some(shared.jira_basic.as_str()) {
        return next.run(request).await;
    }
    let mut response = jira_error(
        StatusCode::UNAUTHORIZED,
        "You are not authenticated. Authentication required to perform this operation.",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"protected-area\""),
    );
    response
}

/// Counts every API request by route and every response by status.
async fn count(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let route = format!("{} {route}", request.method());
    let response = next.run(request).await;
    shared.stats.record(&route, response.status().as_u16());
    response
}

async fn stats_handler(State(shared): State<Arc<Shared>>) -> Response {
    let jira = shared.jira.clone();
    let truth = tokio::task::spawn_blocking(move || jira.site.truth()).await;
    let Ok(jira) = truth else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let (requests, responses) = shared.stats.snapshot();
    Json(json!({
        "requests": requests,
        "responses": responses,
        "truth": {
            "issues": jira.issues,
            "histories": jira.histories,
            "status_transitions": jira.status_transitions,
        },
    }))
    .into_response()
}
