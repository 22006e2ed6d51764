//! `pulse-etl simulate`: serves the source simulator until Ctrl-C or SIGTERM.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::SimulateArgs;
use crate::simulator::{RunningSimulator, SimulatorConfig};

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let config = SimulatorConfig {
        seed: args.seed,
        jira_projects: usize::from(args.jira_projects),
        jira_issues: args.jira_issues,
        jira_user: args.jira_user,
        jira_token: args.jira_token,
        jira_timezone: args.jira_timezone,
        github_repos: usize::from(args.github_repos),
        github_prs: args.github_prs,
        github_tokens: args.github_tokens,
        azure_work_items: args.azure_work_items,
        azure_prs: args.azure_prs,
        azure_token: args.azure_token,
        azure_malformed_rate: args.azure_malformed_rate,
        azure_throttle_every: args.azure_throttle_every,
        jira_rate: args.jira_rate,
        github_budget: args.github_budget,
        github_window: Duration::from_secs(args.github_window_secs),
        github_max_concurrency: args.github_max_concurrency,
        github_secondary_retry_after_secs: args.github_secondary_retry_after,
        fault_rate: args.fault_rate,
        latency: Duration::from_millis(args.latency_ms),
        jira_malformed_rate: args.jira_malformed_rate,
        github_malformed_rate: args.github_malformed_rate,
        embeddings_model_dir: args.embeddings_model_dir,
        embeddings_key: args.embeddings_key,
        embeddings_throttle_every: args.embeddings_throttle_every,
        ..SimulatorConfig::default()
    };
    let started = Instant::now();
    let mut simulator = RunningSimulator::start(
        config.clone(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
    )
    .await
    .with_context(|| format!("starting the simulator on 127.0.0.1:{}", args.port))?;
    tracing::info!(
        base_url = %simulator.base_url(),
        seed = config.seed,
        jira_issues = config.jira_issues,
        jira_projects = config.jira_projects,
        github_prs = config.github_prs,
        github_repos = config.github_repos,
        azure_work_items = config.azure_work_items,
        azure_prs = config.azure_prs,
        startup_ms = started.elapsed().as_millis() as u64,
        rss_mib = resident_mib(),
        "simulator ready: Jira Basic auth {}:{}",
        config.jira_user,
        config.jira_token
    );
    tokio::select! {
        served = simulator.wait() => served.context("simulator stopped")?,
        _ = super::signals::shutdown() => {
            tracing::info!("shutting down");
            simulator.stop().await.context("stopping the simulator")?;
        }
    }
    Ok(())
}

/// Resident memory of this process, from /proc (None where unavailable).
fn resident_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024)
}
