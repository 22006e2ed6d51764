//! Raw storage of a live tenant: one simulator whose source changes 1 % before every run
//! (`PULSE_BENCH_RUNS` runs, default 500, of `PULSE_BENCH_ISSUES` issues, default 2,000),
//! each run an incremental `pulse-etl run-job jira` followed by `pulse-etl raw prune` with
//! no retention window (`raw.retain_days = 0`: only the newest version of each entity stays,
//! so what a window keeps on top is the versions of its days). Prints the curve every
//! `PULSE_BENCH_EVERY` runs (default 50): raw rows and the table's size on disk (heap,
//! TOAST and indexes) next to the first full sync's, and the rows kept without pruning.
//! Asserts nothing. Run with `cargo bench --bench raw_retention`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

mod common;

use common::{free_port, pulse, pulse_with, synced_jira_tenant, ScratchDb};
use serde_json::Value;

/// Raw rows, and the table's bytes on disk.
async fn raw_size(db: &ScratchDb) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM raw_extraction_data),
                pg_total_relation_size('raw_extraction_data')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let runs = common::sizes("PULSE_BENCH_RUNS", "500")[0];
    let issues = common::sizes("PULSE_BENCH_ISSUES", "2000")[0];
    let every = common::sizes("PULSE_BENCH_EVERY", "50")[0].max(1);
    let port = free_port();
    let mut sim = common::simulator(port, &["--jira-issues", &issues.to_string()]);
    let base = format!("http://127.0.0.1:{port}");
    let db = runtime.block_on(ScratchDb::migrated());
    let tenant = db.tenant();
    synced_jira_tenant(&db.url, &tenant, port);
    let (first_rows, first_bytes) = runtime.block_on(raw_size(&db));
    println!(
        "raw retention benchmark: {issues} issues, 1 % changed before each of {runs} runs, \
         pruned after each run with raw.retain_days = 0"
    );
    println!(
        "  after the first full sync: {first_rows} rows, {:.1} MiB",
        mib(first_bytes)
    );
    let mut pruned_total = 0_i64;
    let client = reqwest::Client::new();
    for run in 1..=runs {
        runtime
            .block_on(
                client
                    .post(format!("{base}/_sim/mutate"))
                    .json(&serde_json::json!({"fraction": 0.01}))
                    .send(),
            )
            .unwrap();
        pulse(&db.url, &["run-job", "jira", "--tenant", &tenant]);
        let (pruned, _) = pulse_with(
            &db.url,
            &["--json", "raw", "prune", "--tenant", &tenant],
            &[("PULSE_RAW__RETAIN_DAYS", "0")],
        );
        let pruned: Value = serde_json::from_str(&pruned).unwrap();
        pruned_total += pruned[0]["pruned"].as_i64().unwrap();
        if run % every == 0 || run == runs {
            let (rows, bytes) = runtime.block_on(raw_size(&db));
            println!(
                "  run {run:>4}: {rows} rows ({:.2} x the first sync), {:.1} MiB ({:.2} x); \
                 without pruning {} rows ({:.2} x)",
                rows as f64 / first_rows as f64,
                mib(bytes),
                bytes as f64 / first_bytes as f64,
                rows + pruned_total,
                (rows + pruned_total) as f64 / first_rows as f64,
            );
        }
    }
    sim.kill().ok();
    sim.wait().ok();
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / 1_048_576.0
}
