//! RabbitMQ restarted in the middle of a job: publishers and workers reconnect, the job
//! finishes, and the tables are those of an in-process sync. Its own test binary, apart from
//! `tests/it`: it stops the shared broker for a few seconds, which the RabbitMQ tests running
//! there side by side would not survive (needs `rabbitmqctl` with the rights to use it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The shared harness; this binary uses only part of it.
#[allow(dead_code)]
#[path = "it/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::source::{cli, count, jira_tables, jira_tenant, strings};
use common::{spawn_cli, stderr, ScratchDb, TEST_SECRET_KEY};
use pulse_etl::domain::Tier;
use pulse_etl::queue::rabbitmq::Broker;
use pulse_etl::queue::topology::{QueueStage, Topology};
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};

fn rabbitmqctl(args: &[&str]) {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("rabbitmqctl {args:?}: {error}"));
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_and_runs_ride_out_a_broker_restart() {
    let config = SimulatorConfig {
        seed: 9,
        jira_issues: 1_500,
        // Slow enough that extraction (and publishing) is still going at the restart: one
        // project, so the 15 search pages follow each other, each answer 300 ms late.
        jira_projects: 1,
        latency: Duration::from_millis(300),
        ..SimulatorConfig::default()
    };
    let sim = RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let prefix = format!("test_{}_", uuid::Uuid::new_v4().simple());
    let url = std::env::var("PULSE_TEST_RABBITMQ_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("RABBITMQ_URL", url.as_str()),
        ("PULSE_QUEUE__NAME_PREFIX", prefix.as_str()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut worker = spawn_cli(
        dir.path(),
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
    let run = {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (dir, tenant) = (dir.path().to_owned(), tenant.clone());
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let args = [
                "run-job", "jira", "--tenant", &tenant, "--queue", "rabbitmq",
            ];
            common::run_cli(&dir, &env, &args, None)
        })
    };

    // Mid-job: some issues loaded, not all.
    let started = Instant::now();
    while count(&db, "SELECT count(*) FROM work_items").await < 100 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing loaded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let restart = tokio::task::spawn_blocking(|| {
        rabbitmqctl(&["stop_app"]);
        std::thread::sleep(Duration::from_secs(2));
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    });
    restart.await.unwrap();
    let mid = count(&db, "SELECT count(*) FROM work_items").await;

    let output = run.await.unwrap();
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("publish failed; reconnecting"),
        "the run published through the restart: {log}"
    );
    worker.kill().ok();
    worker.wait().ok();
    assert!(mid < 1_500, "the restart landed mid-job ({mid} loaded)");
    let state: String = sqlx::query_scalar("SELECT state FROM etl_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(state, "FINISHED");

    let reference = ScratchDb::migrated().await;
    let reference_tenant = jira_tenant(&reference, &sim, "sim-token").await;
    let in_process = cli(
        &reference,
        strings(&["run-job", "jira", "--tenant", &reference_tenant]),
    )
    .await;
    assert!(in_process.status.success(), "{}", stderr(&in_process));
    assert_eq!(jira_tables(&db).await, jira_tables(&reference).await);
    let topology = Topology::new(&prefix, 4, Duration::from_secs(5));
    let broker = Broker::connect(&url, topology).await.unwrap();
    for stage in QueueStage::ALL {
        broker.delete(stage, Tier::ALL).await.unwrap();
    }
    broker.close().await.unwrap();
    sim.stop().await.unwrap();
}
