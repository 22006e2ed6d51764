//! End-to-end Azure DevOps sync: `pulse-etl run-job azure_devops` (release build) against
//! `pulse-etl simulate` in another process, into a fresh database on the real PostgreSQL
//! server: a full sync of work items and pull requests, then 1 % of both changed and an
//! incremental sync. Prints work items/s, Boards requests per work item, Repos requests per
//! pull request, the incremental sync's requests as a share of the full sync's, and peak
//! RSS. Asserts nothing. Run with `cargo bench --bench azure_pipeline` (sizes, paired:
//! PULSE_BENCH_WORK_ITEMS=2000,10000 PULSE_BENCH_PRS=400,2000).
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

mod common;

use common::{
    free_port, pulse, pulse_measured, request_counts, sim_stats, stage_seconds, ScratchDb,
};
use serde_json::Value;

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("azure devops pipeline benchmark (run-job and simulator as separate processes, 2 cores shared)");
    let pulls = common::sizes("PULSE_BENCH_PRS", "400,2000");
    let items = common::sizes("PULSE_BENCH_WORK_ITEMS", "2000,10000");
    for (items, prs) in items.into_iter().zip(pulls) {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut sim = common::simulator(
            port,
            &[
                "--azure-work-items",
                &items.to_string(),
                "--azure-prs",
                &prs.to_string(),
            ],
        );
        let db = runtime.block_on(ScratchDb::migrated());
        let tenant = db.tenant();
        pulse(
            &db.url,
            &[
                "integration",
                "create",
                "--tenant",
                &tenant,
                "--provider",
                "azure_devops",
                "--base-url",
                &format!("{base}/sim-org"),
                "--token",
                "sim-azure-token",
                "--requests-per-second",
                "100000",
                "--concurrency",
                "32",
            ],
        );
        let run = || {
            pulse_measured(
                &db.url,
                &["--json", "run-job", "azure_devops", "--tenant", &tenant],
            )
        };
        let (summary, full_time, peak) = run();
        let steps: Vec<Value> = serde_json::from_str(&summary).unwrap();
        let full_stats = runtime.block_on(sim_stats(&base));
        let (full_requests, _) = request_counts(&full_stats);
        let repos_requests = repos_requests(&full_stats);
        let boards_requests = full_requests - repos_requests;
        let revisions = full_stats["truth"]["azure_revisions"].as_u64().unwrap_or(0);

        let mutated: Value = runtime.block_on(async {
            reqwest::Client::new()
                .post(format!("{base}/_sim/mutate"))
                .json(&serde_json::json!({"fraction": 0.01}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        let changed = mutated["azure_work_items_changed"].as_u64().unwrap()
            + mutated["azure_work_items_added"].as_u64().unwrap();
        let prs_changed = mutated["azure_prs_touched"].as_u64().unwrap()
            + mutated["azure_prs_added"].as_u64().unwrap();
        let (_, incremental_time, _) = run();
        let (all, _) = request_counts(&runtime.block_on(sim_stats(&base)));
        let incremental = all - full_requests;
        println!(
            "  {items:>7} work items ({revisions} revisions) full: {:.1} s = {:.0} work items/s | stages: extract {:.1} s, \
             transform {:.1} s, load {:.1} s | Boards {boards_requests} requests = {:.4} per work item | run-job peak RSS {peak:.0} MiB",
            full_time.as_secs_f64(),
            items as f64 / full_time.as_secs_f64(),
            stage_seconds(&steps, "extract_seconds"),
            stage_seconds(&steps, "transform_seconds"),
            stage_seconds(&steps, "load_seconds"),
            boards_requests as f64 / items as f64,
        );
        println!(
            "  {prs:>7} pull requests in the same run: Repos {repos_requests} requests = {:.3} per pull request",
            repos_requests as f64 / prs.max(1) as f64,
        );
        println!(
            "  {items:>7} work items + {prs} pull requests incremental after {changed} work items and {prs_changed} pull requests touched: {:.2} s | {incremental} requests = {:.1} % of the full sync's",
            incremental_time.as_secs_f64(),
            100.0 * incremental as f64 / full_requests as f64,
        );
        sim.kill().ok();
        sim.wait().ok();
        drop(db);
    }
}

/// Requests the simulator counted on Azure Repos routes.
fn repos_requests(stats: &Value) -> u64 {
    stats["requests"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(route, _)| route.contains("/_apis/git/"))
        .map(|(_, count)| count.as_u64().unwrap())
        .sum()
}
