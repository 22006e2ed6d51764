//! What a first sync and an incremental one cost a live tenant: one simulator with a
//! real-world answer latency (`PULSE_BENCH_LATENCY_MS`, default 250 ms) serving
//! `PULSE_BENCH_ISSUES` Jira issues and `PULSE_BENCH_PRS` GitHub pull requests (default
//! 10,000 each), synced by `pulse-etl run-job` (release build) in each mode: GitHub over
//! REST and over GraphQL, Jira linking by issue keys and through the development panel.
//! Each mode gets a fresh database: a full sync, then 1 % of the source changed and an
//! incremental sync. Prints requests, GraphQL points, wall time, and the projected hours
//! of a first full sync of 50,000 pull requests (or 100,000 issues) on one token, at
//! GitHub's 5,000 requests (REST) or points (GraphQL) per hour and Jira's burst limit of 20
//! requests per second, whichever binds, or the measured wall time scaled up when latency
//! binds. The budgets are projected from the counts, not waited out. Asserts nothing.
//! Run with `cargo bench --bench live_tenant` (`PULSE_BENCH_ONLY=graphql` for one mode).
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

mod common;

use std::time::Duration;

use common::{free_port, pulse, sim_stats, ScratchDb};
use serde_json::Value;

/// GitHub's primary limit per token and hour (REST requests, or GraphQL points).
const GITHUB_PER_HOUR: f64 = 5_000.0;
/// A Jira Cloud site's burst limit, requests per second.
const JIRA_PER_SECOND: f64 = 20.0;

/// What one sync asked of the simulator.
#[derive(Clone, Copy, Default)]
struct Asked {
    rest: u64,
    graphql: u64,
    points: u64,
    wall: Duration,
}

fn asked(stats: &Value) -> (u64, u64, u64) {
    let requests = stats["requests"].as_object().unwrap();
    let graphql = requests
        .get("POST /graphql")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let free = stats["responses"]["304"].as_u64().unwrap_or(0);
    let all: u64 = requests.values().map(|v| v.as_u64().unwrap()).sum();
    (
        all - graphql - free,
        graphql,
        stats["graphql_points"].as_u64().unwrap_or(0),
    )
}

/// Hours the sync would take on one token when `scale` times bigger.
fn projected_hours(provider: &str, run: Asked, scale: f64) -> (f64, &'static str) {
    let latency = run.wall.as_secs_f64() * scale / 3_600.0;
    let budget = if provider == "github" {
        (run.rest.max(run.points) as f64) * scale / GITHUB_PER_HOUR
    } else {
        run.rest as f64 * scale / JIRA_PER_SECOND / 3_600.0
    };
    if budget >= latency {
        (budget, "rate limit")
    } else {
        (latency, "latency")
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let size = |name: &str| common::sizes(name, "10000")[0];
    let (issues, prs) = (size("PULSE_BENCH_ISSUES"), size("PULSE_BENCH_PRS"));
    let latency = std::env::var("PULSE_BENCH_LATENCY_MS").unwrap_or_else(|_| "250".into());
    println!(
        "live tenant benchmark: {issues} issues + {prs} pull requests, {latency} ms per answer, \
         run-job and simulator as separate processes (2 cores shared)"
    );
    let modes: [(&str, &str, &[&str]); 4] = [
        ("github", "REST", &["--api", "rest"]),
        ("github", "GraphQL", &["--api", "graphql"]),
        ("jira", "issue keys", &[]),
        ("jira", "dev-status", &["--dev-status"]),
    ];
    // `PULSE_BENCH_ONLY=graphql` runs the modes whose "provider mode" name contains it.
    let only = std::env::var("PULSE_BENCH_ONLY")
        .unwrap_or_default()
        .to_lowercase();
    for (provider, mode, extra) in modes {
        if !format!("{provider} {mode}").to_lowercase().contains(&only) {
            continue;
        }
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut sim = common::simulator(
            port,
            &[
                "--jira-issues",
                &issues.to_string(),
                "--github-prs",
                &prs.to_string(),
                "--github-repos",
                "10",
                "--github-budget",
                "1000000000",
                "--latency-ms",
                &latency,
            ],
        );
        let db = runtime.block_on(ScratchDb::migrated());
        let tenant = db.tenant();
        let mut create = vec![
            "integration",
            "create",
            "--tenant",
            &tenant,
            "--provider",
            provider,
            "--base-url",
            &base,
            "--requests-per-second",
            "100000",
            "--concurrency",
            "32",
        ];
        if provider == "jira" {
            create.extend(["--username", "sim@example.com", "--token", "sim-token"]);
        } else {
            create.extend(["--token", "sim-gh-token"]);
        }
        create.extend(extra.iter());
        pulse(&db.url, &create);
        let mut before = (0, 0, 0);
        let mut run = || {
            let (_, wall) = pulse(
                &db.url,
                &["--json", "run-job", provider, "--tenant", &tenant],
            );
            let now = asked(&runtime.block_on(sim_stats(&base)));
            let delta = Asked {
                rest: now.0 - before.0,
                graphql: now.1 - before.1,
                points: now.2 - before.2,
                wall,
            };
            before = now;
            delta
        };
        let full = run();
        runtime.block_on(async {
            reqwest::Client::new()
                .post(format!("{base}/_sim/mutate"))
                .json(&serde_json::json!({"fraction": 0.01}))
                .send()
                .await
                .unwrap()
        });
        let incremental = run();
        let (items, target) = if provider == "github" {
            (prs, 50_000.0)
        } else {
            (issues, 100_000.0)
        };
        for (label, sync) in [("full", full), ("incremental after 1 %", incremental)] {
            let requests = sync.rest + sync.graphql;
            let (hours, bound) = projected_hours(provider, sync, target / f64::from(items));
            println!(
                "  {provider} {mode:<10} {label:<22} {:>7.1} s | {requests:>6} requests ({} REST, {} GraphQL) \
                 = {:.4} per item, {} points | {} {}: {hours:.2} h on one token ({bound} binds)",
                sync.wall.as_secs_f64(),
                sync.rest,
                sync.graphql,
                requests as f64 / f64::from(items),
                sync.points,
                if label == "full" { "first sync of" } else { "same share of" },
                if provider == "github" { "50k PRs" } else { "100k issues" },
            );
        }
        sim.kill().ok();
        sim.wait().ok();
        drop(db);
    }
}
