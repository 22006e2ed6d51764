//! The built-in source simulator: Jira Cloud REST v3, GitHub REST v3 and GraphQL, Azure
//! DevOps Boards (organization `/sim-org`) on localhost, deterministic from a seed and generated lazily, so large sites stay small in
//! memory.
//! Started by `pulse-etl simulate` and, in-process on a random port, by tests and demos.
//!
//! Knobs: Jira's per-second limit, GitHub's budget and secondary limit, seeded faults.
//! Control API: `GET /_sim/stats` (requests per route, responses per status, GraphQL points,
//! ground truth), `POST /_sim/mutate {"fraction"}`, `POST /_sim/delete {"fraction"}` (each
//! change also delivered as a signed webhook to the targets `GET|POST /_sim/webhooks` set),
//! `POST /_sim/storm {"seconds", "retry_after"}` (every request answered 429 meanwhile).
//! With a model directory it also serves an OpenAI-compatible `POST /v1/embeddings`
//! (controlled by `GET|POST /_sim/embeddings`).

mod activity;
mod auth;
pub mod azure_devops;
mod embeddings;
mod faults;
pub mod github;
pub mod jira;
pub mod links;
mod params;
pub mod people;
mod quota;
mod rng;
mod stats;
mod storm;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::domain::Provider;
use auth::Credentials;
use azure_devops::routes::AzureState;
use azure_devops::site::AzureSite;
use faults::Faults;
use github::routes::GithubState;
use github::site::GithubSite;
use jira::routes::JiraState;
use jira::site::JiraSite;
use quota::{GithubQuota, JiraRate};
use stats::Stats;

/// What to generate, whom to let in, and how the sources misbehave.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub seed: u64,
    pub jira_projects: usize,
    pub jira_issues: u32,
    /// Jira Basic auth: account e-mail and API token.
    pub jira_user: String,
    pub jira_token: String,
    /// The Jira account's IANA time zone; JQL dates are read in it.
    pub jira_timezone: String,
    pub github_repos: usize,
    pub github_prs: u32,
    /// Tokens GitHub accepts (`Authorization: Bearer|token <t>`), each with its own budget.
    pub github_tokens: Vec<String>,
    /// Azure Boards work items of the organization `/sim-org`.
    pub azure_work_items: u32,
    /// Azure Repos pull requests of the organization, over its three repositories.
    pub azure_prs: u32,
    /// The Azure DevOps personal access token accepted.
    pub azure_token: String,
    /// Share of Azure work items served with an unreadable `System.CreatedDate`, and of pull
    /// requests with an unreadable `creationDate`.
    pub azure_malformed_rate: f64,
    /// Answer every n-th Azure DevOps request 429 with throttling headers (0: never).
    pub azure_throttle_every: u64,
    /// Jira requests allowed per second (None: unlimited).
    pub jira_rate: Option<u32>,
    /// Answer every n-th Jira request 429 with `Retry-After: 1`, whatever the rate (0: never).
    pub jira_throttle_every: u64,
    /// GitHub requests per token per window.
    pub github_budget: u64,
    pub github_window: Duration,
    /// GitHub requests in flight before the secondary limit answers 429.
    pub github_max_concurrency: usize,
    pub github_secondary_retry_after_secs: u64,
    /// Share of requests that fail (500/502/503, reset, slow, truncated JSON).
    pub fault_rate: f64,
    pub slow_response: Duration,
    /// Added to every API answer, as a network and a busy server would.
    pub latency: Duration,
    /// Share of Jira issues served with an unreadable `created` date (poison records).
    pub jira_malformed_rate: f64,
    /// Share of GitHub pull requests whose detail has an unreadable `created_at` (poison
    /// records).
    pub github_malformed_rate: f64,
    /// Serve `POST /v1/embeddings` with the local model in this directory.
    pub embeddings_model_dir: Option<std::path::PathBuf>,
    /// The API key `/v1/embeddings` accepts (as `Authorization: Bearer <key>`); empty: any.
    pub embeddings_key: String,
    /// Answer every n-th `/v1/embeddings` request 429 with `Retry-After: 1` (0: never).
    pub embeddings_throttle_every: u64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed: 1,
            jira_projects: 3,
            jira_issues: 2_000,
            jira_user: "sim@example.com".into(),
            jira_token: "sim-token".into(),
            jira_timezone: "UTC".into(),
            github_repos: 3,
            github_prs: 500,
            github_tokens: vec!["sim-gh-token".into()],
            azure_work_items: 300,
            azure_prs: 100,
            azure_token: "sim-azure-token".into(),
            azure_malformed_rate: 0.0,
            azure_throttle_every: 0,
            jira_rate: None,
            jira_throttle_every: 0,
            github_budget: 5_000,
            github_window: Duration::from_secs(3_600),
            github_max_concurrency: 32,
            github_secondary_retry_after_secs: 60,
            fault_rate: 0.0,
            slow_response: Duration::from_millis(1_500),
            latency: Duration::ZERO,
            jira_malformed_rate: 0.0,
            github_malformed_rate: 0.0,
            embeddings_model_dir: None,
            embeddings_key: "sim-embeddings-key".into(),
            embeddings_throttle_every: 0,
        }
    }
}

impl SimulatorConfig {
    /// Who signs in to the simulated source of `provider`: a token it accepts, and the
    /// account name where the source's auth needs one.
    pub fn sign_in(&self, provider: Provider) -> (String, Option<String>) {
        match provider {
            Provider::Jira => (self.jira_token.clone(), Some(self.jira_user.clone())),
            Provider::Github => (
                self.github_tokens.first().cloned().unwrap_or_default(),
                None,
            ),
            Provider::AzureDevops => (self.azure_token.clone(), None),
        }
    }

    /// The Jira issues the simulator generates (also what tests work its truth out from).
    pub fn jira_population(&self) -> jira::issues::Population {
        jira::issues::Population {
            seed: self.seed,
            issues: self.jira_issues,
            projects: self.jira_projects.max(1),
        }
    }

    /// The GitHub pull requests the simulator generates.
    pub fn github_population(&self) -> github::pulls::Population {
        github::pulls::Population {
            seed: self.seed,
            repos: self.github_repos.max(1),
            pulls: self.github_prs,
        }
    }
}

struct Control {
    jira: Arc<JiraState>,
    azure: Arc<AzureState>,
    github: Arc<GithubState>,
    stats: Arc<Stats>,
    webhooks: Arc<webhooks::Webhooks>,
}

/// A simulator serving on a local port until stopped.
pub struct RunningSimulator {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningSimulator {
    /// Binds `addr` (port 0 picks a free port), generates the sites and starts serving.
    pub async fn start(config: SimulatorConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let timezone: chrono_tz::Tz = config.jira_timezone.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("unknown time zone '{}'", config.jira_timezone),
            )
        })?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let (jira_population, github_population) =
            (config.jira_population(), config.github_population());
        // The work items are an issue population of their own (another seed, two projects).
        let azure_population = jira::issues::Population {
            seed: config.seed ^ 0x617a_7572_6520,
            issues: config.azure_work_items,
            projects: azure_devops::site::PROJECTS.len(),
        };
        let azure_pulls = github::pulls::Population {
            seed: config.seed ^ 0x0072_6570_6f73,
            repos: azure_devops::pulls::REPOSITORIES,
            pulls: config.azure_prs,
        };
        let (jira_site, github_site, azure_site) = tokio::task::spawn_blocking(move || {
            (
                JiraSite::new(jira_population),
                GithubSite::new(github_population, jira_population),
                AzureSite::new(azure_population, azure_pulls),
            )
        })
        .await
        .map_err(std::io::Error::other)?;
        let jira = Arc::new(JiraState {
            site: jira_site,
            timezone,
            user: config.jira_user.clone(),
            github: github_population,
            base_url: base_url.clone(),
            malformed_rate: config.jira_malformed_rate,
        });
        let github = Arc::new(GithubState {
            site: github_site,
            base_url: base_url.clone(),
            malformed_rate: config.github_malformed_rate,
        });
        let azure = Arc::new(AzureState {
            site: azure_site,
            base_url: base_url.clone(),
            token: config.azure_token.clone(),
            malformed_rate: config.azure_malformed_rate,
            throttle_every: config.azure_throttle_every,
            requests: Default::default(),
        });
        let stats = Arc::new(Stats::default());
        let credentials = Arc::new(Credentials::new(&config));
        let faults = Arc::new(Faults::new(
            config.fault_rate,
            config.seed,
            config.slow_response,
        ));

        let latency = config.latency;
        let delay = move |request: axum::extract::Request, next: middleware::Next| async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            next.run(request).await
        };
        let hooks = Arc::new(webhooks::Webhooks::default());
        let mut jira_api = jira::routes::router(jira.clone())
            .merge(webhooks::jira_router(hooks.clone(), base_url.clone()))
            .layer(middleware::from_fn(delay));
        if config.jira_rate.is_some() || config.jira_throttle_every > 0 {
            jira_api = jira_api.layer(middleware::from_fn_with_state(
                Arc::new(JiraRate::new(config.jira_rate, config.jira_throttle_every)),
                quota::jira_rate,
            ));
        }
        let jira_api = jira_api.layer(middleware::from_fn_with_state(
            credentials.clone(),
            auth::jira,
        ));
        let quota = Arc::new(GithubQuota::new(
            config.github_budget,
            config.github_window.as_millis() as i64,
            config.github_max_concurrency,
            config.github_secondary_retry_after_secs,
        ));
        let schema = github::graphql::schema().map_err(std::io::Error::other)?;
        let graphql = Arc::new(github::graphql::GraphqlState {
            github: github.clone(),
            quota: quota.clone(),
            stats: stats.clone(),
            schema,
        });
        let rest = github::routes::router(github.clone())
            .merge(webhooks::github_router(hooks.clone()))
            .layer(middleware::from_fn(github::etag::conditional))
            .layer(middleware::from_fn_with_state(
                quota.clone(),
                quota::github_rest_budget,
            ));
        let github_api = rest
            .merge(github::graphql::router(graphql))
            .layer(middleware::from_fn(delay))
            .layer(middleware::from_fn_with_state(
                quota,
                quota::github_secondary_limit,
            ))
            .layer(middleware::from_fn_with_state(credentials, auth::github));
        let azure_api =
            azure_devops::routes::router(azure.clone()).layer(middleware::from_fn(delay));
        let mut api = jira_api.merge(github_api).merge(azure_api);
        if let Some(dir) = &config.embeddings_model_dir {
            let state = Arc::new(embeddings::EmbeddingsState::new(
                dir.clone(),
                config.embeddings_key.clone(),
                config.embeddings_throttle_every,
            ));
            let endpoint = Router::new()
                .route("/v1/embeddings", post(embeddings::embeddings))
                .route(
                    "/_sim/embeddings",
                    get(embeddings::control_get).post(embeddings::control_set),
                )
                .with_state(state);
            api = api.merge(endpoint);
        }
        let storm = Arc::new(storm::Storm::default());
        let api = api
            .layer(middleware::from_fn_with_state(faults, faults::inject))
            .layer(middleware::from_fn_with_state(storm.clone(), storm::inject))
            .layer(middleware::from_fn_with_state(stats.clone(), stats::count));
        let storm_control = Router::new()
            .route("/_sim/storm", post(storm::start))
            .with_state(storm);
        let webhook_control = Router::new()
            .route(
                "/_sim/webhooks",
                get(webhooks::control_get).post(webhooks::control_set),
            )
            .with_state(hooks.clone());
        let control = Router::new()
            .route("/_sim/stats", get(stats_handler))
            .route("/_sim/mutate", post(mutate_handler))
            .route("/_sim/delete", post(delete_handler))
            .with_state(Arc::new(Control {
                jira,
                azure,
                github,
                stats,
                webhooks: hooks,
            }));
        let app = api
            .merge(control)
            .merge(storm_control)
            .merge(webhook_control);
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

    /// `http://127.0.0.1:<port>`: the base URL for Jira and GitHub integrations alike.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL an integration of `provider` is given: the simulated Azure DevOps
    /// organization's for Azure DevOps, [`Self::base_url`] for the others.
    pub fn base_url_for(&self, provider: Provider) -> String {
        match provider {
            Provider::AzureDevops => {
                format!("{}{}", self.base_url(), azure_devops::routes::ORGANIZATION)
            }
            Provider::Jira | Provider::Github => self.base_url(),
        }
    }

    /// Stops accepting requests and waits for in-flight ones.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        (&mut self.task).await.map_err(std::io::Error::other)?
    }

    /// Serves until the server task ends.
    pub async fn wait(&mut self) -> std::io::Result<()> {
        (&mut self.task).await.map_err(std::io::Error::other)?
    }
}

async fn stats_handler(State(control): State<Arc<Control>>) -> Response {
    let (jira, github, azure) = (
        control.jira.clone(),
        control.github.clone(),
        control.azure.clone(),
    );
    let truth = tokio::task::spawn_blocking(move || {
        let delivery = github.site.delivery();
        let deployments: Vec<_> = delivery.iter().flat_map(|d| &d.deployments).collect();
        let production = deployments
            .iter()
            .filter(|d| d.environment == github::deployments::PRODUCTION)
            .count();
        let shipped: usize = deployments.iter().map(|d| d.ships.len()).sum();
        let delivery = (
            deployments.len(),
            production,
            delivery.iter().map(|d| d.releases.len()).sum::<usize>(),
            shipped,
        );
        (
            jira.site.truth(),
            github.site.truth(),
            azure.site.truth(),
            delivery,
        )
    })
    .await;
    let Ok((jira, github, azure, (deployments, production_deployments, releases, shipped))) = truth
    else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let (requests, responses) = control.stats.snapshot();
    Json(json!({
        "requests": requests,
        "responses": responses,
        "graphql_points": control.stats.graphql_points(),
        "truth": {
            "issues": jira.issues,
            "histories": jira.histories,
            "status_transitions": jira.status_transitions,
            "prs": github.prs,
            "reviews": github.reviews,
            "commits": github.commits,
            "comments": github.comments,
            "deployments": deployments,
            "production_deployments": production_deployments,
            "releases": releases,
            "shipped": shipped,
            "azure_work_items": azure.work_items,
            "azure_revisions": azure.revisions,
            "azure_status_transitions": azure.state_transitions,
            "azure_prs": azure.pulls.prs,
            "azure_reviews": azure.pulls.reviews,
            "azure_comments": azure.pulls.comments,
            "azure_commits": azure.pulls.commits,
            "azure_pr_links": azure.pulls.links,
        },
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct FractionBody {
    fraction: f64,
}

/// A control request without a usable `{"fraction": <0..1>}` body.
struct BadFraction;

impl IntoResponse for BadFraction {
    fn into_response(self) -> Response {
        let message = json!({"message": "body must be {\"fraction\": <number from 0 to 1>}"});
        (StatusCode::BAD_REQUEST, Json(message)).into_response()
    }
}

fn fraction(body: Option<Json<FractionBody>>) -> Result<f64, BadFraction> {
    match body {
        Some(Json(FractionBody { fraction })) if (0.0..=1.0).contains(&fraction) => Ok(fraction),
        _ => Err(BadFraction),
    }
}

async fn mutate_handler(
    State(control): State<Arc<Control>>,
    body: Option<Json<FractionBody>>,
) -> Response {
    let fraction = match fraction(body) {
        Ok(fraction) => fraction,
        Err(bad) => return bad.into_response(),
    };
    let now = chrono::Utc::now().timestamp_millis();
    let (jira, github, azure) = (
        control.jira.clone(),
        control.github.clone(),
        control.azure.clone(),
    );
    let outcome = tokio::task::spawn_blocking(move || {
        let issues = jira.site.mutate(fraction, now);
        let prs = github.site.mutate(fraction, now);
        let work_items = azure.site.items.mutate(fraction, now);
        let azure_prs = azure.site.pulls.mutate(fraction, now);
        let events = change_events(&jira, &github, (&issues, &prs), now);
        (issues, prs, (work_items, azure_prs), events)
    })
    .await;
    match outcome {
        Ok((issues, prs, (work_items, azure_prs), events)) => {
            let delivered = control.webhooks.deliver(events).await;
            Json(json!({
                "issues_changed": issues.changed.len(), "issues_added": issues.added.len(),
                "prs_changed": prs.changed.len(), "prs_added": prs.added.len(),
                "azure_work_items_changed": work_items.changed.len(),
                "azure_work_items_added": work_items.added.len(),
                "azure_prs_touched": azure_prs.changed.len(),
                "azure_prs_added": azure_prs.added.len(),
                "webhook_deliveries": delivered,
            }))
            .into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The webhook events of a round: each changed or added issue and pull request.
fn change_events(
    jira: &JiraState,
    github: &GithubState,
    (issues, prs): (&activity::Round, &activity::Round),
    now_ms: i64,
) -> Vec<webhooks::Event> {
    let population = &jira.site.population;
    let issue = |event, index: u32| {
        webhooks::jira_issue_event(event, &jira.base_url, (population, index), now_ms)
    };
    let pull = |action, index: u32| {
        let pull = github
            .site
            .pull_by_id(github::pulls::PULL_ID_BASE + u64::from(index))?;
        let repository = github::site::repo_full_name(pull.repo);
        Some(webhooks::github_pull_event(
            action,
            (repository, pull.id(), pull.number),
            pull.updated_ms(),
        ))
    };
    let mut events: Vec<webhooks::Event> = Vec::new();
    events.extend(
        issues
            .changed
            .iter()
            .map(|i| issue("jira:issue_updated", *i)),
    );
    events.extend(issues.added.iter().map(|i| issue("jira:issue_created", *i)));
    events.extend(prs.changed.iter().filter_map(|i| pull("synchronize", *i)));
    events.extend(prs.added.iter().filter_map(|i| pull("opened", *i)));
    events
}

async fn delete_handler(
    State(control): State<Arc<Control>>,
    body: Option<Json<FractionBody>>,
) -> Response {
    let fraction = match fraction(body) {
        Ok(fraction) => fraction,
        Err(bad) => return bad.into_response(),
    };
    let (jira, azure) = (control.jira.clone(), control.azure.clone());
    let now = chrono::Utc::now().timestamp_millis();
    match tokio::task::spawn_blocking(move || {
        let azure_deleted = azure.site.items.delete(fraction).len();
        let deleted = jira.site.delete(fraction);
        let events: Vec<webhooks::Event> = deleted
            .iter()
            .map(|index| {
                let issue = (&jira.site.population, *index);
                webhooks::jira_issue_event("jira:issue_deleted", &jira.base_url, issue, now)
            })
            .collect();
        (deleted.len(), azure_deleted, events)
    })
    .await
    {
        Ok((deleted, azure_deleted, events)) => {
            let delivered = control.webhooks.deliver(events).await;
            Json(
                json!({"issues_deleted": deleted, "azure_work_items_deleted": azure_deleted,
                        "webhook_deliveries": delivered}),
            )
            .into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
