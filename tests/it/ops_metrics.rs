//! What operators see: `/metrics`, `/healthz` and `/readyz` of `serve`, a worker and the
//! scheduler, scraped during and after a sync over RabbitMQ, hold the sync's items,
//! requests and jobs with the simulator's counts; every metric the Grafana dashboard and
//! the alert rules use is in those scrapes; and an exported trace follows an API trigger
//! through the scheduler's run to the workers' messages.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};

use super::common::qdrant::{free_port, model_dir};
use super::common::queues::{terminate, Queues};
use super::common::source::{cli, connect_github, count, jira_tenant, requests, stats, strings};
use super::common::{api, spawn_cli, ScratchDb, TEST_SECRET_KEY};
use super::deploy_files::{exported_name, metrics_the_deploy_files_use};

/// One line of a scrape: a series and its value.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn is(&self, name: &str, with: &[(&str, &str)]) -> bool {
        self.name == name
            && with
                .iter()
                .all(|(k, v)| self.labels.iter().any(|(lk, lv)| lk == k && lv == v))
    }
}

/// What the operator lets scrape `serve`'s API port (`metrics.token`).
const SCRAPE_TOKEN: &str = "ops-scrape-token-for-the-test";

/// One scrape, parsed.
struct Scrape {
    samples: Vec<Sample>,
    text: String,
}

impl Scrape {
    async fn of(addr: &str) -> Scrape {
        Scrape::as_bearer(addr, None).await
    }

    /// A scrape sending `Authorization: Bearer <token>` when there is one.
    async fn as_bearer(addr: &str, token: Option<&str>) -> Scrape {
        let mut request = reqwest::Client::new().get(format!("http://{addr}/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "scraping {addr}");
        let text = response.text().await.unwrap();
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').unwrap();
                let (name, labels) = match series.split_once('{') {
                    Some((name, labels)) => (name, labels.trim_end_matches('}')),
                    None => (series, ""),
                };
                let labels = labels
                    .split("\",")
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, value) = pair.split_once('=').unwrap();
                        (key.to_owned(), value.trim_matches('"').to_owned())
                    })
                    .collect();
                Sample {
                    name: name.to_owned(),
                    labels,
                    value: value.parse().unwrap(),
                }
            })
            .collect();
        Scrape { samples, text }
    }

    /// The sum of `name`'s samples that carry every label of `with`.
    fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|sample| sample.is(name, with))
            .map(|sample| sample.value)
            .sum()
    }

    fn has(&self, name: &str, with: &[(&str, &str)]) -> bool {
        self.samples.iter().any(|sample| sample.is(name, with))
    }

    /// Every metric family the scrape declares (`# TYPE name kind`).
    fn families(&self) -> BTreeSet<String> {
        self.text
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    }
}

async fn status(addr: &str, path: &str) -> (u16, serde_json::Value) {
    let answer = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let code = answer.status().as_u16();
    (code, answer.json().await.unwrap_or_default())
}

async fn jobs_in(db: &ScratchDb, state: &str) -> i64 {
    count(
        db,
        &format!("SELECT count(*) FROM etl_jobs WHERE state = '{state}'"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_a_worker_and_the_scheduler_export_the_sync_with_the_sources_counts() {
    let config = SimulatorConfig {
        seed: 17,
        jira_issues: 300,
        github_repos: 2,
        github_prs: 40,
        // Every fifth request refused: the sync meets 429s however slowly the machine runs.
        jira_throttle_every: 5,
        ..SimulatorConfig::default()
    };
    let sim = RunningSimulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    connect_github(&db, &sim, &tenant, &["sim-gh-token"], &[]).await;
    let model = model_dir();
    if model.is_some() {
        let set = cli(
            &db,
            strings(&[
                "embedding",
                "set",
                "--tenant",
                &tenant,
                "--provider",
                "local",
            ]),
        )
        .await;
        assert!(set.status.success(), "{}", super::common::stderr(&set));
    }
    let model = model
        .map(|dir| dir.display().to_string())
        .unwrap_or_default();
    let before = requests(&stats(&sim).await);
    let (worker_addr, scheduler_addr, api_addr) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut env = queues.env();
    env.extend([
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
        ("PULSE_EMBEDDING__MODEL_DIR", model.as_str()),
    ]);
    // The worker's address from the configuration, the scheduler's from the flag.
    let worker = queues.worker_with(
        &db,
        dir.path(),
        &["transform", "load", "embed"],
        &[
            ("PULSE_METRICS__ADDR", worker_addr.as_str()),
            ("PULSE_EMBEDDING__MODEL_DIR", model.as_str()),
        ],
    );
    let scheduler = spawn_cli(
        dir.path(),
        &env,
        &["scheduler", "--metrics-addr", &scheduler_addr],
    );
    let mut serve_env = env.clone();
    serve_env.extend([
        ("PULSE_JWT_SECRET", api::TEST_JWT_SECRET),
        ("PULSE_HTTP_ADDR", api_addr.as_str()),
        ("PULSE_METRICS__TOKEN", SCRAPE_TOKEN),
    ]);
    let serve = spawn_cli(dir.path(), &serve_env, &["serve"]);

    // During the sync: every role answers, is ready, and already counts requests.
    let started = Instant::now();
    let mut seen_running = false;
    while jobs_in(&db, "FINISHED").await < 2 {
        assert_eq!(jobs_in(&db, "FAILED").await, 0, "a job failed");
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the sync did not finish"
        );
        if !seen_running && jobs_in(&db, "RUNNING").await > 0 {
            let ready = status(&scheduler_addr, "/readyz").await;
            let during = Scrape::of(&scheduler_addr).await;
            if ready.0 == 200 && during.has("pulse_source_requests_total", &[]) {
                assert_eq!(ready.1["broker"], true, "{}", ready.1);
                assert_eq!(ready.1["database"], true, "{}", ready.1);
                assert!(during.has("pulse_build_info", &[("role", "scheduler")]));
                assert!(during.has("pulse_scheduler_lag_seconds", &[]));
                seen_running = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen_running, "no scrape caught the sync running");
    let truth = stats(&sim).await;
    let sent = requests(&truth) - before;

    // The queue watch reads depths every few seconds: wait for its first reading.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (scheduler_after, worker_after, serve_after) = loop {
        let scrapes = (
            Scrape::of(&scheduler_addr).await,
            Scrape::of(&worker_addr).await,
            Scrape::as_bearer(&api_addr, Some(SCRAPE_TOKEN)).await,
        );
        if scrapes.1.has("pulse_queue_depth", &[]) && scrapes.2.has("pulse_queue_depth", &[]) {
            break scrapes;
        }
        assert!(Instant::now() < deadline, "no queue depths read");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for (addr, role) in [
        (&worker_addr, "worker"),
        (&scheduler_addr, "scheduler"),
        (&api_addr, "serve"),
    ] {
        assert_eq!(status(addr, "/healthz").await.0, 200, "{role} /healthz");
        let (code, body) = status(addr, "/readyz").await;
        assert_eq!(code, 200, "{role} /readyz: {body}");
        assert_eq!(body["broker"], true, "{role}: {body}");
    }
    assert_eq!(status(&worker_addr, "/readyz").await.1["vectors"], true);

    // Items: the scheduler ran both jobs and counted what they loaded.
    let issues = truth["truth"]["issues"].as_f64().unwrap();
    let prs = truth["truth"]["prs"].as_f64().unwrap();
    assert_eq!(issues, 300.0);
    let loaded = |source: &str, step: &str| {
        scheduler_after.sum(
            "pulse_items_total",
            &[
                ("source", source),
                ("step", step),
                ("stage", "load"),
                ("outcome", "ok"),
            ],
        )
    };
    assert_eq!(loaded("jira", "jira_issues_with_changelogs"), issues);
    assert_eq!(loaded("github", "github_pull_requests"), prs);
    assert_eq!(
        count(&db, "SELECT count(*) FROM prs").await as f64,
        prs,
        "the tables hold what the metric says"
    );
    assert_eq!(
        scheduler_after.sum("pulse_items_total", &[("outcome", "failed")]),
        0.0
    );
    if !model.is_empty() {
        let embedded = scheduler_after.sum("pulse_items_total", &[("stage", "embedding")]);
        assert_eq!(embedded, issues + prs);
        assert!(worker_after.sum("pulse_embed_batch_size_count", &[]) >= 1.0);
    }

    // Requests: every request the simulator answered was counted, 429s included.
    let counted = scheduler_after.sum("pulse_source_requests_total", &[]);
    assert_eq!(
        counted as u64, sent,
        "requests counted vs answered by the source"
    );
    let throttled = truth["responses"]["429"].as_f64().unwrap_or(0.0);
    assert!(
        throttled > 0.0,
        "the simulator's rate limit never answered 429"
    );
    assert_eq!(
        scheduler_after.sum("pulse_source_requests_total", &[("status", "429")]),
        throttled
    );
    assert_eq!(
        scheduler_after.sum(
            "pulse_source_rate_limit_wait_seconds_count",
            &[("provider", "jira")]
        ),
        throttled,
        "each 429 is one wait"
    );
    assert!(scheduler_after.sum("pulse_source_rate_limit_wait_seconds_sum", &[]) >= throttled);
    assert!(
        scheduler_after.sum(
            "pulse_source_requests_total",
            &[("provider", "jira"), ("endpoint", "search")]
        ) >= 1.0
    );
    assert!(scheduler_after.has("pulse_source_budget_remaining", &[("provider", "github")]));
    let token_labels: Vec<&str> = scheduler_after
        .samples
        .iter()
        .filter(|sample| sample.name == "pulse_source_budget_remaining")
        .flat_map(|sample| sample.labels.iter())
        .filter(|(key, _)| key == "token")
        .map(|(_, value)| value.as_str())
        .collect();
    assert!(!token_labels.is_empty());
    for label in token_labels {
        let (integration, position) = label.split_once('/').unwrap();
        assert!(
            integration.parse::<i64>().is_ok() && position == "1",
            "a token is named by its integration and position, not '{label}'"
        );
    }
    // Tenants reach the API port: no metrics there without the operator's token.
    let anonymous = reqwest::get(format!("http://{api_addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        !scheduler_after.text.contains("sim-gh-token"),
        "a token leaked into the metrics"
    );

    // Jobs: one run each, finished.
    for provider in ["jira", "github"] {
        let runs = [("provider", provider), ("outcome", "finished")];
        assert_eq!(
            scheduler_after.sum("pulse_job_runs_total", &runs),
            1.0,
            "{provider}"
        );
        assert_eq!(
            scheduler_after.sum("pulse_job_run_duration_seconds_count", &runs),
            1.0
        );
    }
    assert_eq!(
        scheduler_after.sum("pulse_job_runs_total", &[("outcome", "failed")]),
        0.0
    );

    // The worker: every message it settled, measured; none left in hand.
    let transformed = worker_after.sum(
        "pulse_messages_total",
        &[
            ("stage", "transform"),
            ("outcome", "ack"),
            ("tier", "premium"),
        ],
    );
    assert!(transformed >= 3.0, "{transformed}");
    assert!(
        worker_after.sum(
            "pulse_messages_total",
            &[("stage", "load"), ("outcome", "ack")]
        ) >= 3.0
    );
    assert_eq!(
        worker_after.sum("pulse_messages_total", &[("outcome", "dead_letter")]),
        0.0
    );
    assert_eq!(
        worker_after.sum(
            "pulse_stage_duration_seconds_count",
            &[("stage", "transform")]
        ),
        worker_after.sum("pulse_messages_total", &[("stage", "transform")])
    );
    assert_eq!(worker_after.sum("pulse_messages_in_flight", &[]), 0.0);
    let transform_queue = format!("{}transform_queue_premium", queues.prefix);
    assert!(serve_after.has("pulse_queue_depth", &[("queue", &transform_queue)]));
    assert_eq!(
        serve_after.sum("pulse_queue_depth", &[("queue", &transform_queue)]),
        0.0
    );
    assert!(serve_after.has("pulse_db_pool_max_connections", &[]));

    // The dashboard and the alerts only use series these scrapes hold.
    if !model.is_empty() {
        let mut exported = BTreeSet::new();
        for scrape in [&scheduler_after, &worker_after, &serve_after] {
            exported.extend(scrape.families());
        }
        for series in metrics_the_deploy_files_use() {
            let name = exported_name(&series);
            assert!(
                exported.contains(name),
                "{series} is in no scrape; scraped: {exported:?}"
            );
        }
    }

    for role in [serve, scheduler, worker] {
        assert!(terminate(role).success());
    }
    queues.delete().await;
    sim.stop().await.unwrap();
}

/// The scheduler's pruner deletes raw history on its own (here with no retention window:
/// only the newest version of each entity stays) and counts it in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_prunes_raw_history_and_counts_it() {
    let config = SimulatorConfig {
        seed: 5,
        jira_issues: 60,
        ..SimulatorConfig::default()
    };
    let sim = RunningSimulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    for extra in [&[][..], &["--full"][..]] {
        let mut args = strings(&["run-job", "jira", "--tenant", &tenant]);
        args.extend(strings(extra));
        let synced = cli(&db, args).await;
        assert!(
            synced.status.success(),
            "{}",
            super::common::stderr(&synced)
        );
    }
    let all = "SELECT count(*) FROM raw_extraction_data";
    let newest = "SELECT count(DISTINCT (type, external_id, extraction_metadata->>'startAt'))
                  FROM raw_extraction_data";
    let (stored, kept) = (count(&db, all).await, count(&db, newest).await);
    assert!(stored > kept, "the replay stored second versions");
    // The scheduler is there to prune: no run of the job meanwhile.
    sqlx::query("UPDATE etl_jobs SET next_run = now() + interval '1 day'")
        .execute(&db.pool)
        .await
        .unwrap();

    let queues = Queues::new();
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let mut env = queues.env();
    env.extend([
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_RAW__RETAIN_DAYS", "0"),
        ("PULSE_RAW__PRUNE_INTERVAL_SECS", "1"),
    ]);
    let scheduler = spawn_cli(dir.path(), &env, &["scheduler", "--metrics-addr", &addr]);
    // The metric is recorded just after each batch's statement: look until both agree.
    let deadline = Instant::now() + Duration::from_secs(60);
    let scrape = loop {
        if count(&db, all).await == kept {
            let scrape = Scrape::of(&addr).await;
            if scrape.sum("pulse_raw_pruned_rows_total", &[]) == (stored - kept) as f64 {
                break scrape;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the pruner did not prune all history: {} rows of {stored}, {kept} newest",
            count(&db, all).await,
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(count(&db, all).await, kept, "the newest versions stay");
    assert!(scrape.sum("pulse_raw_pruned_bytes_total", &[]) > 0.0);
    assert!(terminate(scheduler).success());
    queues.delete().await;
    sim.stop().await.unwrap();
}

/// A stand-in OpenTelemetry collector: keeps every OTLP/HTTP trace export it receives.
async fn collector() -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// Every span the collector received.
fn received_spans(received: &Mutex<Vec<Bytes>>) -> Vec<Span> {
    let mut spans = Vec::new();
    for body in received.lock().unwrap().iter() {
        let request = ExportTraceServiceRequest::decode(body.clone()).unwrap();
        for resource in request.resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    spans
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    let value = span
        .attributes
        .iter()
        .find(|a| a.key == key)?
        .value
        .as_ref()?;
    match value.value.as_ref()? {
        any_value::Value::StringValue(text) => Some(text),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_triggered_runs_trace_follows_it_through_the_scheduler_and_the_queues() {
    let (endpoint, received) = collector().await;
    let sim = RunningSimulator::start(
        SimulatorConfig {
            seed: 19,
            jira_issues: 200,
            ..SimulatorConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let dir = tempfile::tempdir().unwrap();
    let traced = [("PULSE_TRACING__OTLP_ENDPOINT", endpoint.as_str())];
    let worker = queues.worker_with(&db, dir.path(), &["transform", "load"], &traced);
    let mut env = queues.env();
    env.extend([
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
    ]);
    env.extend(traced);
    let api_addr = format!("127.0.0.1:{}", free_port());
    let mut serve_env = env.clone();
    serve_env.extend([
        ("PULSE_JWT_SECRET", api::TEST_JWT_SECRET),
        ("PULSE_HTTP_ADDR", api_addr.as_str()),
    ]);
    let serve = spawn_cli(dir.path(), &serve_env, &["serve"]);
    let scheduler = spawn_cli(dir.path(), &env, &["scheduler"]);
    let finished_runs = async || -> Option<chrono::DateTime<chrono::Utc>> {
        sqlx::query_scalar("SELECT last_run_finished_at FROM etl_jobs WHERE state = 'FINISHED'")
            .fetch_optional(&db.pool)
            .await
            .unwrap()
            .flatten()
    };
    let started = Instant::now();
    let first = loop {
        if let Some(at) = finished_runs().await {
            break at;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the first sync did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // An operator has the job re-read everything now, through the API.
    let created = cli(
        &db,
        strings(&[
            "token", "create", "--tenant", &tenant, "--name", "ops", "--role", "admin",
        ]),
    )
    .await;
    assert!(
        created.status.success(),
        "{}",
        super::common::stderr(&created)
    );
    let token = super::common::stdout(&created).trim().to_owned();
    let job: i64 = count(&db, "SELECT id FROM etl_jobs").await;
    let started = Instant::now();
    loop {
        let answer = reqwest::Client::new()
            .post(format!("http://{api_addr}/api/v1/jobs/{job}/reset"))
            .bearer_auth(&token)
            .send()
            .await;
        if answer.as_ref().is_ok_and(|a| a.status().is_success()) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "trigger refused: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    while finished_runs().await.is_none_or(|at| at <= first) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the triggered run did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Stopping flushes what each process still buffers.
    for role in [serve, scheduler, worker] {
        assert!(terminate(role).success());
    }

    let spans = received_spans(&received);
    let named = |name: &'static str| spans.iter().filter(move |span| span.name == name);
    assert_eq!(named("job_run").count(), 2, "two job runs exported");
    let trigger = named("request")
        .find(|span| attribute(span, "path").is_some_and(|path| path.ends_with("/reset")))
        .expect("the reset request's span");
    let trace = &trigger.trace_id;
    let in_trace = |name: &'static str| named(name).filter(|span| &span.trace_id == trace).count();
    assert_eq!(
        in_trace("job_run"),
        1,
        "the triggered run joins the request's trace"
    );
    for message in ["queue_message", "transform_message", "load_message"] {
        assert!(
            in_trace(message) >= 2,
            "{message}: {} span(s) in the trace, {} in all",
            in_trace(message),
            named(message).count()
        );
    }
    // The first run, triggered by nobody, is a trace of its own.
    let other = named("job_run")
        .find(|span| &span.trace_id != trace)
        .unwrap();
    assert!(named("transform_message").any(|span| span.trace_id == other.trace_id));
    queues.delete().await;
    sim.stop().await.unwrap();
}
