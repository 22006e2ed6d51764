//! End-to-end Jira sync: `pulse-etl run-job jira` (release build) against `pulse-etl
//! simulate` in another process, into a fresh database on the real PostgreSQL server.
//! Prints issues/s, time per stage, API requests, peak RSS, and the time PostgreSQL alone
//! takes to COPY the same raw JSON (the physical ceiling). Asserts nothing.
//! Run with `cargo bench --bench jira_pipeline` (sizes: PULSE_BENCH_ISSUES=10000,100000).
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

mod common;

use std::time::{Duration, Instant};

use common::{
    free_port, pulse, pulse_measured, request_counts, sim_stats, stage_seconds, ScratchDb,
};
use serde_json::Value;
use sqlx::{Connection, PgConnection};

/// COPY of the stored raw issue JSON into a scratch table: PostgreSQL's own ceiling.
async fn copy_ceiling(database: &str) -> (usize, Duration) {
    let mut connection = PgConnection::connect(database).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT raw_data::text FROM raw_extraction_data WHERE type = 'jira_issue'",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    let mut data = String::with_capacity(rows.iter().map(|r| r.len() + 1).sum());
    for row in &rows {
        data.push_str(&row.replace('\\', "\\\\"));
        data.push('\n');
    }
    sqlx::query("CREATE TEMP TABLE copy_ceiling (raw jsonb)")
        .execute(&mut connection)
        .await
        .unwrap();
    let started = Instant::now();
    let mut copy = connection
        .copy_in_raw("COPY copy_ceiling (raw) FROM STDIN")
        .await
        .unwrap();
    copy.send(data.as_bytes()).await.unwrap();
    copy.finish().await.unwrap();
    (rows.len(), started.elapsed())
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!(
        "jira pipeline benchmark (run-job and simulator as separate processes, 2 cores shared)"
    );
    for issues in common::sizes("PULSE_BENCH_ISSUES", "10000,100000") {
        let port = free_port();
        let mut sim = common::simulator(port, &["--jira-issues", &issues.to_string()]);
        let db = runtime.block_on(ScratchDb::migrated());
        let tenant = db.tenant();
        let base = format!("http://127.0.0.1:{port}");
        pulse(
            &db.url,
            &[
                "integration",
                "create",
                "--tenant",
                &tenant,
                "--provider",
                "jira",
                "--base-url",
                &base,
                "--username",
                "sim@example.com",
                "--token",
                "sim-token",
                "--requests-per-second",
                "100000",
                "--concurrency",
                "32",
            ],
        );
        let (summary, elapsed, peak) =
            pulse_measured(&db.url, &["--json", "run-job", "jira", "--tenant", &tenant]);
        let (requests, _) = request_counts(&runtime.block_on(sim_stats(&base)));
        let steps: Vec<Value> = serde_json::from_str(&summary).unwrap();
        let (copied, copy_time) = runtime.block_on(copy_ceiling(&db.url));
        println!(
            "  {issues:>7} issues: {:.1} s end to end = {:.0} issues/s | stages: extract {:.1} s, transform {:.1} s, \
             load {:.1} s (busy time summed over the side-by-side consumers) | {requests} API requests \
             | run-job peak RSS {peak:.0} MiB | COPY of the same {copied} raw issues {:.2} s ({:.0}/s)",
            elapsed.as_secs_f64(),
            issues as f64 / elapsed.as_secs_f64(),
            stage_seconds(&steps, "extract_seconds"),
            stage_seconds(&steps, "transform_seconds"),
            stage_seconds(&steps, "load_seconds"),
            copy_time.as_secs_f64(),
            copied as f64 / copy_time.as_secs_f64(),
        );
        sim.kill().ok();
        sim.wait().ok();
        drop(db);
    }
}
