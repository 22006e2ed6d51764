//! `GET /api/v1/data-quality` on a simulated tenant: each check's counts equal what the
//! simulator generated (who is unassigned, what is in progress, which pull requests carry
//! no key, which done issues with code have no merged pull request), and the checks follow
//! what a tenant changes (a status left without a mapping, a custom field mapped).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use crate::common::api::{self, TestApi};
use crate::common::source::{cli, connect_github, jira_tenant, strings};
use crate::common::{stderr, ScratchDb};
use pulse_etl::domain::UserRole;
use pulse_etl::simulator::jira::catalog::{Category, STATUSES};
use pulse_etl::simulator::links::{keys_of_pull, pull_of_issue};
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};

/// Each check of the integration of `provider`: (offending, total).
fn checks(report: &Value, provider: &str) -> BTreeMap<String, (i64, i64)> {
    let integration = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["provider"] == provider)
        .unwrap();
    integration["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let share = c["share"].as_f64().unwrap();
            let (offending, total) = (
                c["offending"].as_i64().unwrap(),
                c["total"].as_i64().unwrap(),
            );
            assert!((share - offending as f64 / total as f64).abs() < 1e-12);
            let examples = c["examples"].as_array().unwrap();
            assert_eq!(examples.len() as i64, offending.min(10), "{}", c["check"]);
            let weekly: i64 = c["weeks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["total"].as_i64().unwrap())
                .sum();
            assert!(weekly <= total && c["weeks"].as_array().unwrap().len() <= 8);
            (c["check"].as_str().unwrap().to_owned(), (offending, total))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_count_what_the_source_generated_and_follow_the_tenants_mappings() {
    let config = SimulatorConfig {
        seed: 41,
        jira_issues: 300,
        jira_projects: 2,
        github_repos: 2,
        github_prs: 90,
        slow_response: Duration::from_millis(1),
        ..SimulatorConfig::default()
    };
    let sim = RunningSimulator::start(config.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    connect_github(&db, &sim, &tenant, &["sim-gh-token"], &[]).await;
    for provider in ["jira", "github"] {
        let ran = cli(&db, strings(&["run-job", provider, "--tenant", &tenant])).await;
        assert!(ran.status.success(), "{}", stderr(&ran));
    }
    let api = TestApi::start(&db.pool).await;
    let (viewer, _) = api::user(&db.pool, &tenant, UserRole::Viewer).await;
    let token = api.login(&viewer).await;

    // What the simulator generated.
    let (issues, pulls) = (config.jira_population(), config.github_population());
    let generated: Vec<_> = (0..issues.issues).map(|i| issues.issue(i, &[])).collect();
    let category =
        |issue: &pulse_etl::simulator::jira::issues::Issue| STATUSES[issue.status].category;
    let unassigned = generated.iter().filter(|i| i.assignee.is_none()).count() as i64;
    let in_progress = generated
        .iter()
        .filter(|i| category(i) == Category::Indeterminate)
        .count() as i64;
    let done: Vec<_> = generated
        .iter()
        .filter(|i| category(i) == Category::Done)
        .collect();
    let done_with_code = done.iter().filter(|i| i.has_code).count() as i64;
    let done_code_unmerged = done
        .iter()
        .filter(|i| i.has_code)
        .filter(|i| {
            pulls
                .pull(pull_of_issue(i.index, pulls.pulls), &[])
                .merged_ms
                .is_none()
        })
        .count() as i64;
    let merged: Vec<u32> = (0..pulls.pulls)
        .filter(|p| pulls.pull(*p, &[]).merged_ms.is_some())
        .collect();
    let merged_without_key = merged
        .iter()
        .filter(|p| keys_of_pull(&issues, **p, pulls.pulls).is_empty())
        .count() as i64;

    let report = api.get("/api/v1/data-quality", &token).await;
    let jira = checks(&report, "jira");
    assert_eq!(jira["no_assignee"], (unassigned, issues.issues as i64));
    // The generated history ended long ago: every in-progress item is stale.
    assert_eq!(jira["stale_in_progress"], (in_progress, in_progress));
    assert_eq!(
        jira["done_code_without_merged_pr"],
        (done_code_unmerged, done_with_code)
    );
    assert_eq!(jira["unmapped_status"], (0, issues.issues as i64));
    assert_eq!(jira["direct_completion"].1, done.len() as i64);
    assert!(
        !jira.contains_key("unmapped_custom_fields"),
        "none discovered yet"
    );
    let github = checks(&report, "github");
    assert_eq!(
        github["pr_without_work_item"],
        (merged_without_key, merged.len() as i64)
    );
    assert!(merged_without_key > 0 && done_code_unmerged > 0 && unassigned > 0);

    // A status left without a mapping, custom fields discovered and one of them mapped.
    let unmapped: (i64, i64) = sqlx::query_as(
        "WITH gone AS (
             DELETE FROM status_mappings WHERE id = (
                 SELECT m.id FROM status_mappings m
                 WHERE EXISTS (SELECT 1 FROM work_items w WHERE w.status_id = m.status_id)
                 ORDER BY m.id LIMIT 1)
             RETURNING status_id)
         SELECT (SELECT count(*) FROM work_items w JOIN gone g ON g.status_id = w.status_id), 0::bigint",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let integration: i64 =
        sqlx::query_scalar("SELECT id FROM integrations WHERE provider = 'jira'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let integration = integration.to_string();
    let synced = cli(
        &db,
        strings(&["custom-fields", "sync", "--integration", &integration]),
    )
    .await;
    assert!(synced.status.success(), "{}", stderr(&synced));
    let (discovered, field): (i64, String) = sqlx::query_as(
        "SELECT count(*) OVER (), external_id FROM custom_fields ORDER BY external_id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let mapped = cli(
        &db,
        strings(&[
            "custom-fields",
            "map",
            "--integration",
            &integration,
            "--slot",
            "1",
            "--field",
            &field,
        ]),
    )
    .await;
    assert!(mapped.status.success(), "{}", stderr(&mapped));
    let report = api.get("/api/v1/data-quality", &token).await;
    let jira = checks(&report, "jira");
    assert!(unmapped.0 > 0);
    assert_eq!(jira["unmapped_status"].0, unmapped.0);
    assert_eq!(jira["unmapped_custom_fields"], (discovered - 1, discovered));
}
