//! The four DORA keys: computed from a simulated tenant (GitHub deployments and releases,
//! Jira incidents) they equal an oracle that works them out from the simulator's own truth
//! (which pull requests each deployment shipped, which deployments were rolled back, the
//! incidents and their links) without the production SQL; a hand-worked week gives exact
//! values; new deployments update them incrementally and `reprocess` gives them back from
//! raw.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::common::api::{self, TestApi};
use crate::common::source::{cli, connect_github, control, jira_tenant, stats, strings};
use crate::common::{stderr, stdout, ScratchDb};
use pulse_etl::domain::UserRole;
use pulse_etl::simulator::github::deployments::{Outcome, PRODUCTION};
use pulse_etl::simulator::github::pulls::Actor;
use pulse_etl::simulator::github::site::{repo_full_name, GithubSite};
use pulse_etl::simulator::jira::issues::INCIDENT_LABEL;
use pulse_etl::simulator::links::pull_of_issue;
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};

const HOUR: i64 = 3_600;
/// The default incident rule's window.
const WINDOW_SECONDS: i64 = 72 * HOUR;

pub(crate) fn config() -> SimulatorConfig {
    SimulatorConfig {
        seed: 23,
        jira_issues: 900,
        jira_projects: 2,
        github_repos: 3,
        github_prs: 300,
        slow_response: Duration::from_millis(1),
        ..SimulatorConfig::default()
    }
}

/// A production deployment that succeeded (GitHub's times are whole seconds).
pub(crate) struct Deployed {
    repo: String,
    pub(crate) finished: i64,
    rolled_back: bool,
    /// The people (GitHub humans' indexes) whose pull requests it shipped.
    pub(crate) authors: BTreeSet<u64>,
}

pub(crate) struct Shipped {
    repo: String,
    pub(crate) deployed: i64,
    first_commit: i64,
    merged: i64,
    /// The GitHub human who opened it (None: a bot).
    pub(crate) author: Option<u64>,
}

pub(crate) struct Incident {
    /// Milliseconds (Jira's times carry them).
    opened_ms: i64,
    resolved_ms: Option<i64>,
    repos: BTreeSet<String>,
    /// The Jira user it is assigned to.
    pub(crate) assignee: Option<u64>,
    /// Its project's index.
    project: usize,
}

pub(crate) struct Truth {
    pub(crate) deployed: Vec<Deployed>,
    pub(crate) shipped: Vec<Shipped>,
    pub(crate) incidents: Vec<Incident>,
}

/// The GitHub human behind an actor (None: a bot).
fn human(actor: Actor) -> Option<u64> {
    match actor {
        Actor::Human(n) => Some(n),
        Actor::Bot(_) => None,
    }
}

/// The simulated tenant as the simulator generates it, read without any of our SQL.
pub(crate) fn truth(config: &SimulatorConfig) -> Truth {
    let (issues, pulls) = (config.jira_population(), config.github_population());
    let site = GithubSite::new(pulls, issues);
    let seconds = |ms: i64| ms.div_euclid(1_000);
    let mut deployed = Vec::new();
    let mut shipped = Vec::new();
    for (repo, delivery) in site.delivery().iter().enumerate() {
        let production: Vec<_> = delivery
            .deployments
            .iter()
            .filter(|d| d.environment == PRODUCTION && d.outcome == Outcome::Success)
            .collect();
        for (position, deployment) in production.iter().enumerate() {
            // The generator knows a rollback as such: the deployment before it failed.
            let rolled_back = production
                .get(position + 1)
                .is_some_and(|next| next.rollback);
            let mut authors = BTreeSet::new();
            for index in &deployment.ships {
                let pull = pulls.pull(*index, &[]);
                let first_commit = pull.commits.iter().map(|c| c.authored_ms).min().unwrap();
                authors.extend(human(pull.author));
                shipped.push(Shipped {
                    repo: repo_full_name(repo),
                    deployed: seconds(deployment.finished_ms),
                    first_commit: seconds(first_commit),
                    merged: seconds(pull.merged_ms.unwrap()),
                    author: human(pull.author),
                });
            }
            deployed.push(Deployed {
                repo: repo_full_name(repo),
                finished: seconds(deployment.finished_ms),
                rolled_back,
                authors,
            });
        }
    }
    // A project's repositories: those of the pull requests its issues with code name.
    let repo_of_issue =
        |index: u32| repo_full_name(pulls.repo_of(pull_of_issue(index, pulls.pulls)));
    let mut project_repos: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for index in 0..issues.issues {
        let issue = issues.issue(index, &[]);
        if issue.has_code {
            project_repos
                .entry(issue.project)
                .or_default()
                .insert(repo_of_issue(index));
        }
    }
    let incidents = (0..issues.issues)
        .map(|index| (index, issues.issue(index, &[])))
        .filter(|(_, issue)| issue.labels.contains(&INCIDENT_LABEL))
        .map(|(index, issue)| Incident {
            opened_ms: issue.created_ms,
            resolved_ms: issue.resolved_ms,
            assignee: issue.assignee,
            project: issue.project,
            repos: if issue.has_code {
                BTreeSet::from([repo_of_issue(index)])
            } else {
                project_repos
                    .get(&issue.project)
                    .cloned()
                    .unwrap_or_default()
            },
        })
        .collect();
    Truth {
        deployed,
        shipped,
        incidents,
    }
}

/// PostgreSQL's `percentile_cont(0.5)`.
pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = (values.len() - 1) as f64 / 2.0;
    let (low, high) = (
        values[middle.floor() as usize],
        values[middle.ceil() as usize],
    );
    Some(low + (high - low) * (middle - middle.floor()))
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Keys {
    deployments: i64,
    failed: i64,
    pub(crate) changes: i64,
    lead_time: Option<f64>,
    merge_to_deploy: Option<f64>,
    pub(crate) incidents: i64,
    restore: Option<f64>,
}

/// Whether a deployment failed: rolled back, or the latest production deployment of its
/// repository before an incident of that repository opened within the window.
pub(crate) fn failed(truth: &Truth, deployment: &Deployed) -> bool {
    deployment.rolled_back
        || truth.incidents.iter().any(|incident| {
            let opened_exact = incident.opened_ms as f64 / 1_000.0;
            incident.repos.contains(&deployment.repo)
                && deployment.finished as f64 <= opened_exact
                && opened_exact - deployment.finished as f64 <= WINDOW_SECONDS as f64
                && !truth.deployed.iter().any(|other| {
                    other.repo == deployment.repo
                        && other.finished > deployment.finished
                        && other.finished as f64 <= opened_exact
                })
        })
}

/// The oracle's keys over `[since, until)` (seconds), grouped by `group` of a repository and
/// a time (None: one group `all`).
fn oracle(
    truth: &Truth,
    since: i64,
    until: i64,
    group: &dyn Fn(&str, i64) -> String,
    per_repository: bool,
) -> BTreeMap<String, Keys> {
    let mut keys: BTreeMap<String, Keys> = BTreeMap::new();
    let inside = |at: i64| at >= since && at < until;
    for deployment in truth.deployed.iter().filter(|d| inside(d.finished)) {
        let entry = keys
            .entry(group(&deployment.repo, deployment.finished))
            .or_default();
        entry.deployments += 1;
        entry.failed += i64::from(failed(truth, deployment));
    }
    let mut lead: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for change in truth.shipped.iter().filter(|s| inside(s.deployed)) {
        let name = group(&change.repo, change.deployed);
        keys.entry(name.clone()).or_default().changes += 1;
        let (leads, merges) = lead.entry(name).or_default();
        leads.push((change.deployed - change.first_commit) as f64);
        merges.push((change.deployed - change.merged) as f64);
    }
    for (name, (leads, merges)) in lead {
        let entry = keys.entry(name).or_default();
        entry.lead_time = median(leads);
        entry.merge_to_deploy = median(merges);
    }
    let mut restores: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for incident in &truth.incidents {
        let Some(resolved_ms) = incident.resolved_ms else {
            continue;
        };
        let resolved = resolved_ms as f64 / 1_000.0;
        if resolved < since as f64 || resolved >= until as f64 {
            continue;
        }
        let groups: Vec<String> = if per_repository {
            incident.repos.iter().map(|repo| group(repo, 0)).collect()
        } else {
            vec![group("", resolved_ms.div_euclid(1_000))]
        };
        for name in groups {
            keys.entry(name.clone()).or_default().incidents += 1;
            restores
                .entry(name)
                .or_default()
                .push((resolved_ms - incident.opened_ms) as f64 / 1_000.0);
        }
    }
    for (name, values) in restores {
        keys.entry(name).or_default().restore = median(values);
    }
    keys
}

/// The oracle's keys of team `name` over `[since, until)` (seconds): the changes its GitHub
/// people (`authors`) opened, the deployments that shipped one of them (failed as any
/// deployment fails), and the incidents assigned to its Jira people (`assignees`).
pub(crate) fn team_oracle(
    truth: &Truth,
    (since, until): (i64, i64),
    name: &str,
    authors: &BTreeSet<u64>,
    assignees: &BTreeSet<u64>,
) -> BTreeMap<String, Keys> {
    let inside = |at: i64| at >= since && at < until;
    let mut keys = Keys::default();
    for deployment in truth
        .deployed
        .iter()
        .filter(|d| inside(d.finished) && !d.authors.is_disjoint(authors))
    {
        keys.deployments += 1;
        keys.failed += i64::from(failed(truth, deployment));
    }
    let changes: Vec<&Shipped> = truth
        .shipped
        .iter()
        .filter(|s| inside(s.deployed) && s.author.is_some_and(|a| authors.contains(&a)))
        .collect();
    keys.changes = changes.len() as i64;
    keys.lead_time = median(
        changes
            .iter()
            .map(|c| (c.deployed - c.first_commit) as f64)
            .collect(),
    );
    keys.merge_to_deploy = median(
        changes
            .iter()
            .map(|c| (c.deployed - c.merged) as f64)
            .collect(),
    );
    let restores: Vec<f64> = truth
        .incidents
        .iter()
        .filter(|i| i.assignee.is_some_and(|a| assignees.contains(&a)))
        .filter_map(|incident| {
            let resolved_ms = incident.resolved_ms?;
            let resolved = resolved_ms as f64 / 1_000.0;
            (resolved >= since as f64 && resolved < until as f64)
                .then(|| (resolved_ms - incident.opened_ms) as f64 / 1_000.0)
        })
        .collect();
    keys.incidents = restores.len() as i64;
    keys.restore = median(restores);
    if keys == Keys::default() {
        return BTreeMap::new();
    }
    BTreeMap::from([(name.to_owned(), keys)])
}

/// The keys a report answered, by group.
pub(crate) fn answered(report: &Value) -> BTreeMap<String, Keys> {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| {
            (
                group["group"].as_str().unwrap().to_owned(),
                Keys {
                    deployments: group["deployments"].as_i64().unwrap(),
                    failed: group["failed_deployments"].as_i64().unwrap(),
                    changes: group["changes"].as_i64().unwrap(),
                    lead_time: group["lead_time_seconds_p50"].as_f64(),
                    merge_to_deploy: group["merge_to_deploy_seconds_p50"].as_f64(),
                    incidents: group["incidents"].as_i64().unwrap(),
                    restore: group["time_to_restore_seconds_p50"].as_f64(),
                },
            )
        })
        .collect()
}

pub(crate) fn assert_same(
    answered: &BTreeMap<String, Keys>,
    expected: &BTreeMap<String, Keys>,
    what: &str,
) {
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * b.abs().max(1.0),
        (a, b) => a == b,
    };
    assert_eq!(
        answered.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{what}: groups"
    );
    for (name, want) in expected {
        let got = &answered[name];
        assert!(
            got.deployments == want.deployments
                && got.failed == want.failed
                && got.changes == want.changes
                && got.incidents == want.incidents
                && close(got.lead_time, want.lead_time)
                && close(got.merge_to_deploy, want.merge_to_deploy)
                && close(got.restore, want.restore),
            "{what}, group {name}:\n got {got:?}\nwant {want:?}"
        );
    }
}

pub(crate) async fn dora(db: &ScratchDb, tenant: &str, extra: &[&str]) -> Value {
    let mut args = strings(&["--json", "metrics", "dora", "--tenant", tenant]);
    args.extend(strings(extra));
    let ran = cli(db, args).await;
    assert!(ran.status.success(), "{}", stderr(&ran));
    serde_json::from_str(&stdout(&ran)).unwrap()
}

pub(crate) async fn sync(db: &ScratchDb, tenant: &str, provider: &str) {
    let ran = cli(db, strings(&["run-job", provider, "--tenant", tenant])).await;
    assert!(ran.status.success(), "{}", stderr(&ran));
}

/// `reprocess` of one integration, which must succeed.
async fn reprocess(db: &ScratchDb, tenant: &str, integration: i64) {
    let integration = integration.to_string();
    let args = [
        "reprocess",
        "--tenant",
        tenant,
        "--integration",
        &integration,
    ];
    let ran = cli(db, strings(&args)).await;
    assert!(ran.status.success(), "{}", stderr(&ran));
}

/// A simulator of `config` and a tenant with its Jira and GitHub integrations synced.
pub(crate) async fn synced(config: &SimulatorConfig) -> (RunningSimulator, ScratchDb, String) {
    let sim = RunningSimulator::start(config.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    connect_github(&db, &sim, &tenant, &["sim-gh-token"], &[]).await;
    sync(&db, &tenant, "jira").await;
    sync(&db, &tenant, "github").await;
    (sim, db, tenant)
}

pub(crate) fn at(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text).unwrap().timestamp()
}

fn week_of(seconds: i64) -> String {
    let day = DateTime::<Utc>::from_timestamp(seconds, 0)
        .unwrap()
        .date_naive();
    let monday = day
        - chrono::Days::new(u64::from(
            chrono::Datelike::weekday(&day).num_days_from_monday(),
        ));
    monday.format("%Y-%m-%d").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_four_keys_equal_an_oracle_over_the_simulators_truth() {
    let config = config();
    let (sim, db, tenant) = synced(&config).await;
    let truth = truth(&config);
    let failures = truth.deployed.iter().filter(|d| failed(&truth, d)).count();
    assert!(
        truth.deployed.len() > 150 && truth.incidents.len() > 10 && failures > 5,
        "a tenant worth measuring: {} deployments, {} incidents, {failures} failed",
        truth.deployed.len(),
        truth.incidents.len()
    );
    let sim_stats = stats(&sim).await;
    let loaded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM deployments WHERE kind = 'deployment'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(loaded, sim_stats["truth"]["deployments"].as_i64().unwrap());

    // Three ranges of weeks, by repository, by week and for the tenant.
    for (since, until) in [
        ("2024-03-04T00:00:00Z", "2024-06-03T00:00:00Z"),
        ("2025-01-06T00:00:00Z", "2025-04-07T00:00:00Z"),
        ("2024-01-01T00:00:00Z", "2026-01-05T00:00:00Z"),
    ] {
        let window = ["--since", since, "--until", until];
        let (from, to) = (at(since), at(until));
        let by_repository = dora(
            &db,
            &tenant,
            &[&window[..], &["--group-by", "repository"]].concat(),
        )
        .await;
        let expected = oracle(&truth, from, to, &|repo, _| repo.to_owned(), true);
        assert!(expected.len() >= 2, "two repository groups at least");
        assert_same(&answered(&by_repository), &expected, "by repository");
        let by_week = dora(
            &db,
            &tenant,
            &[&window[..], &["--group-by", "week"]].concat(),
        )
        .await;
        let expected = oracle(&truth, from, to, &|_, at| week_of(at), false);
        assert!(expected.len() > 5, "weeks with deployments");
        assert_same(&answered(&by_week), &expected, "by week");
        let whole = dora(&db, &tenant, &window).await;
        let expected = oracle(&truth, from, to, &|_, _| "all".to_owned(), false);
        assert_same(&answered(&whole), &expected, "for the tenant");
        let weeks = (to - from) as f64 / (7 * 24 * HOUR) as f64;
        let per_week = whole["groups"][0]["deployments_per_week"].as_f64().unwrap();
        assert!((per_week - expected["all"].deployments as f64 / weeks).abs() < 1e-9);
    }

    // Reprocess gives the same keys back from raw after the derived rows are gone.
    let all_time = [
        "--group-by",
        "repository",
        "--until",
        "2026-02-01T00:00:00Z",
    ];
    let before = dora(&db, &tenant, &all_time).await;
    sqlx::query("DELETE FROM pr_deployments")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM deployments")
        .execute(&db.pool)
        .await
        .unwrap();
    let integration: i64 = sqlx::query_scalar(
        "SELECT id FROM integrations WHERE tenant_id = $1::text::bigint AND provider = 'github'",
    )
    .bind(&tenant)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    reprocess(&db, &tenant, integration).await;
    let after = dora(&db, &tenant, &all_time).await;
    assert_eq!(before["groups"], after["groups"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_deployments_update_the_keys_with_one_query_per_repository_when_nothing_changed() {
    let config = SimulatorConfig {
        github_prs: 120,
        jira_issues: 200,
        ..config()
    };
    let (sim, db, tenant) = synced(&config).await;

    // Nothing changed: the deployments step sends one query per repository.
    let graphql = |stats: &Value| stats["requests"]["POST /graphql"].as_u64().unwrap_or(0);
    let before = graphql(&stats(&sim).await);
    sync(&db, &tenant, "github").await;
    let unchanged_run = graphql(&stats(&sim).await) - before;
    let shipped_before: i64 = sqlx::query_scalar("SELECT count(*) FROM pr_deployments")
        .fetch_one(&db.pool)
        .await
        .unwrap();

    // Merges after the history are deployed a minute later: the next run loads them and
    // ships their pull requests, touching only what may have changed. (A round may merge a
    // single pull request whose train fails; rounds go on until one ships something.)
    let shipped_truth = |stats: &Value| stats["truth"]["shipped"].as_i64().unwrap();
    let truth_before = shipped_truth(&stats(&sim).await);
    assert_eq!(
        truth_before, shipped_before,
        "the first syncs shipped what the truth did"
    );
    for _ in 0..5 {
        control(&sim, "mutate", 0.3).await;
        if shipped_truth(&stats(&sim).await) > truth_before {
            break;
        }
    }
    sync(&db, &tenant, "github").await;
    let truth = stats(&sim).await["truth"].clone();
    let loaded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM deployments WHERE kind = 'deployment'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(loaded, truth["deployments"].as_i64().unwrap());
    let shipped_after: i64 = sqlx::query_scalar("SELECT count(*) FROM pr_deployments")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        shipped_after > shipped_before,
        "{shipped_before} → {shipped_after}"
    );
    assert_eq!(
        shipped_after,
        truth["shipped"].as_i64().unwrap(),
        "shipped as the truth says"
    );
    let unshipped: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM prs p WHERE p.merged_at IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM pr_deployments pd WHERE pd.pr_id = p.id)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        unshipped <= 3,
        "only a failed last train leaves merges unshipped: {unshipped}"
    );
    // Deployments of the last merges finish minutes from now.
    let report = dora(&db, &tenant, &["--until", "2100-01-01T00:00:00Z"]).await;
    assert_eq!(
        report["groups"][0]["changes"].as_i64().unwrap(),
        shipped_after,
        "every shipped change counts in the whole history"
    );
    // The pull-request page and the deployments page of each repository.
    assert_eq!(unchanged_run, 2 * config.github_repos as u64);
}

/// A pull request merged on Monday, deployed on Wednesday, an incident on Thursday resolved
/// on Friday: the week's keys, worked out by hand.
#[tokio::test]
async fn a_hand_worked_week_gives_exact_keys() {
    let db = ScratchDb::migrated().await;
    let tenant: i64 = crate::common::source::tenant(&db).await.parse().unwrap();
    let integration = |provider: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO integrations (tenant_id, provider, base_url, credentials_encrypted)
                 VALUES ($1, $2, 'https://example.com', '\\x00') RETURNING id",
            )
            .bind(tenant)
            .bind(provider)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (github, jira) = (integration("github").await, integration("jira").await);
    let script = format!(
        "INSERT INTO repositories (tenant_id, integration_id, external_id, owner, name, full_name)
             VALUES ({tenant}, {github}, '1', 'acme', 'shop', 'acme/shop');
         INSERT INTO prs (tenant_id, integration_id, external_id, repository_id, number, state,
                          first_commit_at, merged_at)
             SELECT {tenant}, {github}, '10', id, 7, 'closed',
                    '2025-03-03T09:00:00Z', '2025-03-03T15:00:00Z' FROM repositories;
         INSERT INTO deployments (tenant_id, integration_id, external_id, repository_id, kind,
                                  environment, outcome, commit_committed_at,
                                  deployment_created_at, finished_at, is_production)
             SELECT {tenant}, {github}, 'deployment:1', id, 'deployment', 'staging', 'success',
                    '2025-03-03T15:00:00Z'::timestamptz, '2025-03-04T10:00:00Z'::timestamptz,
                    '2025-03-04T10:05:00Z'::timestamptz, FALSE
             FROM repositories
             UNION ALL
             SELECT {tenant}, {github}, 'deployment:2', id, 'deployment', 'production', 'success',
                    '2025-03-03T15:00:00Z', '2025-03-05T10:00:00Z', '2025-03-05T10:30:00Z', TRUE
             FROM repositories;
         INSERT INTO wits (tenant_id, integration_id, external_id, name)
             VALUES ({tenant}, {jira}, '5', 'Incident');
         INSERT INTO work_items (tenant_id, integration_id, external_id, key, wit_id, created, resolved)
             SELECT {tenant}, {jira}, '100', 'OPS-1', id,
                    '2025-03-06T09:00:00Z', '2025-03-07T09:00:00Z' FROM wits;
         INSERT INTO work_item_pr_links (tenant_id, integration_id, external_id, work_item_id,
                                         repository_full_name, pr_number, pr_url)
             SELECT {tenant}, {jira}, 'link', id, 'acme/shop', 7, 'https://github.com/acme/shop/pull/7'
             FROM work_items;"
    );
    sqlx::raw_sql(&script).execute(&db.pool).await.unwrap();
    let ids = pulse_etl::domain::IntegrationRef {
        tenant: pulse_etl::domain::TenantId(tenant),
        integration: pulse_etl::domain::IntegrationId(github),
    };
    let shipped = pulse_etl::sources::delivery::shipping::ship(&db.pool, ids, &[])
        .await
        .unwrap();
    assert_eq!(shipped, 1, "the pull request waits for a deployment");

    let api = TestApi::start(&db.pool).await;
    let (viewer, _) = api::user(&db.pool, &tenant.to_string(), UserRole::Viewer).await;
    let token = api.login(&viewer).await;
    let report = api
        .get(
            "/api/v1/metrics/dora?since=2025-03-03T00:00:00Z&until=2025-03-10T00:00:00Z",
            &token,
        )
        .await;
    let keys = &report["groups"][0];
    assert_eq!(keys["group"], "all");
    assert_eq!(keys["deployments"], 1, "staging is not production");
    assert_eq!(keys["deployments_per_week"], 1.0);
    assert_eq!(keys["deployment_frequency_band"], "high");
    assert_eq!(keys["changes"], 1);
    // Monday 09:00 first commit → Wednesday 10:30 deployed: 49.5 hours.
    assert_eq!(keys["lead_time_seconds_p50"], 49.5 * 3_600.0);
    // Monday 15:00 merge → Wednesday 10:30: 43.5 hours.
    assert_eq!(keys["merge_to_deploy_seconds_p50"], 43.5 * 3_600.0);
    assert_eq!(keys["lead_time_band"], "high");
    // The incident opened 22.5 hours after the deployment, within the 72-hour window.
    assert_eq!(keys["failed_deployments"], 1);
    assert_eq!(keys["change_failure_rate"], 1.0);
    assert_eq!(keys["change_failure_band"], "low");
    assert_eq!(keys["incidents"], 1);
    assert_eq!(keys["time_to_restore_seconds_p50"], 24.0 * 3_600.0);
    assert_eq!(keys["time_to_restore_band"], "medium");

    // What stands behind the numbers.
    let window = "since=2025-03-03T00:00:00Z&until=2025-03-10T00:00:00Z";
    let deployments = api
        .get(
            &format!("/api/v1/metrics/dora/deployments?{window}"),
            &token,
        )
        .await;
    let deployments = deployments["items"].as_array().unwrap();
    assert_eq!(deployments.len(), 1, "production only: {deployments:?}");
    assert_eq!(deployments[0]["incidents"], serde_json::json!(["OPS-1"]));
    assert_eq!(deployments[0]["changes"], 1);
    assert_eq!(deployments[0]["rolled_back"], false);
    let changes = api
        .get(
            &format!("/api/v1/metrics/dora/changes?{window}&repository=acme/shop"),
            &token,
        )
        .await;
    assert_eq!(changes["items"][0]["number"], 7);
    assert_eq!(changes["items"][0]["lead_time_seconds"], 49.5 * 3_600.0);
    assert_eq!(changes["items"][0]["deployment_id"], deployments[0]["id"]);
    let incidents = api
        .get(&format!("/api/v1/metrics/dora/incidents?{window}"), &token)
        .await;
    assert_eq!(incidents["items"][0]["key"], "OPS-1");
    assert_eq!(incidents["items"][0]["restore_seconds"], 24.0 * 3_600.0);
    assert_eq!(
        incidents["items"][0]["repositories"],
        serde_json::json!(["acme/shop"])
    );
    assert_eq!(
        incidents["items"][0]["deployments"],
        serde_json::json!([deployments[0]["id"]])
    );
    let elsewhere = api
        .get(
            &format!("/api/v1/metrics/dora/changes?{window}&repository=acme/other"),
            &token,
        )
        .await;
    assert_eq!(elsewhere["items"], serde_json::json!([]));

    // The incident two weeks later is out of the window: the deployment did not fail.
    sqlx::query(
        "UPDATE work_items SET created = '2025-03-20T09:00:00Z', resolved = '2025-03-20T09:30:00Z'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let report = api
        .get(
            "/api/v1/metrics/dora?since=2025-03-03T00:00:00Z&until=2025-03-31T00:00:00Z",
            &token,
        )
        .await;
    assert_eq!(report["groups"][0]["failed_deployments"], 0);
    assert_eq!(report["groups"][0]["time_to_restore_band"], "elite");

    // The next week: a deployment rolled back within the hour, and a pull request merged
    // just before the rollback, which ships with the next deployment, not with the rollback.
    let week_two = format!(
        "INSERT INTO prs (tenant_id, integration_id, external_id, repository_id, number, state,
                          first_commit_at, merged_at)
             SELECT {tenant}, {github}, '11', id, 8, 'closed',
                    '2025-03-09T09:00:00Z'::timestamptz, '2025-03-10T09:00:00Z'::timestamptz
             FROM repositories
             UNION ALL
             SELECT {tenant}, {github}, '12', id, 9, 'closed',
                    '2025-03-10T08:00:00Z', '2025-03-10T10:20:00Z' FROM repositories;
         INSERT INTO deployments (tenant_id, integration_id, external_id, repository_id, kind,
                                  environment, outcome, commit_committed_at,
                                  deployment_created_at, finished_at, is_production)
             SELECT {tenant}, {github}, 'deployment:3', id, 'deployment', 'production', 'success',
                    '2025-03-10T09:00:00Z'::timestamptz, '2025-03-10T10:00:00Z'::timestamptz,
                    '2025-03-10T10:10:00Z'::timestamptz, TRUE
             FROM repositories
             UNION ALL
             SELECT {tenant}, {github}, 'deployment:4', id, 'deployment', 'production', 'success',
                    '2025-03-03T15:00:00Z', '2025-03-10T10:30:00Z', '2025-03-10T10:40:00Z', TRUE
             FROM repositories
             UNION ALL
             SELECT {tenant}, {github}, 'deployment:5', id, 'deployment', 'production', 'success',
                    '2025-03-10T10:20:00Z', '2025-03-11T10:00:00Z', '2025-03-11T10:10:00Z', TRUE
             FROM repositories;"
    );
    sqlx::raw_sql(&week_two).execute(&db.pool).await.unwrap();
    let changed = ["deployment:3", "deployment:4", "deployment:5"].map(String::from);
    let shipped = pulse_etl::sources::delivery::shipping::ship(&db.pool, ids, &changed)
        .await
        .unwrap();
    assert_eq!(shipped, 2);
    let report = api
        .get(
            "/api/v1/metrics/dora?since=2025-03-10T00:00:00Z&until=2025-03-17T00:00:00Z",
            &token,
        )
        .await;
    let keys = &report["groups"][0];
    assert_eq!(keys["deployments"], 3);
    assert_eq!(keys["failed_deployments"], 1, "the rolled-back deployment");
    assert_eq!(keys["changes"], 2);
    // #8: Sunday 09:00 → Monday 10:10 (25 h 10 min); #9: Monday 08:00 → Tuesday 10:10
    // (26 h 10 min), not the rollback's 10:40 on Monday.
    assert_eq!(keys["lead_time_seconds_p50"], (90_600.0 + 94_200.0) / 2.0);

    let (refused, body) = api
        .call(
            reqwest::Method::GET,
            "/api/v1/metrics/dora?since=2025-03-10T00:00:00Z&until=2025-03-03T00:00:00Z",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(refused, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// Delivery rules are checked when they are set; an incident rule applies at once, a new
/// production rule to loaded deployments after `reprocess`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_rules_are_checked_and_followed() {
    let config = SimulatorConfig {
        github_prs: 150,
        jira_issues: 300,
        ..config()
    };
    let (sim, db, tenant) = synced(&config).await;
    let api = TestApi::start(&db.pool).await;
    let (admin, _) = api::user(&db.pool, &tenant, UserRole::Admin).await;
    let token = api.login(&admin).await;
    let integration = |provider: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM integrations WHERE provider = $1")
                .bind(provider)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (github, jira) = (integration("github").await, integration("jira").await);
    let patch = |id: i64, delivery: Value| {
        let (api, token) = (&api, token.clone());
        async move {
            api.call(
                reqwest::Method::PATCH,
                &format!("/api/v1/integrations/{id}"),
                Some(&token),
                Some(serde_json::json!({ "delivery": delivery })),
            )
            .await
        }
    };
    let all_time = "/api/v1/metrics/dora?until=2026-02-01T00:00:00Z";
    let before = api.get(all_time, &token).await["groups"][0].clone();
    assert!(before["incidents"].as_i64().unwrap() > 0);

    for (bad, field) in [
        (
            serde_json::json!({"production_environment": "("}),
            "delivery.production_environment",
        ),
        (
            serde_json::json!({"incident_window_hours": 0}),
            "delivery.incident_window_hours",
        ),
        (
            serde_json::json!({"incident_labels": [" "]}),
            "delivery.incident_labels",
        ),
    ] {
        let (status, body) = patch(github, bad).await;
        assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }

    // An incident rule naming nothing the site has: no incidents, at once.
    let (status, body) = patch(jira, serde_json::json!({"incident_labels": ["outage"]})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let now = api.get(all_time, &token).await["groups"][0].clone();
    assert_eq!(now["incidents"], 0);
    assert_eq!(now["deployments"], before["deployments"]);

    // An incident JQL replaces types and labels: from the next sync the incidents are the
    // issues it finds (here those of the first project carrying the label).
    let (status, body) = patch(jira, serde_json::json!({"incident_jql": "  "})).await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "delivery.incident_jql", "{body}");
    let first_project = pulse_etl::simulator::jira::render::project_key(0);
    let jql = format!("labels = incident AND project = {first_project}");
    let (status, body) = patch(jira, serde_json::json!({"incident_jql": jql})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    sync(&db, &tenant, "jira").await;
    let until_ms = at("2026-02-01T00:00:00Z") * 1_000;
    let expected = truth(&config)
        .incidents
        .iter()
        .filter(|i| i.project == 0 && i.resolved_ms.is_some_and(|r| r < until_ms))
        .count() as i64;
    let by_jql = api.get(all_time, &token).await["groups"][0].clone();
    assert_eq!(by_jql["incidents"].as_i64().unwrap(), expected);
    assert!(expected > 0 && expected < before["incidents"].as_i64().unwrap());
    // Cleared, the labels rule holds again.
    let (status, body) = patch(
        jira,
        serde_json::json!({"incident_jql": null, "incident_labels": ["incident"]}),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let again = api.get(all_time, &token).await["groups"][0].clone();
    assert_eq!(again["incidents"], before["incidents"]);

    // Releases as production: after reprocess, the releases are the deployments counted.
    let (status, body) = patch(github, serde_json::json!({"production": "releases"})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    reprocess(&db, &tenant, github).await;
    let releases = stats(&sim).await["truth"]["releases"].as_i64().unwrap();
    let after = api.get(all_time, &token).await["groups"][0].clone();
    assert_eq!(after["deployments"], releases);
    assert!(releases > 0 && releases < before["deployments"].as_i64().unwrap());

    // Workflow runs as production: the next sync reads every run (the first time), and the
    // successful runs of "Deploy" (not "Staging checks") are the deployments counted.
    let runs_path = "GET /repos/{owner}/{repo}/actions/runs";
    let runs_before = stats(&sim).await["requests"][runs_path]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(runs_before, 0, "runs are read only when they are the rule");
    let (status, body) = patch(github, serde_json::json!({"production": "workflow"})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    sync(&db, &tenant, "github").await;
    assert!(stats(&sim).await["requests"][runs_path].as_u64().unwrap() >= 3);
    // The releases loaded before count until a reprocess applies the rule to them.
    reprocess(&db, &tenant, github).await;
    let truth = truth(&config);
    let runs = api.get(all_time, &token).await["groups"][0].clone();
    assert_eq!(runs["deployments"], truth.deployed.len() as i64);
    let shipped: i64 = sqlx::query_scalar("SELECT count(*) FROM pr_deployments")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        shipped,
        truth.shipped.len() as i64,
        "runs ship what the deployments did"
    );
}
