//! Helpers for tests that sync the simulator: the CLI run off the async runtime, the
//! simulator's request counts and truth, and its control endpoints.

use serde_json::{json, Value};

use super::{run_cli, TestDb, TEST_SECRET_KEY};
use pulse_etl::simulator::RunningSimulator;

/// Runs `pulse-etl` against `db` on a blocking thread, in a fresh directory.
pub async fn cli(db: &TestDb, args: Vec<String>) -> std::process::Output {
    cli_logging(db, args, "warn").await
}

/// As [`cli`], with `RUST_LOG` set to `log`.
pub async fn cli_logging(db: &TestDb, args: Vec<String>, log: &str) -> std::process::Output {
    let url = db.url.clone();
    let log = log.to_owned();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(
            dir.path(),
            &[
                ("DATABASE_URL", &url),
                ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
                ("RUST_LOG", &log),
            ],
            &args,
            None,
        )
    })
    .await
    .unwrap()
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// A new tenant's id.
pub async fn tenant(db: &TestDb) -> String {
    let name = format!("Sync {}", uuid::Uuid::new_v4().simple());
    let created = cli(
        db,
        strings(&["tenant", "create", "--name", &name, "--tier", "premium"]),
    )
    .await;
    assert!(created.status.success(), "{}", super::stderr(&created));
    super::stdout(&created).trim().to_owned()
}

/// `/_sim/stats`: requests per route, responses per status, and the truth.
pub async fn stats(sim: &RunningSimulator) -> Value {
    reqwest::get(format!("{}/_sim/stats", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// All requests the simulator answered.
pub fn requests(stats: &Value) -> u64 {
    stats["requests"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

/// Requests the simulator answered with `status`.
pub fn responses(stats: &Value, status: &str) -> u64 {
    stats["responses"][status].as_u64().unwrap_or(0)
}

/// `/_sim/mutate` or `/_sim/delete` with a fraction.
pub async fn control(sim: &RunningSimulator, path: &str, fraction: f64) -> Value {
    reqwest::Client::new()
        .post(format!("{}/_sim/{path}", sim.base_url()))
        .json(&json!({"fraction": fraction}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}
