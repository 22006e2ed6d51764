//! Jira ↔ GitHub links without a call per issue: work items are linked to the pull
//! requests that carry their keys (title, branch, commits), whichever side syncs first, and
//! the links equal the ones Jira's development panel gives for the same simulated tenant.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::common::source::{
    cli, connect_github, control, jira_tenant, jira_tenant_with, requests, stats, strings,
};
use crate::common::{stderr, ScratchDb};
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};

const ISSUES: u32 = 1_000;

async fn sync(db: &ScratchDb, tenant: &str, provider: &str) {
    let ran = cli(db, strings(&["run-job", provider, "--tenant", tenant])).await;
    assert!(ran.status.success(), "{}", stderr(&ran));
}

/// The tenant's links as (work item key, repository, pull request number).
async fn links(db: &ScratchDb, tenant: &str) -> BTreeSet<(String, String, i32)> {
    sqlx::query_as(
        "SELECT w.key, l.repository_full_name, l.pr_number FROM work_item_pr_links l
         JOIN work_items w ON w.id = l.work_item_id WHERE l.tenant_id = $1::text::bigint",
    )
    .bind(tenant)
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_by_keys_equal_the_development_panel_without_per_issue_calls() {
    let config = SimulatorConfig {
        seed: 31,
        jira_issues: ISSUES,
        jira_projects: 3,
        github_repos: 3,
        github_prs: 150,
        slow_response: Duration::from_millis(1),
        ..SimulatorConfig::default()
    };
    let sim = RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let db = ScratchDb::migrated().await;

    // The development panel: one call per issue with code.
    let panel = jira_tenant_with(&db, &sim, "sim-token", &["--dev-status"]).await;
    connect_github(&db, &sim, &panel, &["sim-gh-token"], &[]).await;
    let before = requests(&stats(&sim).await);
    sync(&db, &panel, "jira").await;
    let panel_requests = requests(&stats(&sim).await) - before;
    sync(&db, &panel, "github").await;

    // Keys, Jira first: the links appear when the pull requests load.
    let jira_first = jira_tenant(&db, &sim, "sim-token").await;
    connect_github(&db, &sim, &jira_first, &["sim-gh-token"], &[]).await;
    let before = requests(&stats(&sim).await);
    sync(&db, &jira_first, "jira").await;
    let key_requests = requests(&stats(&sim).await) - before;
    sync(&db, &jira_first, "github").await;

    // Keys, GitHub first: the links appear when the issues load.
    let github_first = jira_tenant(&db, &sim, "sim-token").await;
    connect_github(&db, &sim, &github_first, &["sim-gh-token"], &[]).await;
    sync(&db, &github_first, "github").await;
    sync(&db, &github_first, "jira").await;

    let expected = links(&db, &panel).await;
    assert!(
        expected.len() > 300,
        "{} development-panel links",
        expected.len()
    );
    assert_eq!(
        links(&db, &jira_first).await,
        expected,
        "keys, Jira synced first"
    );
    assert_eq!(
        links(&db, &github_first).await,
        expected,
        "keys, GitHub synced first"
    );

    // A Jira sync with key links costs a few calls for the whole site, not one per issue.
    let per_issue = key_requests as f64 / f64::from(ISSUES);
    assert!(
        per_issue <= 0.05,
        "{key_requests} Jira requests for {ISSUES} issues"
    );
    assert!(
        panel_requests > 10 * key_requests,
        "dev-status {panel_requests}, keys {key_requests}"
    );
    eprintln!(
        "Jira requests per issue: keys {per_issue:.3}, development panel {:.3}",
        panel_requests as f64 / f64::from(ISSUES)
    );

    // A pull request renamed so that it names no key loses its key links on the next load
    // (here a reprocess of the stored data after its title and branch change; the
    // simulator's commit messages name no key).
    let (pr, before): (i64, i64) = sqlx::query_as(
        "SELECT p.id, count(*) FROM prs p JOIN repositories r ON r.id = p.repository_id
         JOIN work_item_pr_links l ON l.tenant_id = p.tenant_id AND l.repository_full_name = r.full_name AND l.pr_number = p.number
         WHERE p.tenant_id = $1::text::bigint GROUP BY p.id ORDER BY p.id LIMIT 1",
    )
    .bind(&github_first)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(before > 0);
    let github_integration: String = sqlx::query_scalar(
        "SELECT id::text FROM integrations WHERE tenant_id = $1::text::bigint AND provider = 'github'",
    )
    .bind(&github_first)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE raw_extraction_data SET raw_data = jsonb_set(jsonb_set(raw_data, '{title}', '\"Renamed\"'), '{headRefName}', '\"renamed\"') WHERE type = 'github_graphql_pull' AND external_id = (SELECT external_id FROM prs WHERE id = $1)")
        .bind(pr)
        .execute(&db.pool)
        .await
        .unwrap();
    let reprocessed = cli(
        &db,
        strings(&[
            "reprocess",
            "--tenant",
            &github_first,
            "--integration",
            &github_integration,
        ]),
    )
    .await;
    assert!(reprocessed.status.success(), "{}", stderr(&reprocessed));
    let after: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM prs p JOIN repositories r ON r.id = p.repository_id
         JOIN work_item_pr_links l ON l.tenant_id = p.tenant_id AND l.repository_full_name = r.full_name AND l.pr_number = p.number
         WHERE p.id = $1",
    )
    .bind(pr)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        after, 0,
        "a renamed pull request keeps {after} of its {before} key links"
    );

    // The long-lived issues' full changelogs came from the bulk fetch, never issue by issue.
    let routes = &stats(&sim).await["requests"];
    assert!(
        routes["POST /rest/api/3/changelog/bulkfetch"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{routes}"
    );
    assert!(
        routes["GET /rest/api/3/issue/{id_or_key}/changelog"].is_null(),
        "{routes}"
    );
    let longest: i64 = sqlx::query_scalar(
        "SELECT coalesce(max(jsonb_array_length(raw_data->'changeHistories')), 0)::bigint FROM raw_extraction_data
         WHERE type = 'jira_issue_changelog'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        longest > 100,
        "a long changelog came whole from the bulk fetch ({longest} histories)"
    );
    let transitions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM changelogs WHERE tenant_id = $1::text::bigint")
            .bind(&jira_first)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        Some(transitions as u64),
        stats(&sim).await["truth"]["status_transitions"].as_u64()
    );

    // Replays change nothing.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM work_item_pr_links")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    sync(&db, &github_first, "jira").await;
    sync(&db, &github_first, "github").await;
    let again: i64 = sqlx::query_scalar("SELECT count(*) FROM work_item_pr_links")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, again);

    // The development panel is read again only where the development summary changed:
    // nothing after a run with no change, a few after 1 % of the issues moved on.
    let dev_status = |stats: &serde_json::Value| {
        stats["requests"]["GET /rest/dev-status/latest/issue/detail"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = dev_status(&stats(&sim).await);
    sync(&db, &panel, "jira").await;
    assert_eq!(
        dev_status(&stats(&sim).await),
        before,
        "unchanged issues were asked again"
    );
    let mutated = control(&sim, "mutate", 0.01).await;
    let moved =
        mutated["issues_changed"].as_u64().unwrap() + mutated["issues_added"].as_u64().unwrap();
    sync(&db, &panel, "jira").await;
    let asked = dev_status(&stats(&sim).await) - before;
    assert!(
        asked > 0 && asked <= moved,
        "{asked} panels read after {moved} issues changed"
    );
    sim.stop().await.unwrap();
}
