//! End-to-end GitHub sync: `pulse-etl run-job github` (release build) against `pulse-etl
//! simulate` in another process, into a fresh database on the real PostgreSQL server: a
//! full sync, then 1 % of pull requests changed and an incremental sync. Prints pull
//! requests/s, requests per pull request (counted, i.e. not 304), GraphQL points and peak
//! RSS, for each API (`PULSE_BENCH_GITHUB_API=rest,graphql`). Asserts nothing. Run with
//! `cargo bench --bench github_pipeline` (sizes: PULSE_BENCH_PRS=2000,10000).
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

mod common;

use common::{
    free_port, pulse, pulse_measured, request_counts, sim_stats, stage_seconds, ScratchDb,
};
use serde_json::Value;

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!(
        "github pipeline benchmark (run-job and simulator as separate processes, 2 cores shared)"
    );
    let apis = std::env::var("PULSE_BENCH_GITHUB_API").unwrap_or_else(|_| "rest,graphql".into());
    let sizes = common::sizes("PULSE_BENCH_PRS", "2000,10000");
    for (api, prs) in apis
        .split(',')
        .flat_map(|api| sizes.iter().map(move |prs| (api.trim().to_owned(), *prs)))
    {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut sim = common::simulator(
            port,
            &[
                "--github-prs",
                &prs.to_string(),
                "--github-repos",
                "10",
                "--github-budget",
                "1000000000",
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
                "github",
                "--base-url",
                &base,
                "--token",
                "sim-gh-token",
                "--requests-per-second",
                "100000",
                "--concurrency",
                "32",
                "--api",
                &api,
            ],
        );
        let run = || {
            pulse_measured(
                &db.url,
                &["--json", "run-job", "github", "--tenant", &tenant],
            )
        };
        let (summary, full_time, peak) = run();
        let steps: Vec<Value> = serde_json::from_str(&summary).unwrap();
        let full_stats = runtime.block_on(sim_stats(&base));
        let (full_requests, full_free) = request_counts(&full_stats);
        let full_counted = full_requests - full_free;
        let full_points = full_stats["graphql_points"].as_u64().unwrap_or(0);

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
        let changed =
            mutated["prs_changed"].as_u64().unwrap() + mutated["prs_added"].as_u64().unwrap();
        let (_, incremental_time, _) = run();
        let incremental_stats = runtime.block_on(sim_stats(&base));
        let (all, free) = request_counts(&incremental_stats);
        let incremental_counted = all - free - full_counted;
        let incremental_points =
            incremental_stats["graphql_points"].as_u64().unwrap_or(0) - full_points;
        println!(
            "  {api:<7} {prs:>6} PRs full: {:.1} s = {:.0} PRs/s | stages: extract {:.1} s, transform {:.1} s, load {:.1} s \
             | {full_counted} counted requests = {:.3} per PR, {full_points} GraphQL points | run-job peak RSS {peak:.0} MiB",
            full_time.as_secs_f64(),
            prs as f64 / full_time.as_secs_f64(),
            stage_seconds(&steps, "extract_seconds"),
            stage_seconds(&steps, "transform_seconds"),
            stage_seconds(&steps, "load_seconds"),
            full_counted as f64 / prs as f64,
        );
        println!(
            "  {api:<7} {prs:>6} PRs incremental after {changed} changed: {:.2} s | {incremental_counted} counted requests \
             ({} answered 304) = {:.1} % of the full sync's, {incremental_points} GraphQL points",
            incremental_time.as_secs_f64(),
            free - full_free,
            100.0 * incremental_counted as f64 / full_counted as f64,
        );
        sim.kill().ok();
        sim.wait().ok();
        drop(db);
    }
}
