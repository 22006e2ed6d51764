//! Webhooks end to end, as separate processes: the simulator (`PULSE_BENCH_ISSUES` Jira
//! issues, `PULSE_BENCH_PRS` pull requests, default 2,000 and 500) and `pulse-etl all`
//! (release build) over a fresh database, webhooks installed through the CLI.
//!
//! Prints: change → visible in the tables (every changed record stamped) and → searchable
//! (every delivery of the round processed, which is after its records are embedded with the
//! local model, when `../shared/models/all-MiniLM-L6-v2` or `PULSE_TEST_MODEL_DIR` has it)
//! p50/p95 over `PULSE_BENCH_ROUNDS` rounds of 0.1 % changes, next to what polling at the
//! default interval gives; the receivers' throughput and answer times at `PULSE_BENCH_RATE`
//! deliveries/s (default 500) for `PULSE_BENCH_SECONDS` (default 60); and requests to the
//! sources per 1,000 changes. Asserts nothing. `cargo bench --bench webhooks`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

mod common;
#[path = "../tests/it/common/qdrant.rs"]
#[allow(dead_code)] // the tests' helper; the benchmark uses part of it
mod qdrant;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, pulse, request_counts, sim_stats, ScratchDb, ALLOW_LOOPBACK, SECRET_KEY};
use serde_json::{json, Value};

/// The default `scheduler.interval_secs`.
const DEFAULT_INTERVAL_SECS: f64 = 900.0;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

/// `pulse-etl all` over `database`, its API on `api_port`.
fn start_all(database: &str, api_port: u16, model: Option<&str>) -> Child {
    let mut child = Command::new(common::binary())
        .args(["all", "--interval-secs", "3600"])
        .env("DATABASE_URL", database)
        .env("PULSE_SECRET_KEY", SECRET_KEY)
        .env(
            "PULSE_JWT_SECRET",
            "bench-jwt-secret-that-is-long-enough-0123456789",
        )
        .env("PULSE_HTTP_ADDR", format!("127.0.0.1:{api_port}"))
        .env("PULSE_SCHEDULER__POLL_SECS", "1")
        .env(ALLOW_LOOPBACK.0, ALLOW_LOOPBACK.1)
        .envs(model.map(|dir| ("PULSE_EMBEDDING__MODEL_DIR", dir)))
        .env(
            "RUST_LOG",
            std::env::var("PULSE_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", api_port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().ok();
    child.wait().ok();
    panic!("all did not start");
}

async fn scalar(db: &ScratchDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}

async fn until(db: &ScratchDb, sql: &str, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while scalar(db, sql).await != expected {
        assert!(Instant::now() < deadline, "{sql} never reached {expected}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const PROCESSED: &str =
    "SELECT count(*) FROM raw_extraction_data WHERE type LIKE '%_webhook' AND status = 'processed'";

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let issues = env_number("PULSE_BENCH_ISSUES", 2_000);
    let prs = env_number("PULSE_BENCH_PRS", 500);
    let rounds = env_number("PULSE_BENCH_ROUNDS", 20);
    let rate = env_number("PULSE_BENCH_RATE", 500);
    let seconds = env_number("PULSE_BENCH_SECONDS", 60);
    let sim_port = free_port();
    let sim_args = [
        "--jira-issues",
        &issues.to_string(),
        "--github-prs",
        &prs.to_string(),
    ];
    let mut sim = common::simulator(sim_port, &sim_args);
    let sim_base = format!("http://127.0.0.1:{sim_port}");
    let db = ScratchDb::migrated().await;
    let tenant = db.tenant();
    let create = |provider: &str, extra: &[&str]| {
        let mut args = vec![
            "--json",
            "integration",
            "create",
            "--tenant",
            &tenant,
            "--provider",
            provider,
            "--base-url",
            &sim_base,
            "--requests-per-second",
            "2000",
            "--concurrency",
            "16",
        ];
        args.extend_from_slice(extra);
        let (out, _) = pulse(&db.url, &args);
        serde_json::from_str::<Value>(&out).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let jira = create(
        "jira",
        &["--username", "sim@example.com", "--token", "sim-token"],
    );
    let github = create("github", &["--token", "sim-gh-token"]);
    let model = qdrant::model_dir().map(|dir| dir.display().to_string());
    if let Some(dir) = &model {
        let args = [
            "embedding",
            "set",
            "--tenant",
            &tenant,
            "--provider",
            "local",
        ];
        common::pulse_with(
            &db.url,
            &args,
            &[("PULSE_EMBEDDING__MODEL_DIR", dir.as_str())],
        );
    }
    let api_port = free_port();
    let mut all = start_all(&db.url, api_port, model.as_deref());
    until(
        &db,
        "SELECT count(*) FROM etl_jobs WHERE state = 'FINISHED'",
        2,
    )
    .await;
    let public_url = format!("http://127.0.0.1:{api_port}");
    for id in [jira, github] {
        pulse(
            &db.url,
            &[
                "integration",
                "webhooks",
                "install",
                &id.to_string(),
                "--public-url",
                &public_url,
            ],
        );
    }
    println!(
        "webhooks benchmark: {issues} issues + {prs} pull requests; `all` and the simulator as separate processes (2 cores shared); embedding: {}",
        if model.is_some() { "local model" } else { "none (no model here)" }
    );

    // Change → visible.
    let client = reqwest::Client::new();
    let (requests_before, _) = request_counts(&sim_stats(&sim_base).await);
    let mut latencies = Vec::new();
    let mut to_tables = Vec::new();
    let mut changes = 0;
    let mut delivered = 0;
    for _ in 0..rounds {
        let since: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let started = Instant::now();
        let round: Value = client
            .post(format!("{sim_base}/_sim/mutate"))
            .json(&json!({"fraction": 0.001}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let count = round["webhook_deliveries"].as_i64().unwrap();
        delivered += count;
        changes += count;
        // In the tables: every changed record stamped (the upserts stamp real changes only).
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let stamped: i64 = sqlx::query_scalar(
                "SELECT (SELECT count(*) FROM work_items WHERE updated_at >= $1)
                      + (SELECT count(*) FROM prs WHERE updated_at >= $1)",
            )
            .bind(since)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            if stamped >= count {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{stamped} of {count} changes reached the tables"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        to_tables.push(started.elapsed().as_secs_f64());
        until(&db, PROCESSED, delivered).await;
        latencies.push(started.elapsed().as_secs_f64());
    }
    let (requests_after, _) = request_counts(&sim_stats(&sim_base).await);
    latencies.sort_by(f64::total_cmp);
    to_tables.sort_by(f64::total_cmp);
    println!(
        "change → in the tables, webhooks: p50 {:.2} s, p95 {:.2} s ({rounds} rounds, {changes} changes; includes the 1 s coalescing window)",
        percentile(&to_tables, 0.5),
        percentile(&to_tables, 0.95)
    );
    println!(
        "change → searchable (embedded; processed), webhooks: p50 {:.2} s, p95 {:.2} s",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95)
    );
    println!(
        "change → in the tables, polling every {DEFAULT_INTERVAL_SECS} s: p50 ≈ {:.0} s, p95 ≈ {:.0} s plus the sync (a change waits for the next run)",
        DEFAULT_INTERVAL_SECS * 0.5,
        DEFAULT_INTERVAL_SECS * 0.95
    );
    let used = requests_after - requests_before;
    println!(
        "requests to the sources: {used} for {changes} changes = {:.0} per 1,000 changes",
        used as f64 * 1_000.0 / changes.max(1) as f64
    );

    // Receiver throughput: signed Jira deliveries at `rate` per second.
    let secret = {
        let (out, _) = pulse(
            &db.url,
            &[
                "integration",
                "webhook-secret",
                &jira.to_string(),
                "--rotate",
            ],
        );
        out.trim().to_owned()
    };
    let url = format!("{public_url}/api/v1/webhooks/jira/{jira}");
    let (before, _) = request_counts(&sim_stats(&sim_base).await);
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut sends = Vec::with_capacity(total as usize);
    for n in 0..total {
        let due = started + interval * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let body = serde_json::to_vec(&json!({
            "webhookEvent": "jira:issue_updated",
            "issue": {"id": (10_000 + n % issues).to_string()},
        }))
        .unwrap();
        let signature = pulse_etl::security::sign_webhook(secret.as_bytes(), &body);
        let request = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-hub-signature", signature)
            .header("x-atlassian-webhook-identifier", format!("bench-{n}"))
            .body(body);
        sends.push(tokio::spawn(async move {
            let sent = Instant::now();
            let answer = request.send().await;
            (
                answer.map(|a| a.status().as_u16()).unwrap_or(0),
                sent.elapsed().as_secs_f64(),
            )
        }));
    }
    let mut answers = Vec::new();
    let mut accepted = 0;
    for send in sends {
        let (status, seconds) = send.await.unwrap();
        accepted += u64::from(status == 202);
        answers.push(seconds);
    }
    let wall = started.elapsed().as_secs_f64();
    answers.sort_by(f64::total_cmp);
    println!(
        "receiver: {accepted}/{total} stored in {wall:.1} s = {:.0} deliveries/s (asked {rate}/s); answer p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        accepted as f64 / wall,
        percentile(&answers, 0.5) * 1e3,
        percentile(&answers, 0.99) * 1e3,
        answers.last().copied().unwrap_or(f64::NAN) * 1e3
    );
    let processing = Instant::now();
    until(&db, PROCESSED, delivered + accepted as i64).await;
    let (after, _) = request_counts(&sim_stats(&sim_base).await);
    println!(
        "processing the burst: done {:.1} s after the last answer; {} requests to Jira for {accepted} deliveries naming {} issues (coalesced) = {:.0} per 1,000 deliveries",
        processing.elapsed().as_secs_f64(),
        after - before,
        issues.min(total),
        (after - before) as f64 * 1_000.0 / accepted.max(1) as f64
    );
    all.kill().ok();
    all.wait().ok();
    sim.kill().ok();
    sim.wait().ok();
}
