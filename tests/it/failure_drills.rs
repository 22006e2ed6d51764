//! Failure drills against real services: a worker stopped mid-message, the source
//! unreachable for 30 s mid-job, a minute-long 429 storm, PostgreSQL restarted mid-job (a
//! private cluster of the test's own) and the Qdrant server restarted mid-embed (a private
//! server). Each ends with the tables the source holds:
//! nothing lost, nothing twice, no half-advanced cursor.

use std::time::{Duration, Instant};

use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};
use pulse_etl::store::EmbeddedPostgres;
use serde_json::json;
use sqlx::Connection;

use super::common::qdrant::{model_dir, QdrantServer};
use super::common::queues::{terminate, Queues};
use super::common::source::{cli, cli_in_background, jira_tenant, requests, stats, strings};
use super::common::{run_cli, spawn_cli, stderr, stdout, ScratchDb, TEST_SECRET_KEY};

async fn simulator(config: SimulatorConfig) -> RunningSimulator {
    RunningSimulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn jira(seed: u64, issues: u32, latency_ms: u64) -> SimulatorConfig {
    SimulatorConfig {
        seed,
        jira_issues: issues,
        latency: Duration::from_millis(latency_ms),
        ..SimulatorConfig::default()
    }
}

async fn scalar(db: &ScratchDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}

/// Waits until the source has answered `at_least` requests.
async fn source_answered(sim: &RunningSimulator, at_least: u64) {
    let started = Instant::now();
    while requests(&stats(sim).await) < at_least {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the sync never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_mid_message_finishes_it_or_gives_it_back() {
    let sim = simulator(jira(31, 1_500, 0)).await;
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let dir = tempfile::tempdir().unwrap();
    let grace = [("PULSE_SHUTDOWN__GRACE_SECS", "20")];
    let first = queues.worker_with(&db, dir.path(), &["transform", "load"], &grace);
    let sync = strings(&[
        "run-job", "jira", "--tenant", &tenant, "--queue", "rabbitmq",
    ]);
    let run = cli_in_background(&db, sync, &queues.env());
    // Stop the worker while it has work in hand: some pages done, more waiting.
    let started = Instant::now();
    while scalar(
        &db,
        "SELECT count(*) FROM raw_extraction_data WHERE status = 'processed'",
    )
    .await
        < 200
    {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no transform progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        terminate(first).success(),
        "SIGTERM ends the worker cleanly"
    );
    let second = queues.worker(&db, dir.path());
    let finished = run.await.unwrap();
    assert!(finished.status.success(), "{}", stderr(&finished));
    assert_eq!(scalar(&db, "SELECT count(*) FROM work_items").await, 1_500);
    assert_eq!(
        scalar(&db, "SELECT count(DISTINCT key) FROM work_items").await,
        1_500
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM raw_extraction_data WHERE status <> 'processed'"
        )
        .await,
        0
    );
    assert!(terminate(second).success());
    queues.delete().await;
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_gone_for_30_seconds_fails_the_run_with_its_cause_and_the_next_run_completes() {
    let config = jira(37, 1_500, 30);
    let sim = simulator(config.clone()).await;
    let addr = sim.addr();
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let sync = strings(&["run-job", "jira", "--tenant", &tenant]);
    let run = cli_in_background(&db, sync.clone(), &[]);
    source_answered(&sim, 8).await;
    sim.stop().await.unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let sim = RunningSimulator::start(config, addr).await.unwrap();
    let first = run.await.unwrap();
    let cursor: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_sync_date FROM etl_jobs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    eprintln!(
        "source gone 30 s: the run {}",
        if first.status.success() {
            "rode it out"
        } else {
            "failed with its cause"
        }
    );
    if first.status.success() {
        assert!(cursor.is_some());
    } else {
        let error = stderr(&first);
        assert!(
            error.contains("attempt") && error.contains(&addr.port().to_string()),
            "the failure names the unreachable source: {error}"
        );
        assert_eq!(cursor, None, "a failed run leaves the cursor where it was");
        let state: String = sqlx::query_scalar("SELECT state FROM etl_jobs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(state, "FAILED");
    }
    let second = cli(&db, sync).await;
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(scalar(&db, "SELECT count(*) FROM work_items").await, 1_500);
    assert_eq!(
        scalar(&db, "SELECT count(DISTINCT key) FROM work_items").await,
        1_500
    );
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_long_429_storm_is_waited_out_as_told_and_the_run_completes() {
    let sim = simulator(jira(41, 1_500, 20)).await;
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let sync = strings(&["run-job", "jira", "--tenant", &tenant]);
    let run = cli_in_background(&db, sync, &[]);
    source_answered(&sim, 5).await;
    let retry_after = 5;
    reqwest::Client::new()
        .post(format!("{}/_sim/storm", sim.base_url()))
        .json(&json!({"seconds": 60, "retry_after": retry_after}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let storm = Instant::now();
    let finished = run.await.unwrap();
    let waited = storm.elapsed();
    assert!(finished.status.success(), "{}", stderr(&finished));
    assert!(
        waited >= Duration::from_secs(60),
        "finished inside the storm: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(150),
        "waits are bounded: {waited:?}"
    );
    // Each request in flight (16 at most) asks again once per Retry-After, no sooner.
    let throttled = stats(&sim).await["responses"]["429"].as_u64().unwrap_or(0);
    eprintln!("429 storm: {throttled} answers 429; the run ended {waited:?} after the storm began");
    assert!(throttled >= 1, "the storm answered nothing");
    assert!(
        throttled <= 16 * (60 / retry_after + 2),
        "{throttled} requests hammered a source that asked for {retry_after} s pauses"
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM work_items").await, 1_500);
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_restarted_mid_job_every_role_reconnects_and_the_rerun_is_exact() {
    let Some(_) = EmbeddedPostgres::find_binaries() else {
        eprintln!("SKIPPED: no PostgreSQL server binaries (initdb, pg_ctl)");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let cluster = EmbeddedPostgres::start(data.path()).await.unwrap();
    let sim = simulator(jira(43, 2_000, 10)).await;
    let queues = Queues::new();
    let data_dir = data.path().display().to_string();
    let mut env = queues.env();
    env.extend([
        ("PULSE_DATA_DIR", data_dir.as_str()),
        ("PULSE_DATABASE__MODE", "embedded"),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
        ("PULSE_SCHEDULER__INTERVAL_SECS", "2"),
    ]);
    let work = tempfile::tempdir().unwrap();
    let created = run_cli(
        work.path(),
        &env,
        &["tenant", "create", "--name", "Drill", "--tier", "basic"],
        None,
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let tenant = stdout(&created).trim().to_owned();
    let base_url = sim.base_url();
    let integration = run_cli(
        work.path(),
        &env,
        &[
            "integration",
            "create",
            "--tenant",
            &tenant,
            "--provider",
            "jira",
            "--base-url",
            &base_url,
            "--username",
            "sim@example.com",
            "--token",
            "sim-token",
            "--requests-per-second",
            "2000",
            "--concurrency",
            "16",
        ],
        None,
    );
    assert!(integration.status.success(), "{}", stderr(&integration));
    let worker = spawn_cli(
        work.path(),
        &env,
        &[
            "worker",
            "--stage",
            "transform",
            "--stage",
            "load",
            "--tier",
            "all",
        ],
    );
    let scheduler = spawn_cli(work.path(), &env, &["scheduler"]);
    let options = cluster.connect_options("pulse_etl");
    let query = async |sql: &str| -> Option<i64> {
        let mut connection = sqlx::PgConnection::connect_with(&options).await.ok()?;
        sqlx::query_scalar(sql)
            .fetch_one(&mut connection)
            .await
            .ok()
    };
    let started = Instant::now();
    while query("SELECT count(*) FROM raw_extraction_data WHERE status = 'processed'")
        .await
        .unwrap_or(0)
        < 300
    {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no progress before the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.stop().await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cluster = EmbeddedPostgres::start(data.path()).await.unwrap();
    let finished =
        "SELECT count(*) FROM etl_jobs WHERE state = 'FINISHED' AND last_sync_date IS NOT NULL";
    let started = Instant::now();
    while query(finished).await.unwrap_or(0) < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the job never finished after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(query("SELECT count(*) FROM work_items").await, Some(2_000));
    assert_eq!(
        query("SELECT count(DISTINCT key) FROM work_items").await,
        Some(2_000)
    );
    assert_eq!(
        query("SELECT count(*) FROM load_batches").await,
        Some(0),
        "no saved batch left"
    );
    for role in [scheduler, worker] {
        assert!(
            terminate(role).success(),
            "a role did not survive the restart"
        );
    }
    queues.delete().await;
    sim.stop().await.unwrap();
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_qdrant_server_restarted_mid_embed_retries_the_work_and_the_counts_are_exact() {
    let Some(model) = model_dir() else { return };
    let Some(mut qdrant) = QdrantServer::start().await else {
        return;
    };
    let sim = simulator(jira(47, 400, 0)).await;
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    let data = tempfile::tempdir().unwrap();
    let mut env = super::embedding::env(&model, data.path());
    env.push(("QDRANT_URL".into(), qdrant.url.clone()));
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    super::embedding::set_local(&db, &env, &tenant).await;
    // Retries 1, 2, 4, 8 and 16 s apart: a restart of a few seconds is well within them.
    env.push(("PULSE_QUEUE__MAX_ATTEMPTS".into(), "6".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    let transform = queues.worker_with(&db, dir.path(), &["transform", "load"], &env);
    let embed = queues.worker_with(&db, dir.path(), &["embed"], &env);
    let mut run_env = queues.env();
    run_env.extend(env.iter().copied());
    let sync = strings(&[
        "run-job", "jira", "--tenant", &tenant, "--queue", "rabbitmq",
    ]);
    let run = cli_in_background(&db, sync, &run_env);
    let started = Instant::now();
    while scalar(&db, "SELECT count(*) FROM qdrant_vectors").await < 64 {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "nothing embedded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    qdrant.restart(Duration::from_secs(3)).await;
    let finished = run.await.unwrap();
    assert!(finished.status.success(), "{}", stderr(&finished));
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM qdrant_vectors").await,
        400
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM embedding_failures").await,
        0
    );
    let collection: String = sqlx::query_scalar("SELECT collection FROM embedding_settings")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        qdrant.points(&collection).await,
        400,
        "one point per record, none twice"
    );
    for role in [embed, transform] {
        assert!(terminate(role).success());
    }
    queues.delete().await;
    sim.stop().await.unwrap();
}
