//! Simulator throughput: start-up time and memory for 10k and 100k issues, and how many
//! issues with changelogs per second one core serves through `/search/jql`.
//! Run with `cargo bench --bench simulator`; prints figures, asserts nothing.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

use std::net::SocketAddr;
use std::time::Instant;

use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// Same allocator as the binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Only what the walk needs, so the client stays cheaper than the server it measures.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    issues: Vec<Issue>,
    is_last: bool,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct Issue {
    changelog: Changelog,
}

#[derive(Deserialize)]
struct Changelog {
    histories: Vec<IgnoredAny>,
}

fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Starts the simulator on a single-threaded runtime in its own thread (one core).
fn serve_on_one_core(
    config: SimulatorConfig,
) -> (String, std::time::Duration, std::sync::mpsc::Sender<()>) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let started = Instant::now();
            let sim = RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .expect("start");
            ready_tx
                .send((sim.base_url(), started.elapsed()))
                .expect("ready");
            tokio::task::spawn_blocking(move || stop_rx.recv())
                .await
                .ok();
            sim.stop().await.ok();
        });
    });
    let (base, startup) = ready_rx.recv().expect("simulator started");
    (base, startup, stop_tx)
}

async fn walk(base: &str) -> (usize, usize, usize) {
    let client = reqwest::Client::new();
    let (mut issues, mut histories, mut requests) = (0, 0, 0);
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![
            ("maxResults", "100".to_owned()),
            ("expand", "changelog".to_owned()),
        ];
        if let Some(token) = &token {
            query.push(("nextPageToken", token.clone()));
        }
        let page: Page = client
            .get(format!("{base}/rest/api/3/search/jql"))
            .basic_auth("sim@example.com", Some("sim-token"))
            .query(&query)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        requests += 1;
        issues += page.issues.len();
        histories += page
            .issues
            .iter()
            .map(|i| i.changelog.histories.len())
            .sum::<usize>();
        if page.is_last {
            return (issues, histories, requests);
        }
        token = page.next_page_token;
    }
}

fn main() {
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("simulator benchmark (server on one core, client on another)");
    for issues in [10_000u32, 100_000] {
        let before = resident_mib();
        let config = SimulatorConfig {
            seed: 7,
            jira_issues: issues,
            ..SimulatorConfig::default()
        };
        let (base, startup, stop) = serve_on_one_core(config);
        let after_start = resident_mib();
        let started = Instant::now();
        let (served, histories, requests) = client_runtime.block_on(walk(&base));
        let elapsed = started.elapsed().as_secs_f64();
        let after_walk = resident_mib();
        println!(
            "  {issues:>7} issues: start-up {:>6.0} ms, RSS +{:.1} MiB after start, +{:.1} MiB after walk | \
             walked {served} issues ({histories} embedded histories, {requests} requests) in {elapsed:.2} s = {:.0} issues/s",
            startup.as_secs_f64() * 1000.0,
            after_start - before,
            after_walk - before,
            served as f64 / elapsed,
        );
        stop.send(()).ok();
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
