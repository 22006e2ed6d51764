//! `run-job github` beyond the conformance suite: pull-request sizes and flow metrics,
//! unchanged REST listings answered 304 at no quota, a spent quota (REST requests, GraphQL
//! points), secondary limits, a flaky source, bad tokens, reprocess, and Jira's development
//! links meeting the pull requests.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common;
use crate::common::source::{
    cli, cli_logging, connect_github, count, github_tables, github_tenant, requests, responses,
    stats, strings, tenant,
};
use crate::common::{stderr, stdout, ScratchDb};
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};
use serde_json::Value;

async fn simulator(config: SimulatorConfig) -> RunningSimulator {
    RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

fn github(prs: u32) -> SimulatorConfig {
    SimulatorConfig {
        seed: 23,
        jira_issues: 200,
        github_repos: 3,
        github_prs: prs,
        slow_response: Duration::from_millis(20),
        ..SimulatorConfig::default()
    }
}

async fn run(db: &ScratchDb, tenant: &str, extra: &[&str]) -> std::process::Output {
    let mut args = strings(&["--json", "run-job", "github", "--tenant", tenant]);
    args.extend(strings(extra));
    cli(db, args).await
}

/// Requests that spent quota: everything but the free 304s.
fn counted(stats: &Value) -> u64 {
    requests(stats) - responses(stats, "304")
}

async fn assert_matches_truth(db: &ScratchDb, truth: &Value) {
    for (table, key) in [
        ("prs", "prs"),
        ("pr_reviews", "reviews"),
        ("pr_commits", "commits"),
        ("pr_comments", "comments"),
    ] {
        assert_eq!(
            count(db, &format!("SELECT count(*) FROM {table}")).await as u64,
            truth["truth"][key].as_u64().unwrap(),
            "{table}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_flow_metrics_and_unchanged_listings_that_cost_no_quota() {
    let sim = simulator(github(400)).await;
    let db = ScratchDb::migrated().await;
    let tenant = rest_tenant(&db, &sim, &["sim-gh-token"], &[]).await;

    let first = run(&db, &tenant, &[]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let summary: Value = serde_json::from_str(&stdout(&first)).unwrap();
    assert_eq!(summary[0]["step"], "github_repositories");
    assert_eq!(summary[0]["loaded"], 3);
    assert_eq!(summary[1]["step"], "github_pull_requests");
    assert_eq!(summary[1]["loaded"], 400);
    let after_first = stats(&sim).await;
    assert_matches_truth(&db, &after_first).await;
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM raw_extraction_data WHERE status <> 'processed'"
        )
        .await,
        0,
        "every raw row went through"
    );
    // Size fields come from the single-PR answers; flow metrics from the loaded children.
    assert_eq!(
        count(&db, "SELECT count(*) FROM prs WHERE additions IS NULL").await,
        0
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM prs WHERE merged_at IS NOT NULL AND first_commit_at IS NOT NULL AND cycle_time_seconds IS NULL").await,
        0
    );
    assert!(
        count(
            &db,
            "SELECT count(*) FROM prs WHERE pickup_time_seconds > 0"
        )
        .await
            > 100
    );
    let (state, status): (String, Value) = sqlx::query_as("SELECT state, status FROM etl_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(state, "FINISHED");
    for (step, stages) in status["steps"].as_object().unwrap() {
        for stage in ["extraction", "transform", "load"] {
            assert_eq!(stages[stage], "finished", "{step} {stage}");
        }
    }

    // Nothing changed: no pull request is fetched again; the pull request listings answer
    // 304 at once, the comment listings (first read since the cursor) from the run after.
    let pull_routes = |stats: &Value| -> u64 {
        stats["requests"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(route, _)| route.contains("{number}"))
            .map(|(_, n)| n.as_u64().unwrap())
            .sum()
    };
    for idle_run in 0..2 {
        let before = stats(&sim).await;
        let idle = run(&db, &tenant, &[]).await;
        assert!(idle.status.success(), "{}", stderr(&idle));
        let after = stats(&sim).await;
        assert_eq!(pull_routes(&after), pull_routes(&before));
        let costly = counted(&after) - counted(&before);
        let free = responses(&after, "304") - responses(&before, "304");
        match idle_run {
            0 => assert_eq!(
                (costly, free),
                (1 + 6 + 3, 3),
                "repository list + 6 comment lists + a deployments query per repository"
            ),
            _ => assert_eq!(
                (costly, free),
                (1 + 3, 9),
                "only the repository list and the deployments queries cost quota"
            ),
        }
    }

    sim.stop().await.unwrap();
}

async fn rest_tenant(
    db: &ScratchDb,
    sim: &RunningSimulator,
    tokens: &[&str],
    extra: &[&str],
) -> String {
    let tenant = tenant(db).await;
    let mut extra = extra.to_vec();
    extra.extend(["--api", "rest"]);
    connect_github(db, sim, &tenant, tokens, &extra).await;
    tenant
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_quota_is_waited_out_not_failed() {
    // REST: two tokens of 30 requests per 2 s each, for ~130 requests: the run must wait.
    let sim = simulator(SimulatorConfig {
        github_repos: 1,
        github_tokens: vec!["gh-a".into(), "gh-b".into()],
        github_budget: 30,
        github_window: Duration::from_secs(2),
        ..github(40)
    })
    .await;
    let db = ScratchDb::migrated().await;
    let tenant = rest_tenant(&db, &sim, &["gh-a", "gh-b"], &["--repos", "sim-org/repo-0"]).await;
    let args = strings(&["run-job", "github", "--tenant", &tenant]);
    let output = cli_logging(&db, args, "info").await;
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("request budget spent: waiting for the refill"),
        "{log}"
    );
    assert_matches_truth(&db, &stats(&sim).await).await;
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_graphql_points_are_waited_out_whether_known_or_answered() {
    // 8 points per 10 s; a page of pull requests costs 5, its review threads 1.
    let sim = simulator(SimulatorConfig {
        github_repos: 1,
        github_budget: 8,
        github_window: Duration::from_secs(10),
        ..github(40)
    })
    .await;
    let db = ScratchDb::migrated().await;
    let tenant = github_tenant(&db, &sim).await;
    let first = run(&db, &tenant, &[]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    // A new process knows nothing of the budget: its first query is answered RATE_LIMITED
    // (2 points left, fewer than the page costs), and it waits for the reset instead of
    // failing.
    let args = strings(&["run-job", "github", "--tenant", &tenant, "--full"]);
    let second = cli_logging(&db, args, "pulse_etl=debug").await;
    let log = stderr(&second);
    assert!(second.status.success(), "{log}");
    assert!(log.contains("reason=GraphQL rate limit"), "{log}");
    assert!(
        log.contains("request budget spent: waiting for the refill"),
        "{log}"
    );
    assert_matches_truth(&db, &stats(&sim).await).await;
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondary_limits_are_obeyed_not_failed() {
    // At most 3 requests in flight (the client sends up to 16, each answered after 20 ms):
    // 429 with `retry-after`.
    let sim = simulator(SimulatorConfig {
        github_repos: 1,
        latency: Duration::from_millis(20),
        github_max_concurrency: 3,
        github_secondary_retry_after_secs: 1,
        ..github(60)
    })
    .await;
    let db = ScratchDb::migrated().await;
    let tenant = rest_tenant(&db, &sim, &["sim-gh-token"], &[]).await;
    let output = run(&db, &tenant, &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let truth = stats(&sim).await;
    assert!(responses(&truth, "429") > 0, "{}", truth["responses"]);
    assert_matches_truth(&db, &truth).await;
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_source_still_syncs_completely() {
    // GraphQL asks a hundred pull requests at a time: fewer requests, so more faults each.
    for (api, fault_rate, prs) in [("rest", 0.06, 150), ("graphql", 0.25, 600)] {
        let sim = simulator(SimulatorConfig {
            fault_rate,
            ..github(prs)
        })
        .await;
        let db = ScratchDb::migrated().await;
        let tenant = tenant(&db).await;
        connect_github(&db, &sim, &tenant, &["sim-gh-token"], &["--api", api]).await;
        let output = run(&db, &tenant, &[]).await;
        assert!(output.status.success(), "{api}: {}", stderr(&output));
        let truth = stats(&sim).await;
        let faults: u64 = ["500", "502", "503"]
            .iter()
            .map(|status| responses(&truth, status))
            .sum();
        assert!(
            faults > 0,
            "{api}: faults were served: {}",
            truth["responses"]
        );
        assert_matches_truth(&db, &truth).await;
        sim.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_and_unknown_repositories_fail_the_job_clearly() {
    let sim = simulator(github(20)).await;
    let db = ScratchDb::migrated().await;
    let tenant = tenant(&db).await;
    connect_github(&db, &sim, &tenant, &["wrong-token"], &[]).await;
    let output = run(&db, &tenant, &[]).await;
    common::assert_clear_failure(&output, "401");
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, error_message FROM etl_jobs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(state, "FAILED");
    assert!(error.unwrap().contains("401"));

    let other = tenant_with_repo(&db, &sim, "sim-org/no-such-repo").await;
    let output = run(&db, &other, &[]).await;
    common::assert_clear_failure(&output, "404");
    sim.stop().await.unwrap();
}

async fn tenant_with_repo(db: &ScratchDb, sim: &RunningSimulator, repo: &str) -> String {
    let tenant = tenant(db).await;
    connect_github(db, sim, &tenant, &["sim-gh-token"], &["--repos", repo]).await;
    tenant
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_development_links_meet_the_synced_pull_requests() {
    let sim = simulator(github(300)).await;
    let db = ScratchDb::migrated().await;
    let tenant = github_tenant(&db, &sim).await;
    let jira = cli(
        &db,
        strings(&[
            "integration",
            "create",
            "--tenant",
            &tenant,
            "--provider",
            "jira",
            "--base-url",
            &sim.base_url(),
            "--username",
            "sim@example.com",
            "--token",
            "sim-token",
            "--requests-per-second",
            "2000",
        ]),
    )
    .await;
    assert!(jira.status.success(), "{}", stderr(&jira));
    for provider in ["jira", "github"] {
        let output = cli(&db, strings(&["run-job", provider, "--tenant", &tenant])).await;
        assert!(output.status.success(), "{provider}: {}", stderr(&output));
    }
    let links = count(&db, "SELECT count(*) FROM work_item_pr_links").await;
    assert!(links > 10, "{links} links");
    // Every link names a simulated pull request, and each one is now loaded.
    assert_eq!(
        count(&db, "SELECT count(*) FROM work_item_prs").await,
        links
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM work_item_prs wp JOIN prs p ON p.id = wp.pr_id JOIN work_items w ON w.id = wp.work_item_id WHERE p.tenant_id = w.tenant_id").await,
        links
    );
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reprocess_rebuilds_the_github_tables_from_raw_data_without_api_calls() {
    let sim = simulator(github(120)).await;
    let db = ScratchDb::migrated().await;
    let tenant = github_tenant(&db, &sim).await;
    let first = run(&db, &tenant, &[]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let synced = github_tables(&db).await;
    let requests_before = requests(&stats(&sim).await);

    // The loaded rows are lost; the raw rows are not.
    sqlx::query("TRUNCATE pr_deployments, deployments, pr_comments, pr_reviews, pr_commits, prs, repositories")
        .execute(&db.pool)
        .await
        .unwrap();
    let integration: i64 = sqlx::query_scalar("SELECT id FROM integrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let args = strings(&[
        "--json",
        "reprocess",
        "--tenant",
        &tenant,
        "--integration",
        &integration.to_string(),
    ]);
    let output = cli(&db, args).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary[1]["step"], "github_pull_requests");
    assert_eq!(summary[1]["loaded"], 120);
    assert_eq!(github_tables(&db).await, synced, "flow metrics included");
    assert_eq!(requests(&stats(&sim).await), requests_before, "no API call");
    sim.stop().await.unwrap();
}
