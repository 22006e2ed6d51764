//! `run-job github` end to end: the real binary syncs the simulated GitHub into a real
//! database — full, incremental with ETags, under a spent quota, on a flaky source — and
//! Jira's development links meet the pull requests.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common;
use crate::common::queues::{terminate, Queues};
use crate::common::source::{
    cli, cli_logging, cli_with, control, count, requests, responses, stats, strings, tenant,
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

/// Adds a GitHub integration with `tokens` (and any extra arguments) to the tenant.
async fn connect_github(
    db: &ScratchDb,
    sim: &RunningSimulator,
    tenant: &str,
    tokens: &[&str],
    extra: &[&str],
) {
    let mut args = strings(&[
        "integration",
        "create",
        "--tenant",
        tenant,
        "--provider",
        "github",
        "--base-url",
        &sim.base_url(),
        "--requests-per-second",
        "2000",
        "--concurrency",
        "16",
    ]);
    for token in tokens {
        args.extend(strings(&["--token", token]));
    }
    args.extend(strings(extra));
    let created = cli(db, args).await;
    assert!(created.status.success(), "{}", stderr(&created));
}

async fn github_tenant(db: &ScratchDb, sim: &RunningSimulator) -> String {
    let tenant = tenant(db).await;
    connect_github(db, sim, &tenant, &["sim-gh-token"], &[]).await;
    tenant
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

/// GitHub tables by natural keys, without surrogate ids or bookkeeping times.
async fn canonical(db: &ScratchDb) -> Vec<Vec<Value>> {
    let bookkeeping = "ARRAY['id', 'tenant_id', 'integration_id', 'repository_id', 'pr_id', 'created_at', 'updated_at']";
    let mut tables = Vec::new();
    for (table, order) in [
        ("repositories", "t.external_id"),
        ("prs", "t.external_id"),
        ("pr_commits", "t.external_id"),
        ("pr_reviews", "t.external_id"),
        ("pr_comments", "t.comment_type, t.external_id"),
    ] {
        let rows = sqlx::query_scalar(&format!(
            "SELECT to_jsonb(t) - {bookkeeping} FROM {table} t ORDER BY {order}"
        ))
        .fetch_all(&db.pool)
        .await
        .unwrap();
        tables.push(rows);
    }
    tables
}

/// Every table of the sync byte for byte, bookkeeping times included.
async fn dump(db: &ScratchDb) -> Vec<String> {
    let mut tables = Vec::new();
    for table in [
        "repositories",
        "prs",
        "pr_commits",
        "pr_reviews",
        "pr_comments",
    ] {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT t::text FROM {table} t ORDER BY id"))
                .fetch_all(&db.pool)
                .await
                .unwrap();
        tables.extend(rows);
    }
    tables
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
async fn full_then_incremental_sync_matches_the_source() {
    let sim = simulator(github(400)).await;
    let db = ScratchDb::migrated().await;
    let tenant = github_tenant(&db, &sim).await;

    let first = run(&db, &tenant, &[]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let summary: Value = serde_json::from_str(&stdout(&first)).unwrap();
    assert_eq!(summary[0]["step"], "github_repositories");
    assert_eq!(summary[0]["loaded"], 3);
    assert_eq!(summary[1]["step"], "github_pull_requests");
    assert_eq!(summary[1]["loaded"], 400);
    let after_first = stats(&sim).await;
    assert_matches_truth(&db, &after_first).await;
    let first_requests = counted(&after_first);
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
                (1 + 6, 3),
                "repository list + 6 comment lists"
            ),
            _ => assert_eq!(
                (costly, free),
                (1, 9),
                "only the repository list costs quota"
            ),
        }
    }
    let after_idle = stats(&sim).await;

    // 1 % of pull requests move on: the next run fetches only those.
    control(&sim, "mutate", 0.01).await;
    let second = run(&db, &tenant, &[]).await;
    assert!(second.status.success(), "{}", stderr(&second));
    let after_second = stats(&sim).await;
    let second_requests = counted(&after_second) - counted(&after_idle);
    assert!(
        second_requests * 100 <= first_requests * 10,
        "incremental run made {second_requests} counted requests, the full one {first_requests}"
    );
    assert_matches_truth(&db, &after_second).await;

    // ... and ends where a fresh full sync of the changed source ends.
    let fresh = ScratchDb::migrated().await;
    let fresh_tenant = github_tenant(&fresh, &sim).await;
    let full = run(&fresh, &fresh_tenant, &["--full"]).await;
    assert!(full.status.success(), "{}", stderr(&full));
    assert_eq!(canonical(&db).await, canonical(&fresh).await);

    // Replaying a full sync changes nothing, not even bookkeeping times.
    let before = dump(&fresh).await;
    let again = run(&fresh, &fresh_tenant, &["--full"]).await;
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(before, dump(&fresh).await);
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_quota_is_waited_out_not_failed() {
    // Two tokens of 30 requests per 2 s each, for ~130 requests: the run must wait.
    let sim = simulator(SimulatorConfig {
        github_repos: 1,
        github_tokens: vec!["gh-a".into(), "gh-b".into()],
        github_budget: 30,
        github_window: Duration::from_secs(2),
        ..github(40)
    })
    .await;
    let db = ScratchDb::migrated().await;
    let tenant = tenant(&db).await;
    connect_github(
        &db,
        &sim,
        &tenant,
        &["gh-a", "gh-b"],
        &["--repos", "sim-org/repo-0"],
    )
    .await;
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
    let tenant = github_tenant(&db, &sim).await;
    let output = run(&db, &tenant, &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let truth = stats(&sim).await;
    assert!(responses(&truth, "429") > 0, "{}", truth["responses"]);
    assert_matches_truth(&db, &truth).await;
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_source_still_syncs_completely() {
    let sim = simulator(SimulatorConfig {
        fault_rate: 0.06,
        ..github(150)
    })
    .await;
    let db = ScratchDb::migrated().await;
    let tenant = github_tenant(&db, &sim).await;
    let output = run(&db, &tenant, &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let truth = stats(&sim).await;
    let faults: u64 = ["500", "502", "503"]
        .iter()
        .map(|status| responses(&truth, status))
        .sum();
    assert!(faults > 0, "faults were served: {}", truth["responses"]);
    assert_matches_truth(&db, &truth).await;
    sim.stop().await.unwrap();
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
    let synced = canonical(&db).await;
    let requests_before = requests(&stats(&sim).await);

    // The loaded rows are lost; the raw rows are not.
    sqlx::query("TRUNCATE pr_comments, pr_reviews, pr_commits, prs, repositories")
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
    assert_eq!(canonical(&db).await, synced, "flow metrics included");
    assert_eq!(requests(&stats(&sim).await), requests_before, "no API call");
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_over_rabbitmq_with_transform_and_load_workers_matches_the_source() {
    let sim = simulator(github(150)).await;
    let db = ScratchDb::migrated().await;
    let tenant = github_tenant(&db, &sim).await;
    let queues = Queues::new();
    let dir = tempfile::tempdir().unwrap();
    let transform = queues.worker_of(&db, dir.path(), &["transform"]);
    let load = queues.worker_of(&db, dir.path(), &["load"]);
    let args = strings(&[
        "--json", "run-job", "github", "--tenant", &tenant, "--queue", "rabbitmq",
    ]);
    let synced = cli_with(&db, args, &queues.env()).await;
    assert!(synced.status.success(), "{}", stderr(&synced));
    for worker in [transform, load] {
        assert!(terminate(worker).success());
    }
    let summary: Value = serde_json::from_str(&stdout(&synced)).unwrap();
    assert_eq!(summary[1]["loaded"], 150);
    assert_matches_truth(&db, &stats(&sim).await).await;
    assert_eq!(count(&db, "SELECT count(*) FROM load_batches").await, 0);
    // Comments land only on loaded pull requests, so their order over the queues matters.
    assert!(count(&db, "SELECT count(*) FROM pr_comments").await > 0);
    assert_eq!(
        count(&db, "SELECT count(*) FROM prs WHERE merged_at IS NOT NULL AND first_commit_at IS NOT NULL AND cycle_time_seconds IS NULL").await,
        0,
        "flow metrics computed after the workers loaded"
    );

    let reference = ScratchDb::migrated().await;
    let reference_tenant = github_tenant(&reference, &sim).await;
    let in_process = run(&reference, &reference_tenant, &[]).await;
    assert!(in_process.status.success(), "{}", stderr(&in_process));
    assert_eq!(canonical(&db).await, canonical(&reference).await);
    queues.delete().await;
    sim.stop().await.unwrap();
}
