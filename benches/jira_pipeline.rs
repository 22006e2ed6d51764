//! End-to-end Jira sync: `pulse-etl run-job jira` (release build) against `pulse-etl
//! simulate` in another process, into a fresh database on the real PostgreSQL server.
//! Prints issues/s, time per stage, API requests, peak RSS, and the time PostgreSQL alone
//! takes to COPY the same raw JSON (the physical ceiling, with the sync's share of its
//! rate); then `pulse-etl reprocess` of the same issues. Each size runs once per answer
//! latency the simulator adds (`PULSE_BENCH_LATENCY_MS`, default 0,100; the ratio to the
//! 0 ms run is printed). Asserts nothing. Run with `cargo bench --bench jira_pipeline`
//! (sizes: PULSE_BENCH_ISSUES=10000,100000).
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
    let latencies = common::sizes("PULSE_BENCH_LATENCY_MS", "0,100");
    for issues in common::sizes("PULSE_BENCH_ISSUES", "10000,100000") {
        let mut unhindered = None;
        for latency in &latencies {
            let wall = sync(&runtime, issues, *latency);
            let base = *unhindered.get_or_insert(wall);
            if *latency > 0 {
                println!(
                    "  {issues:>7} issues at {latency} ms an answer: {:.2} x the 0 ms time",
                    wall.as_secs_f64() / base.as_secs_f64()
                );
            }
        }
    }
}

/// One sync of `issues` with `latency` ms added to each answer, then (without latency)
/// a reprocess of what it stored; prints the figures, returns the sync's wall time.
fn sync(runtime: &tokio::runtime::Runtime, issues: u32, latency: u32) -> Duration {
    {
        let port = free_port();
        let mut sim = common::simulator(
            port,
            &[
                "--jira-issues",
                &issues.to_string(),
                "--latency-ms",
                &latency.to_string(),
            ],
        );
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
        let (rate, ceiling) = (
            issues as f64 / elapsed.as_secs_f64(),
            copied as f64 / copy_time.as_secs_f64(),
        );
        println!(
            "  {issues:>7} issues, {latency} ms latency: {:.1} s end to end = {rate:.0} issues/s \
             = {:.0} % of COPY | stages: extract {:.1} s, transform {:.1} s, \
             load {:.1} s (busy time summed over the side-by-side consumers) | {requests} API requests \
             | run-job peak RSS {peak:.0} MiB | COPY of the same {copied} raw issues {:.2} s ({ceiling:.0}/s)",
            elapsed.as_secs_f64(),
            100.0 * rate / ceiling,
            stage_seconds(&steps, "extract_seconds"),
            stage_seconds(&steps, "transform_seconds"),
            stage_seconds(&steps, "load_seconds"),
            copy_time.as_secs_f64(),
        );
        if latency == 0 {
            let integration = runtime.block_on(db.integration_id());
            let (summary, again, peak) = pulse_measured(
                &db.url,
                &[
                    "--json",
                    "reprocess",
                    "--tenant",
                    &tenant,
                    "--integration",
                    &integration,
                ],
            );
            let steps: Vec<Value> = serde_json::from_str(&summary).unwrap();
            println!(
                "  {issues:>7} issues reprocessed: {:.1} s = {:.0} issues/s | transform {:.1} s, load {:.1} s \
                 | peak RSS {peak:.0} MiB",
                again.as_secs_f64(),
                issues as f64 / again.as_secs_f64(),
                stage_seconds(&steps, "transform_seconds"),
                stage_seconds(&steps, "load_seconds"),
            );
        }
        sim.kill().ok();
        sim.wait().ok();
        drop(db);
        elapsed
    }
}
