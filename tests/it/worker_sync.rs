//! Roles across processes over the real RabbitMQ and PostgreSQL: `run-job --queue rabbitmq`
//! hands transform work to `worker --stage transform` processes and load work to `worker
//! --stage load` processes, which may crash and come back; the tables end as an in-process
//! sync leaves them. Poison work is dead-lettered; dead letters are requeued or purged.

use std::net::SocketAddr;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::queues::{terminate, Queues};
use crate::common::source::{cli, cli_with, count, jira_tables, jira_tenant, strings};
use crate::common::{spawn_cli, stderr, stdout, ScratchDb, API_ENV, TEST_SECRET_KEY};
use pulse_etl::domain::{IntegrationId, JobId, Provider, RawId, TenantId, Tier};
use pulse_etl::queue::rabbitmq::Broker;
use pulse_etl::queue::topology::QueueStage;
use pulse_etl::queue::{Publisher, StageMessage, Work, MESSAGE_VERSION};
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};
use serde_json::Value;

fn kill(mut child: Child) {
    child.kill().ok();
    child.wait().ok();
}

/// Waits (up to 90 s) for the database's one job to finish; a failed job fails the test.
async fn job_finished(db: &ScratchDb) {
    let started = Instant::now();
    loop {
        let state: String = sqlx::query_scalar("SELECT state FROM etl_jobs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if state == "FINISHED" {
            return;
        }
        assert!(state != "FAILED", "the job failed");
        assert!(started.elapsed() < Duration::from_secs(90), "still {state}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (up to 60 s) until `query` counts at least `at_least`.
async fn wait_for(db: &ScratchDb, query: &str, at_least: i64) {
    let started = Instant::now();
    while count(db, query).await < at_least {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{query} stays under {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn simulator(issues: u32) -> RunningSimulator {
    let config = SimulatorConfig {
        seed: 5,
        jira_issues: issues,
        ..SimulatorConfig::default()
    };
    RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

/// The tables an in-process sync of `sim` leaves.
async fn in_process_reference(sim: &RunningSimulator) -> (Vec<Value>, Vec<Value>) {
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, sim, "sim-token").await;
    let run = cli(&db, strings(&["run-job", "jira", "--tenant", &tenant])).await;
    assert!(run.status.success(), "{}", stderr(&run));
    jira_tables(&db).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_transform_and_load_workers_are_replaced_and_the_tables_end_as_in_process() {
    let sim = simulator(1_500).await;
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let dir = tempfile::tempdir().unwrap();

    // No worker yet: the run stores and publishes, then waits for the work to be done.
    let run = {
        let (db_url, env) = (db.url.clone(), queues.env());
        let env: Vec<(String, String)> = env
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .chain([
                ("DATABASE_URL".to_owned(), db_url),
                ("PULSE_SECRET_KEY".to_owned(), TEST_SECRET_KEY.to_owned()),
            ])
            .collect();
        let tenant = tenant.clone();
        let dir = dir.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let args = [
                "--json", "run-job", "jira", "--tenant", &tenant, "--queue", "rabbitmq",
            ];
            common::run_cli(&dir, &env, &args, None)
        })
    };

    // Extraction ends while transform and load wait for workers, and the job says so.
    let started = Instant::now();
    loop {
        let stages: Value = sqlx::query_scalar(
            "SELECT status->'steps'->'jira_issues_with_changelogs' FROM etl_jobs",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if stages["extraction"] == "finished" {
            assert_eq!(stages["transform"], "running", "{stages}");
            assert_eq!(stages["load"], "running", "{stages}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "extraction never finished: {stages}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A load worker loads part of it and is killed without warning; the transform worker
    // goes on saving batches for a while, then is killed too.
    let transform = queues.worker_of(&db, dir.path(), &["transform"]);
    let load = queues.worker_of(&db, dir.path(), &["load"]);
    wait_for(&db, "SELECT count(*) FROM work_items", 200).await;
    kill(load);
    wait_for(&db, "SELECT count(*) FROM load_batches", 3).await;
    kill(transform);
    let after_kill = count(&db, "SELECT count(*) FROM work_items").await;
    let waiting = count(&db, "SELECT count(*) FROM load_batches").await;
    assert!(waiting >= 3, "saved batches wait for a load worker");

    // Two transform workers and a load worker take over; the run ends when everything is
    // loaded.
    let second = queues.worker_of(&db, dir.path(), &["transform"]);
    let third = queues.worker_of(&db, dir.path(), &["transform"]);
    let load = queues.worker_of(&db, dir.path(), &["load"]);
    let output = run.await.unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    for role in [second, third, load] {
        assert!(terminate(role).success());
    }
    assert_eq!(
        count(&db, "SELECT count(*) FROM load_batches").await,
        0,
        "every batch loaded once and deleted"
    );

    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary[2]["step"], "jira_issues_with_changelogs");
    assert_eq!(summary[2]["loaded"], 1_500);
    assert!(
        after_kill < 1_500,
        "the kill landed mid-job ({after_kill} loaded)"
    );
    let state: String = sqlx::query_scalar("SELECT state FROM etl_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(state, "FINISHED");
    assert_eq!(
        count(&db, "SELECT count(*) FROM raw_extraction_data WHERE status <> 'processed' AND type = 'jira_issue'").await,
        0
    );
    let (items, changelogs) = jira_tables(&db).await;
    let (reference_items, reference_changelogs) = in_process_reference(&sim).await;
    assert_eq!(items.len(), 1_500);
    assert_eq!(items, reference_items);
    assert_eq!(changelogs, reference_changelogs);
    queues.delete().await;
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_work_is_dead_lettered_with_its_error_and_its_rows_fail() {
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    let sim = simulator(10).await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let tenant_id: TenantId = tenant.parse().unwrap();
    let integration_id: IntegrationId = sqlx::query_scalar("SELECT id FROM integrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let raw_id: RawId = sqlx::query_scalar(
        "INSERT INTO raw_extraction_data (tenant_id, integration_id, type, raw_data)
         VALUES ($1, $2, 'bogus', '{}') RETURNING id",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let worker = queues.worker(&db, dir.path());
    let broker = Broker::connect(&queues.url, queues.topology())
        .await
        .unwrap();
    broker
        .declare(QueueStage::Transform, Tier::ALL)
        .await
        .unwrap();
    let message = StageMessage {
        version: MESSAGE_VERSION,
        tenant_id,
        integration_id,
        job_id: None,
        kind: "bogus".into(),
        provider: Provider::Jira,
        last_sync_date: None,
        first_item: true,
        last_item: true,
        last_job_item: false,
        work: Work::Transform {
            raw_data_ids: vec![raw_id],
        },
    };
    broker
        .publisher(QueueStage::Transform, Tier::Premium)
        .publish(message)
        .await
        .unwrap();

    let started = Instant::now();
    let error = loop {
        let (status, error): (String, Option<String>) =
            sqlx::query_as("SELECT status, error FROM raw_extraction_data WHERE id = $1")
                .bind(raw_id)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        if status == "failed" {
            break error.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        error.contains("no transform for jira messages of type 'bogus'"),
        "{error}"
    );
    assert!(terminate(worker).success());
    // The tenant's count comes from the records, not from the queue all tenants share.
    let dead_letters = |tenant: TenantId| {
        let (db, broker) = (&db, &broker);
        async move {
            pulse_etl::service::queues::report(&db.pool, Some(broker), tenant)
                .await
                .unwrap()
                .dead_letters
        }
    };
    let other = TenantId(common::source::tenant(&db).await.parse().unwrap());
    assert_eq!(dead_letters(tenant_id).await, Some(1));
    assert_eq!(dead_letters(other).await, Some(0));

    let env = queues.env();
    let listed = cli_with(
        &db,
        strings(&["--json", "dlq", "list", "--stage", "transform"]),
        &env,
    )
    .await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    let failed: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert!(failed[0]["error"].as_str().unwrap().contains("bogus"));
    assert_eq!(
        failed[0]["queue"],
        queues
            .topology()
            .work_queue(QueueStage::Transform, Tier::Premium)
    );
    let purged = cli_with(&db, strings(&["--json", "dlq", "purge"]), &env).await;
    assert!(purged.status.success(), "{}", stderr(&purged));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&purged)).unwrap()["purged"],
        1
    );
    assert_eq!(dead_letters(tenant_id).await, Some(0), "purged, forgotten");
    broker.close().await.unwrap();
    queues.delete().await;
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_without_rabbitmq_or_with_a_bad_vector_store_say_why() {
    let db = ScratchDb::migrated().await;
    let no_url = cli(
        &db,
        strings(&["worker", "--stage", "transform", "--tier", "all"]),
    )
    .await;
    common::assert_clear_failure(&no_url, "RABBITMQ_URL");
    let queues = Queues::new();
    let mut env = queues.env();
    env.push(("QDRANT_URL", "ftp://vectors.example"));
    let bad_store = cli_with(
        &db,
        strings(&["worker", "--stage", "embed", "--tier", "free"]),
        &env,
    )
    .await;
    common::assert_clear_failure(&bad_store, "vectors.qdrant_url");
    let unreachable = cli_with(
        &db,
        strings(&["dlq", "list"]),
        &[("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:1/%2f")],
    )
    .await;
    common::assert_clear_failure(&unreachable, "connecting to RabbitMQ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_killed_mid_job_and_restarted_ends_with_the_in_process_tables() {
    let sim = simulator(1_500).await;
    let db = ScratchDb::migrated().await;
    jira_tenant(&db, &sim, "sim-token").await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_DATA_DIR", "data"),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
        ("PULSE_SCHEDULER__STUCK_AFTER_SECS", "3"),
    ];
    env.extend(API_ENV);
    let args = ["all", "--interval-secs", "3600"];
    let first = spawn_cli(dir.path(), &env, &args);
    let started = Instant::now();
    while count(&db, "SELECT count(*) FROM work_items").await < 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing loaded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    kill(first);
    let after_kill = count(&db, "SELECT count(*) FROM work_items").await;
    assert!(
        after_kill < 1_500,
        "the kill landed mid-job ({after_kill} loaded)"
    );
    let state: String = sqlx::query_scalar("SELECT state FROM etl_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(state, "RUNNING", "a killed process leaves its job running");

    // Restarted: what was stored but not loaded is transformed at once, and the stuck job
    // is taken over and runs again.
    let second = spawn_cli(dir.path(), &env, &args);
    let started = Instant::now();
    loop {
        let (state, items): (String, i64) =
            sqlx::query_as("SELECT state, (SELECT count(*) FROM work_items) FROM etl_jobs")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        if state == "FINISHED" && items == 1_500 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{state}, {items} items"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(terminate(second).success());
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM raw_extraction_data WHERE status = 'pending'"
        )
        .await,
        0,
        "nothing left untransformed"
    );
    let (items, changelogs) = jira_tables(&db).await;
    let (reference_items, reference_changelogs) = in_process_reference(&sim).await;
    assert_eq!(items, reference_items);
    assert_eq!(changelogs, reference_changelogs);
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_and_two_workers_sync_like_one_process() {
    let sim = simulator(800).await;
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    jira_tenant(&db, &sim, "sim-token").await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = queues.env();
    env.extend([
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
    ]);
    let workers = [
        queues.worker(&db, dir.path()),
        queues.worker(&db, dir.path()),
    ];
    let scheduler = spawn_cli(dir.path(), &env, &["scheduler"]);
    job_finished(&db).await;
    assert!(terminate(scheduler).success());
    for worker in workers {
        assert!(terminate(worker).success());
    }
    let (items, changelogs) = jira_tables(&db).await;
    let (reference_items, reference_changelogs) = in_process_reference(&sim).await;
    assert_eq!(items.len(), 800);
    assert_eq!(items, reference_items);
    assert_eq!(changelogs, reference_changelogs);
    queues.delete().await;
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_over_rabbitmq_syncs_like_all_in_process() {
    let sim = simulator(600).await;
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    jira_tenant(&db, &sim, "sim-token").await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = queues.env();
    env.extend([
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
    ]);
    env.extend(API_ENV);
    let all = spawn_cli(
        dir.path(),
        &env,
        &["all", "--queue", "rabbitmq", "--interval-secs", "3600"],
    );
    job_finished(&db).await;
    assert!(terminate(all).success());
    let (items, changelogs) = jira_tables(&db).await;
    let (reference_items, reference_changelogs) = in_process_reference(&sim).await;
    assert_eq!(items.len(), 600);
    assert_eq!(items, reference_items);
    assert_eq!(changelogs, reference_changelogs);
    queues.delete().await;
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatching_scheduler_with_extract_transform_and_load_workers_syncs_like_one_process() {
    let sim = simulator(700).await;
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    jira_tenant(&db, &sim, "sim-token").await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = queues.env();
    env.extend([
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
    ]);
    let extract = spawn_cli(
        dir.path(),
        &env,
        &["worker", "--stage", "extract", "--tier", "all"],
    );
    let transform = queues.worker_of(&db, dir.path(), &["transform"]);
    let another_transform = queues.worker_of(&db, dir.path(), &["transform"]);
    let load = queues.worker_of(&db, dir.path(), &["load"]);
    let scheduler = spawn_cli(dir.path(), &env, &["scheduler", "--dispatch"]);
    job_finished(&db).await;
    for role in [scheduler, extract, transform, another_transform, load] {
        assert!(terminate(role).success());
    }
    let (items, changelogs) = jira_tables(&db).await;
    let (reference_items, reference_changelogs) = in_process_reference(&sim).await;
    assert_eq!(items.len(), 700);
    assert_eq!(items, reference_items);
    assert_eq!(changelogs, reference_changelogs);
    queues.delete().await;
    sim.stop().await.unwrap();
}

/// Runs a sync of 300 issues over RabbitMQ while the changelogs table is away, so every
/// load fails and is dead-lettered (the job ends FAILED), then puts the table back;
/// returns the sync's arguments and the transform + load worker.
async fn dead_letter_every_load(
    db: &ScratchDb,
    sim: &RunningSimulator,
    queues: &Queues,
    dir: &std::path::Path,
) -> (Vec<String>, Child) {
    let tenant = jira_tenant(db, sim, "sim-token").await;
    sqlx::query("ALTER TABLE changelogs RENAME TO changelogs_away")
        .execute(&db.pool)
        .await
        .unwrap();
    let worker = queues.worker(db, dir);
    let sync = strings(&[
        "run-job", "jira", "--tenant", &tenant, "--queue", "rabbitmq",
    ]);
    let failed = cli_with(db, sync.clone(), &queues.env()).await;
    common::assert_clear_failure(&failed, "300 item(s) failed to transform or load");
    assert!(
        stderr(&failed).contains("changelogs"),
        "{}",
        stderr(&failed)
    );
    let state: String = sqlx::query_scalar("SELECT state FROM etl_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(state, "FAILED");
    assert_eq!(count(db, "SELECT count(*) FROM load_batches").await, 3);
    sqlx::query("ALTER TABLE changelogs_away RENAME TO changelogs")
        .execute(&db.pool)
        .await
        .unwrap();
    (sync, worker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_dead_lettered_load_work_drops_its_saved_batches() {
    let sim = simulator(300).await;
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let (_, worker) = dead_letter_every_load(&db, &sim, &queues, dir.path()).await;
    let purged = cli_with(
        &db,
        strings(&["--json", "dlq", "purge", "--stage", "load"]),
        &queues.env(),
    )
    .await;
    assert!(purged.status.success(), "{}", stderr(&purged));
    let answer: Value = serde_json::from_str(&stdout(&purged)).unwrap();
    assert_eq!(answer["purged"], 3);
    assert_eq!(count(&db, "SELECT count(*) FROM load_batches").await, 0);
    assert!(terminate(worker).success());
    queues.delete().await;
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_dead_lettered_by_a_fault_is_requeued_after_the_fix_and_the_job_completes() {
    let sim = simulator(300).await;
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let (sync, worker) = dead_letter_every_load(&db, &sim, &queues, dir.path()).await;

    // Fixed; the dead-lettered work goes back, and its job is due again.
    sqlx::query("UPDATE etl_jobs SET next_run = now() + interval '1 hour'")
        .execute(&db.pool)
        .await
        .unwrap();
    let requeued = cli_with(&db, strings(&["--json", "dlq", "requeue"]), &queues.env()).await;
    assert!(requeued.status.success(), "{}", stderr(&requeued));
    let answer: Value = serde_json::from_str(&stdout(&requeued)).unwrap();
    assert_eq!(answer["requeued"], 3, "one message per search page");
    let started = Instant::now();
    while count_pending_or_failed(&db).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "requeued work not loaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let due: bool = sqlx::query_scalar("SELECT next_run <= now() FROM etl_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(due, "the job is due again");
    assert_eq!(count(&db, "SELECT count(*) FROM work_items").await, 300);

    // Its next run completes it.
    let again = cli_with(&db, sync, &queues.env()).await;
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(terminate(worker).success());
    job_finished(&db).await;
    let (items, changelogs) = jira_tables(&db).await;
    let (reference_items, reference_changelogs) = in_process_reference(&sim).await;
    assert_eq!(items, reference_items);
    assert_eq!(changelogs, reference_changelogs);
    queues.delete().await;
    sim.stop().await.unwrap();
}

async fn count_pending_or_failed(db: &ScratchDb) -> i64 {
    count(
        db,
        "SELECT count(*) FROM raw_extraction_data WHERE type = 'jira_issue' AND status <> 'processed'",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_delivered_twice_runs_its_job_once() {
    let sim = simulator(50).await;
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    let tenant_id: TenantId = jira_tenant(&db, &sim, "sim-token").await.parse().unwrap();
    // Claimed the way a dispatching scheduler claims it.
    let (job_id, integration_id, claimed_at): (JobId, IntegrationId, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as(
            "UPDATE etl_jobs SET state = 'RUNNING', last_run_started_at = now(), last_progress_at = now()
             RETURNING id, integration_id, last_run_started_at",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let broker = Broker::connect(&queues.url, queues.topology())
        .await
        .unwrap();
    broker
        .declare(QueueStage::Extraction, Tier::ALL)
        .await
        .unwrap();
    let dispatch = StageMessage {
        version: MESSAGE_VERSION,
        tenant_id,
        integration_id,
        job_id: Some(job_id),
        kind: pulse_etl::queue::SYNC_JOB.into(),
        provider: Provider::Jira,
        last_sync_date: None,
        first_item: true,
        last_item: true,
        last_job_item: true,
        work: Work::SyncJob {
            claimed_at: Some(claimed_at),
        },
    };
    // Published twice, as a publisher repeating after a lost confirm does.
    let publisher = broker.publisher(QueueStage::Extraction, Tier::Premium);
    publisher.publish(dispatch.clone()).await.unwrap();
    publisher.publish(dispatch).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let extract = [(); 2].map(|()| queues.worker_of(&db, dir.path(), &["extract"]));
    let worker = queues.worker(&db, dir.path());
    job_finished(&db).await;
    let started = Instant::now();
    while extraction_ready(&queues).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "dispatch not consumed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for role in extract.into_iter().chain([worker]) {
        assert!(terminate(role).success());
    }
    assert_eq!(
        extraction_ready(&queues).await,
        0,
        "both deliveries handled"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM raw_extraction_data WHERE type = 'jira_project_search'"
        )
        .await,
        1,
        "one run"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM work_items").await, 50);
    broker.close().await.unwrap();
    queues.delete().await;
    sim.stop().await.unwrap();
}

/// Messages ready (not delivered) in the premium extraction queue.
async fn extraction_ready(queues: &Queues) -> u32 {
    use lapin::options::QueueDeclareOptions;
    let connection =
        lapin::Connection::connect(&queues.url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let name = queues
        .topology()
        .work_queue(QueueStage::Extraction, Tier::Premium);
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare(&name, options, lapin::types::FieldTable::default())
        .await
        .unwrap();
    connection.close(0, "").await.ok();
    queue.message_count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_starting_over_rabbitmq_recovers_abandoned_rows_and_leaves_live_ones() {
    let sim = simulator(10).await;
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    let tenant_id: i64 = jira_tenant(&db, &sim, "sim-token").await.parse().unwrap();
    // A job some other process is running right now, with a row queued for its workers…
    let (job_id, integration_id): (i64, i64) = sqlx::query_as(
        "UPDATE etl_jobs SET state = 'RUNNING', last_progress_at = now(), next_run = now() + interval '1 hour'
         RETURNING id, integration_id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let insert =
        "INSERT INTO raw_extraction_data (tenant_id, integration_id, job_id, type, raw_data)
                  VALUES ($1, $2, $3, 'jira_issue', '{}') RETURNING id";
    let live: i64 = sqlx::query_scalar(insert)
        .bind(tenant_id)
        .bind(integration_id)
        .bind(job_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    // …and one a dead process left behind (no job makes progress on it).
    let abandoned: i64 = sqlx::query_scalar(insert)
        .bind(tenant_id)
        .bind(integration_id)
        .bind(None::<i64>)
        .fetch_one(&db.pool)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut env = queues.env();
    env.extend([
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
    ]);
    let scheduler = spawn_cli(dir.path(), &env, &["scheduler"]);
    let status_of = async |id: i64| -> String {
        sqlx::query_scalar("SELECT status FROM raw_extraction_data WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    let started = Instant::now();
    // The empty issue cannot transform: recovered, it ends failed.
    while status_of(abandoned).await == "pending" {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "abandoned row not recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(terminate(scheduler).success());
    assert_eq!(status_of(abandoned).await, "failed");
    assert_eq!(
        status_of(live).await,
        "pending",
        "the live job's row is left to its workers"
    );
    queues.delete().await;
    sim.stop().await.unwrap();
}
