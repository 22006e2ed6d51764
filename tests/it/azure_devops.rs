//! Azure DevOps beyond the conformance suite: the workflow metrics of simulated work items
//! worked out by hand from their revisions, pull requests' votes, comments, metrics and
//! links to work items, the repositories an integration names, and the answers a wrong
//! token and a throttling organization give.

use std::net::SocketAddr;

use serde_json::Value;

use crate::common::source::{azure_tenant, cli, count, create_azure, stats, strings, tenant};
use crate::common::{stderr, ScratchDb};
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};

async fn simulator(config: SimulatorConfig) -> RunningSimulator {
    RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

fn small() -> SimulatorConfig {
    SimulatorConfig {
        seed: 3,
        jira_issues: 10,
        github_prs: 10,
        azure_work_items: 40,
        azure_prs: 0,
        ..SimulatorConfig::default()
    }
}

/// A simulator of `config`, a fresh database and a tenant whose Azure DevOps integration
/// has synced once.
async fn synced_org(config: SimulatorConfig) -> (RunningSimulator, ScratchDb, String) {
    let sim = simulator(config).await;
    let db = ScratchDb::migrated().await;
    let tenant = azure_tenant(&db, &sim, "sim-azure-token").await;
    let synced = sync(&db, &tenant).await;
    assert!(synced.status.success(), "{}", stderr(&synced));
    (sim, db, tenant)
}

async fn sync(db: &ScratchDb, tenant: &str) -> std::process::Output {
    cli(
        db,
        strings(&["run-job", "azure_devops", "--tenant", tenant]),
    )
    .await
}

/// A work item's row as JSON, by id, its times written `2024-10-11T10:36:29.398Z`.
async fn work_item(db: &ScratchDb, id: &str) -> Value {
    sqlx::query_scalar(
        r#"SELECT jsonb_object_agg(f.key, CASE WHEN f.key LIKE '%\_at' AND f.value <> 'null'
                    THEN to_jsonb(to_char((f.value #>> '{}')::timestamptz AT TIME ZONE 'UTC',
                                          'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                    ELSE f.value END)
           FROM work_items w, jsonb_each(to_jsonb(w)) f WHERE w.external_id = $1"#,
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// Work item 16 of seed 3, by its revisions: Backlog (created 2024-10-08) → To Do
/// (10-11 10:36:29.398, committed) → In Progress (10-11 20:00:46.983) → Code Review
/// (10-15 13:53:16.472) → In Progress (10-19 16:27:35.242) → back to To Do (10-23
/// 16:25:03.718) → In Progress (10-24 20:04:51.211) → Code Review (10-28 02:29:48.998) →
/// Testing (10-30 12:44:50.550) → Done (11-03 08:52:47.535); revisions 4, 6, 11 and 12
/// change no state. By the default steps (Proposed states to do, "To Do" the commitment
/// point, InProgress states in progress, Completed done):
/// - six work starts (In Progress ×3, Code Review ×2, Testing), one completion, two
///   commitments (the return to To Do is a backlog return);
/// - work time = (10-11 20:00:46.983 → 10-23 16:25:03.718) + (10-24 20:04:51.211 →
///   11-03 08:52:47.535) = 1,023,856.735 + 823,676.324 = 1,847,533.059 s;
/// - time in to-do states after commitment = 9:24:17.585 + 1 d 3:39:47.493 = 133,445.078 s;
/// - cycle = first start → completion = 1,947,120.552 s; lead = commitment → completion
///   = 1,980,978.137 s; complexity = 2 × 2 returns + 0 = 4; rework; no direct completion.
///
/// Work item 3: Backlog → To Do (2024-02-26 00:06:13.699) → Done (02-28 14:17:49.216):
/// completed straight from to do, no start: direct completion, lead 223,895.517 s, no
/// cycle time.
#[tokio::test]
async fn workflow_metrics_of_work_items_match_their_revisions_worked_out_by_hand() {
    let sim = simulator(small()).await;
    let db = ScratchDb::migrated().await;
    let tenant = azure_tenant(&db, &sim, "sim-azure-token").await;
    let synced = sync(&db, &tenant).await;
    assert!(synced.status.success(), "{}", stderr(&synced));

    let item = work_item(&db, "16").await;
    assert_eq!(item["summary"].as_str().map(str::is_empty), Some(false));
    let expected = serde_json::json!({
        "work_first_committed_at": "2024-10-11T10:36:29.398Z",
        "work_first_started_at": "2024-10-11T20:00:46.983Z",
        "work_last_started_at": "2024-10-30T12:44:50.550Z",
        "work_first_completed_at": "2024-11-03T08:52:47.535Z",
        "work_last_completed_at": "2024-11-03T08:52:47.535Z",
        "total_work_starts": 6,
        "total_completions": 1,
        "total_backlog_returns": 2,
        "total_work_time_seconds": 1_847_533.059,
        "total_review_time_seconds": 133_445.078,
        "total_cycle_time_seconds": 1_947_120.552,
        "total_lead_time_seconds": 1_980_978.137,
        "workflow_complexity_score": 4,
        "rework_indicator": true,
        "direct_completion": false,
    });
    for (metric, value) in expected.as_object().unwrap() {
        assert_eq!(&item[metric], value, "work item 16: {metric}");
    }
    let transitions: Vec<(String, String, String, f64)> = sqlx::query_as(
        "SELECT c.external_id, f.name, t.name, c.time_in_status_seconds
         FROM changelogs c JOIN work_items w ON w.id = c.work_item_id
         JOIN statuses f ON f.id = c.from_status_id JOIN statuses t ON t.id = c.to_status_id
         WHERE w.external_id = '16' ORDER BY c.transition_change_date",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let walked: Vec<(&str, &str, &str)> = transitions
        .iter()
        .map(|(id, from, to, _)| (id.as_str(), from.as_str(), to.as_str()))
        .collect();
    assert_eq!(
        walked,
        [
            ("16.2", "Backlog", "To Do"),
            ("16.3", "To Do", "In Progress"),
            ("16.5", "In Progress", "Code Review"),
            ("16.7", "Code Review", "In Progress"),
            ("16.8", "In Progress", "To Do"),
            ("16.9", "To Do", "In Progress"),
            ("16.10", "In Progress", "Code Review"),
            ("16.13", "Code Review", "Testing"),
            ("16.14", "Testing", "Done"),
        ]
    );
    // Backlog from creation (2024-10-08 22:23:12.850) to To Do.
    assert_eq!(transitions[0].3, 216_796.548);

    let direct = work_item(&db, "3").await;
    assert_eq!(direct["direct_completion"], true);
    assert_eq!(direct["total_work_starts"], 0);
    assert_eq!(direct["total_lead_time_seconds"], 223_895.517);
    assert_eq!(direct["total_cycle_time_seconds"], 0.0);
    sim.stop().await.unwrap();
}

/// A token Azure DevOps does not know gets its sign-in page with 203: the job fails saying
/// so, at once, instead of retrying or storing the page.
#[tokio::test]
async fn a_token_answered_with_the_sign_in_page_fails_the_job_in_words() {
    let sim = simulator(small()).await;
    let db = ScratchDb::migrated().await;
    let tenant = azure_tenant(&db, &sim, "revoked-token").await;
    let synced = sync(&db, &tenant).await;
    assert!(!synced.status.success());
    assert!(
        stderr(&synced).contains("203") && stderr(&synced).contains("sign-in page"),
        "{}",
        stderr(&synced)
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM raw_extraction_data").await,
        0,
        "the sign-in page is not stored as an answer"
    );
    sim.stop().await.unwrap();
}

/// An organization throttling every fifth request (429, `Retry-After: 1`, `X-RateLimit-*`)
/// slows the sync down but ends with every work item.
#[tokio::test]
async fn throttling_is_waited_out() {
    let (sim, db, _) = synced_org(SimulatorConfig {
        azure_throttle_every: 5,
        ..small()
    })
    .await;
    let stats = crate::common::source::stats(&sim).await;
    assert_eq!(
        count(&db, "SELECT count(*) FROM work_items").await as u64,
        stats["truth"]["azure_work_items"].as_u64().unwrap()
    );
    assert!(crate::common::source::responses(&stats, "429") > 0);
    sim.stop().await.unwrap();
}

/// Pull requests: votes are reviews, people's comments are comments (the system's vote and
/// status threads are not), merged ones get a cycle time from their first commit, and each
/// links to the work items it names, by work item reference or by `AB#id` mention, with
/// Azure's pull request address.
#[tokio::test]
async fn pull_requests_carry_votes_comments_metrics_and_work_item_links() {
    let (sim, db, _) = synced_org(SimulatorConfig {
        azure_prs: 40,
        ..small()
    })
    .await;
    let truth = stats(&sim).await["truth"].clone();
    for (query, key) in [
        ("SELECT count(*) FROM prs", "azure_prs"),
        ("SELECT count(*) FROM pr_reviews", "azure_reviews"),
        ("SELECT count(*) FROM pr_comments", "azure_comments"),
        ("SELECT count(*) FROM work_item_pr_links", "azure_pr_links"),
    ] {
        assert_eq!(
            count(&db, query).await as u64,
            truth[key].as_u64().unwrap(),
            "{key}"
        );
    }
    assert_eq!(
        count(&db, "SELECT count(*) FROM pr_reviews WHERE state NOT IN ('APPROVED', 'APPROVED_WITH_SUGGESTIONS', 'WAITING_FOR_AUTHOR', 'REJECTED')").await,
        0
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM pr_comments WHERE body LIKE '%voted%' OR body LIKE 'The pull request was%'").await,
        0,
        "system threads are no comments"
    );
    // Cycle time runs from the first commit authored to the merge.
    let merged = count(&db, "SELECT count(*) FROM prs WHERE merged_at IS NOT NULL").await;
    assert!(merged > 0);
    let matching = count(
        &db,
        "SELECT count(*) FROM prs p WHERE p.merged_at IS NOT NULL
           AND abs(p.cycle_time_seconds - extract(epoch FROM p.merged_at -
                   (SELECT min(c.authored_date) FROM pr_commits c WHERE c.pr_id = p.id))) < 0.001",
    )
    .await;
    assert_eq!(matching, merged);
    // Links by mention and by reference both arrive, with the pull request's web address.
    let by_mention = "SELECT count(*) FROM work_item_pr_links l JOIN work_items w ON w.id = l.work_item_id
                      JOIN prs p ON p.number = l.pr_number WHERE p.title LIKE '%AB#' || w.key || ' %'";
    let mentioned = count(&db, by_mention).await;
    let links = count(&db, "SELECT count(*) FROM work_item_pr_links").await;
    assert!(mentioned > 0 && mentioned < links, "{mentioned} of {links}");
    let base = sim.base_url_for(pulse_etl::domain::Provider::AzureDevops);
    let addressed = count(
        &db,
        &format!(
            "SELECT count(*) FROM work_item_pr_links l
             WHERE l.pr_url = '{base}/' || replace(split_part(l.repository_full_name, '/', 1), ' ', '%20')
                              || '/_git/' || split_part(l.repository_full_name, '/', 2)
                              || '/pullrequest/' || l.pr_number"
        ),
    )
    .await;
    assert_eq!(addressed, links);
    sim.stop().await.unwrap();
}

/// An integration naming repositories (`project/name`) reads only their pull requests; a
/// repository not written that way is refused when the integration is made.
#[tokio::test]
async fn named_repositories_limit_the_pull_requests_read() {
    let sim = simulator(SimulatorConfig {
        azure_prs: 30,
        ..small()
    })
    .await;
    let db = ScratchDb::migrated().await;
    let tenant = tenant(&db).await;
    let base_url = sim.base_url_for(pulse_etl::domain::Provider::AzureDevops);
    let create = |repos: &'static str| {
        let (db, tenant, base_url) = (&db, &tenant, &base_url);
        async move {
            create_azure(
                db,
                tenant,
                (base_url, "sim-azure-token"),
                &["--repos", repos],
            )
            .await
        }
    };
    let refused = create("repo-1").await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("project/name"),
        "{}",
        stderr(&refused)
    );
    let created = create("tailspin/repo-1").await;
    assert!(created.status.success(), "{}", stderr(&created));
    let synced = sync(&db, &tenant).await;
    assert!(synced.status.success(), "{}", stderr(&synced));
    let read = count(&db, "SELECT count(*) FROM prs").await;
    assert!(read > 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM prs p JOIN repositories r ON r.id = p.repository_id
             WHERE r.full_name = 'Tailspin/repo-1'"
        )
        .await,
        read
    );
    sim.stop().await.unwrap();
}

/// Work item ids are an organization's own: a pull request never links to another Azure
/// DevOps integration's work item with the same id.
#[tokio::test]
async fn pull_requests_link_only_to_their_own_organizations_work_items() {
    let (sim, db, tenant) = synced_org(SimulatorConfig {
        azure_prs: 20,
        ..small()
    })
    .await;
    let links = count(&db, "SELECT count(*) FROM work_item_pr_links").await;
    assert!(links > 0);
    // A second organization whose work items carry the same ids, then the first one's pull
    // requests linked again.
    let other = ("https://dev.azure.com/another-org", "another-token");
    let created = create_azure(&db, &tenant, other, &[]).await;
    assert!(created.status.success(), "{}", stderr(&created));
    sqlx::query(
        "INSERT INTO work_items (tenant_id, integration_id, external_id, key, summary, created, updated)
         SELECT w.tenant_id, o.id, 'other-' || w.external_id, w.key, w.summary, w.created, w.updated
         FROM work_items w JOIN integrations o ON o.base_url LIKE '%another-org'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let first: String = sqlx::query_scalar("SELECT min(id)::text FROM integrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let args = strings(&["reprocess", "--tenant", &tenant, "--integration", &first]);
    let reprocessed = cli(&db, args).await;
    assert!(reprocessed.status.success(), "{}", stderr(&reprocessed));
    assert_eq!(
        count(&db, "SELECT count(*) FROM work_item_pr_links").await,
        links
    );
    sim.stop().await.unwrap();
}
