//! The conformance suite every source runs (adding a source means adding its [`Case`]): a
//! full sync equals the simulator's truth, replaying it leaves the tables byte for byte as
//! they were, an incremental sync after 1 % of changes reads at most the source's share of
//! what the full sync read and ends where a fresh full sync ends, a poison record fails
//! alone, and RabbitMQ workers end with the tables of an in-process sync.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

use crate::common;
use crate::common::queues::{terminate, Queues};
use crate::common::source::{
    azure_tenant, cli, cli_in_background, cli_with, connect_github, control, count, github_tables,
    github_tenant, jira_tables, jira_tenant, requests, responses, stats, strings, tenant,
};
use crate::common::{stderr, ScratchDb};
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};

type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the suite needs to know of one source.
struct Case {
    /// The source's name on the command line (`run-job <name>`).
    name: &'static str,
    /// A simulator of `size` entities (issues, pull requests).
    simulator: fn(size: u32) -> SimulatorConfig,
    /// The same simulator serving about 2 % poison records.
    poisoned: fn(SimulatorConfig) -> SimulatorConfig,
    /// A tenant with an integration of this source pointed at the simulator.
    tenant: for<'a> fn(&'a ScratchDb, &'a RunningSimulator) -> Pending<'a, String>,
    /// The source's tables by natural keys, without surrogate ids or bookkeeping times.
    tables: for<'a> fn(&'a ScratchDb) -> Pending<'a, Vec<Vec<Value>>>,
    /// Every table the sync fills, compared byte for byte on replay.
    replayed: &'static [&'static str],
    /// `(count query, key of the simulator's truth)` that a full sync must match.
    truth: &'static [(&'static str, &'static str)],
    /// The entity table a poison record is missing from, and the raw kind it fails as.
    poison: (&'static str, &'static str),
    /// Requests an incremental sync after 1 % of changes may make, in % of the full sync's.
    incremental_share: u64,
    /// The raw kind its webhook deliveries are stored under (None: it takes none).
    deliveries: Option<&'static str>,
    /// Requests every run makes however little changed (account, projects, statuses, the
    /// first search page): allowed on top of the share.
    fixed_requests: u64,
}

const JIRA: Case = Case {
    name: "jira",
    simulator: |issues| SimulatorConfig {
        seed: 11,
        jira_issues: issues,
        slow_response: Duration::from_millis(20),
        ..SimulatorConfig::default()
    },
    poisoned: |config| SimulatorConfig {
        jira_malformed_rate: 0.02,
        ..config
    },
    tenant: |db, sim| Box::pin(jira_tenant(db, sim, "sim-token")),
    tables: |db| Box::pin(work_item_tables(db)),
    replayed: &["work_items", "changelogs", "statuses", "projects", "wits"],
    truth: &[
        ("SELECT count(*) FROM work_items", "issues"),
        ("SELECT count(*) FROM changelogs", "status_transitions"),
    ],
    poison: ("work_items", "jira_issue"),
    deliveries: Some("jira_webhook"),
    incremental_share: 5,
    fixed_requests: 5,
};

/// The work-item tables Jira and Azure DevOps fill, by natural keys.
async fn work_item_tables(db: &ScratchDb) -> Vec<Vec<Value>> {
    let (items, changelogs) = jira_tables(db).await;
    vec![items, changelogs]
}

/// GitHub through GraphQL, the default: pull requests with everything nested.
const GITHUB: Case = Case {
    name: "github",
    simulator: |prs| SimulatorConfig {
        seed: 23,
        jira_issues: 200,
        github_repos: 3,
        github_prs: prs,
        slow_response: Duration::from_millis(20),
        ..SimulatorConfig::default()
    },
    poisoned: |config| SimulatorConfig {
        github_malformed_rate: 0.02,
        ..config
    },
    tenant: |db, sim| Box::pin(github_tenant(db, sim)),
    tables: |db| Box::pin(github_tables(db)),
    replayed: &[
        "repositories",
        "prs",
        "deployments",
        "pr_commits",
        "pr_reviews",
        "pr_comments",
    ],
    truth: &[
        ("SELECT count(*) FROM prs", "prs"),
        ("SELECT count(*) FROM pr_reviews", "reviews"),
        ("SELECT count(*) FROM pr_comments", "comments"),
        ("SELECT count(*) FROM pr_commits", "commits"),
        (
            "SELECT count(*) FROM deployments WHERE kind = 'deployment'",
            "deployments",
        ),
        (
            "SELECT count(*) FROM deployments WHERE kind = 'release'",
            "releases",
        ),
    ],
    poison: ("prs", "github_graphql_pull"),
    deliveries: Some("github_webhook"),
    incremental_share: 10,
    // Each repository is read (REST), its first page of pull requests asked for, and its
    // first page of deployments and releases.
    fixed_requests: 9,
};

/// Azure Boards: work items with their revision history, into the work-item tables.
const AZURE_DEVOPS: Case = Case {
    name: "azure_devops",
    simulator: |work_items| SimulatorConfig {
        seed: 31,
        jira_issues: 20,
        github_prs: 10,
        azure_work_items: work_items,
        azure_prs: 0,
        slow_response: Duration::from_millis(20),
        ..SimulatorConfig::default()
    },
    poisoned: |config| SimulatorConfig {
        azure_malformed_rate: 0.02,
        ..config
    },
    tenant: |db, sim| Box::pin(azure_tenant(db, sim, "sim-azure-token")),
    tables: |db| Box::pin(work_item_tables(db)),
    replayed: &["work_items", "changelogs", "statuses", "projects", "wits"],
    truth: &[
        ("SELECT count(*) FROM work_items", "azure_work_items"),
        (
            "SELECT count(*) FROM changelogs",
            "azure_status_transitions",
        ),
    ],
    poison: ("work_items", "azure_work_item"),
    deliveries: None,
    incremental_share: 5,
    // The projects, each project's types, one revisions stream answer and the first batch
    // read; each project's repositories and (empty) pull request listing.
    fixed_requests: 9,
};

/// Azure Repos: pull requests with their votes, comments and commits, into the
/// pull-request tables, linked to the work items they name.
const AZURE_REPOS: Case = Case {
    name: "azure_devops",
    simulator: |prs| SimulatorConfig {
        seed: 37,
        jira_issues: 20,
        github_prs: 10,
        azure_work_items: 60,
        azure_prs: prs,
        slow_response: Duration::from_millis(20),
        ..SimulatorConfig::default()
    },
    // Only pull requests are poisoned: the organization has no work items.
    poisoned: |config| SimulatorConfig {
        azure_malformed_rate: 0.02,
        azure_work_items: 0,
        ..config
    },
    tenant: |db, sim| Box::pin(azure_tenant(db, sim, "sim-azure-token")),
    tables: |db| Box::pin(pull_tables_and_links(db)),
    replayed: &[
        "repositories",
        "prs",
        "pr_commits",
        "pr_reviews",
        "pr_comments",
        "work_item_pr_links",
    ],
    truth: &[
        ("SELECT count(*) FROM prs", "azure_prs"),
        ("SELECT count(*) FROM pr_reviews", "azure_reviews"),
        ("SELECT count(*) FROM pr_comments", "azure_comments"),
        ("SELECT count(*) FROM pr_commits", "azure_commits"),
        ("SELECT count(*) FROM work_item_pr_links", "azure_pr_links"),
    ],
    poison: ("prs", "azure_pull_request"),
    deliveries: None,
    incremental_share: 5,
    // Boards' five; each project's repositories, and its listing's page and empty page.
    fixed_requests: 11,
};

/// The pull-request tables and the work-item links, by natural keys.
async fn pull_tables_and_links(db: &ScratchDb) -> Vec<Vec<Value>> {
    let mut tables = github_tables(db).await;
    let links = sqlx::query_scalar(
        "SELECT jsonb_build_object('work_item', w.key, 'url', l.pr_url, 'status', l.pr_status,
                                   'repository', l.repository_full_name, 'number', l.pr_number)
         FROM work_item_pr_links l JOIN work_items w ON w.id = l.work_item_id
         ORDER BY l.external_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    tables.push(links);
    tables
}

/// GitHub through REST, for tokens without GraphQL access.
const GITHUB_REST: Case = Case {
    tenant: |db, sim| Box::pin(github_rest_tenant(db, sim)),
    poison: ("prs", "github_pull"),
    // GitHub re-reads each repository's comment listings on every run.
    incremental_share: 10,
    fixed_requests: 0,
    ..GITHUB
};

async fn github_rest_tenant(db: &ScratchDb, sim: &RunningSimulator) -> String {
    let tenant = tenant(db).await;
    connect_github(db, sim, &tenant, &["sim-gh-token"], &["--api", "rest"]).await;
    tenant
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

/// `run-job <source>` for the tenant, with `extra` arguments.
async fn run(case: &Case, db: &ScratchDb, tenant: &str, extra: &[&str]) -> std::process::Output {
    let mut args = strings(&["run-job", case.name, "--tenant", tenant]);
    args.extend(strings(extra));
    cli(db, args).await
}

/// Requests that spent the source's quota: everything but the free 304s.
fn counted(stats: &Value) -> u64 {
    requests(stats) - responses(stats, "304")
}

/// The tables a sync fills, row by row as text, bookkeeping times included.
async fn dump(db: &ScratchDb, tables: &[&str]) -> Vec<String> {
    let mut rows = Vec::new();
    for table in tables {
        let text: Vec<String> =
            sqlx::query_scalar(&format!("SELECT t::text FROM {table} t ORDER BY id"))
                .fetch_all(&db.pool)
                .await
                .unwrap();
        rows.extend(text);
    }
    rows
}

async fn assert_matches_truth(case: &Case, db: &ScratchDb, truth: &Value) {
    for (query, key) in case.truth {
        assert_eq!(
            count(db, query).await as u64,
            truth["truth"][key].as_u64().unwrap(),
            "{}: {query}",
            case.name
        );
    }
}

/// Full sync = truth, every raw row through and every stage finished; a replay changes no
/// byte; 1 % of changes read at most the source's share, and end where a fresh full sync
/// of the changed source ends.
async fn full_replay_and_incremental(case: &Case) {
    let sim = start((case.simulator)(400)).await;
    let db = ScratchDb::migrated().await;
    let tenant = (case.tenant)(&db, &sim).await;

    let first = run(case, &db, &tenant, &[]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let after_first = stats(&sim).await;
    assert_matches_truth(case, &db, &after_first).await;
    let unprocessed = "SELECT count(*) FROM raw_extraction_data WHERE status <> 'processed'";
    assert_eq!(
        count(&db, unprocessed).await,
        0,
        "every raw row went through"
    );
    let (state, status, cursor): (String, Value, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT state, status, last_sync_date FROM etl_jobs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        (state.as_str(), &status["overall"]),
        ("FINISHED", &Value::from("FINISHED"))
    );
    assert!(cursor.is_some());
    for (step, stages) in status["steps"].as_object().unwrap() {
        for stage in ["extraction", "transform", "load"] {
            assert_eq!(stages[stage], "finished", "{step} {stage}");
        }
    }

    // A replay of the full sync rewrites nothing, not even bookkeeping times.
    let before = dump(&db, case.replayed).await;
    let replay = run(case, &db, &tenant, &["--full"]).await;
    assert!(replay.status.success(), "{}", stderr(&replay));
    assert_eq!(
        before,
        dump(&db, case.replayed).await,
        "replay changed rows"
    );
    let after_replay = stats(&sim).await;

    // 1 % of the source moves on: the next run reads only a little.
    control(&sim, "mutate", 0.01).await;
    let second = run(case, &db, &tenant, &[]).await;
    assert!(second.status.success(), "{}", stderr(&second));
    let after_second = stats(&sim).await;
    let (full, incremental) = (
        counted(&after_first),
        counted(&after_second) - counted(&after_replay),
    );
    assert!(
        incremental * 100 <= full * case.incremental_share + case.fixed_requests * 100,
        "incremental run made {incremental} counted requests, the full one {full} (goal ≤ {} % + {})",
        case.incremental_share,
        case.fixed_requests
    );
    assert_matches_truth(case, &db, &after_second).await;

    // ... and ends where a fresh full sync of the changed source ends.
    let fresh = ScratchDb::migrated().await;
    let fresh_tenant = (case.tenant)(&fresh, &sim).await;
    let full = run(case, &fresh, &fresh_tenant, &["--full"]).await;
    assert!(full.status.success(), "{}", stderr(&full));
    assert_eq!((case.tables)(&db).await, (case.tables)(&fresh).await);
    sim.stop().await.unwrap();
}

/// Poison records fail the job with their count and error while everything else loads; over
/// RabbitMQ, so the worker path is the one held to it.
async fn a_poison_record_fails_alone(case: &Case) {
    let sim = start((case.poisoned)((case.simulator)(300))).await;
    let db = ScratchDb::migrated().await;
    let tenant = (case.tenant)(&db, &sim).await;
    let queues = Queues::new();
    let dir = tempfile::tempdir().unwrap();
    let worker = queues.worker(&db, dir.path());
    let args = strings(&[
        "run-job", case.name, "--tenant", &tenant, "--queue", "rabbitmq",
    ]);
    let output = cli_with(&db, args, &queues.env()).await;
    assert!(terminate(worker).success());

    let (table, kind) = case.poison;
    let poisoned = count(
        &db,
        &format!(
            "SELECT count(*) FROM raw_extraction_data WHERE type = '{kind}' AND status = 'failed'"
        ),
    )
    .await;
    assert!(poisoned > 0, "the simulator served poison records");
    common::assert_clear_failure(
        &output,
        &format!("{poisoned} item(s) failed to transform or load"),
    );
    assert!(
        stderr(&output).contains("is not a valid timestamp: not a date"),
        "{}",
        stderr(&output)
    );
    let stored = count(
        &db,
        &format!(
            "SELECT count(DISTINCT external_id) FROM raw_extraction_data WHERE type = '{kind}'"
        ),
    )
    .await;
    assert_eq!(
        count(&db, &format!("SELECT count(*) FROM {table}")).await,
        stored - poisoned,
        "every other record is loaded"
    );
    let (state, error): (String, String) =
        sqlx::query_as("SELECT state, error_message FROM etl_jobs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(state, "FAILED");
    assert!(
        error.starts_with(&format!("{poisoned} item(s) failed")),
        "{error}"
    );
    queues.delete().await;
    sim.stop().await.unwrap();
}

/// Separate transform and load workers over RabbitMQ end with the tables of an in-process
/// sync of the same source, and leave no saved batch behind.
async fn rabbitmq_workers_end_as_in_process(case: &Case) {
    let sim = start((case.simulator)(150)).await;
    let db = ScratchDb::migrated().await;
    let tenant = (case.tenant)(&db, &sim).await;
    let queues = Queues::new();
    let dir = tempfile::tempdir().unwrap();
    let transform = queues.worker_of(&db, dir.path(), &["transform"]);
    let load = queues.worker_of(&db, dir.path(), &["load"]);
    let args = strings(&[
        "run-job", case.name, "--tenant", &tenant, "--queue", "rabbitmq",
    ]);
    let synced = cli_with(&db, args, &queues.env()).await;
    assert!(synced.status.success(), "{}", stderr(&synced));
    for worker in [transform, load] {
        assert!(terminate(worker).success());
    }
    assert_matches_truth(case, &db, &stats(&sim).await).await;
    assert_eq!(count(&db, "SELECT count(*) FROM load_batches").await, 0);

    let reference = ScratchDb::migrated().await;
    let reference_tenant = (case.tenant)(&reference, &sim).await;
    let in_process = run(case, &reference, &reference_tenant, &[]).await;
    assert!(in_process.status.success(), "{}", stderr(&in_process));
    assert_eq!((case.tables)(&db).await, (case.tables)(&reference).await);
    queues.delete().await;
    sim.stop().await.unwrap();
}

/// The rows no raw retention pass may delete, by id: every pending or failed row, the
/// newest row of every entity (kind, external id, page), and the GraphQL continuations its
/// newest pull request version read; webhook deliveries are no entity.
const KEPT_BY_RULE: &str = "
    WITH newest AS (
        SELECT * FROM raw_extraction_data r
        WHERE type NOT LIKE '%\\_webhook'
          AND NOT EXISTS (SELECT 1 FROM raw_extraction_data n
                          WHERE n.type = r.type
                            AND n.external_id IS NOT DISTINCT FROM r.external_id
                            AND (n.extraction_metadata->>'startAt')
                                IS NOT DISTINCT FROM (r.extraction_metadata->>'startAt')
                            AND n.id > r.id))
    SELECT id FROM raw_extraction_data WHERE status <> 'processed'
    UNION
    SELECT id FROM newest WHERE type <> 'github_graphql_continuation'
    UNION
    SELECT c.id FROM raw_extraction_data c JOIN newest p
      ON p.type = 'github_graphql_pull' AND c.type = 'github_graphql_continuation'
     AND c.external_id = p.external_id
     AND c.extraction_metadata->>'extraction' = p.extraction_metadata->>'extraction'";

/// `raw prune` for the tenant with `retain_days`, its totals as JSON.
async fn prune(db: &ScratchDb, tenant: &str, retain_days: &str, extra: &[&str]) -> Value {
    let mut args = strings(&["--json", "raw", "prune", "--tenant", tenant]);
    args.extend(strings(extra));
    let output = cli_with(db, args, &[("PULSE_RAW__RETAIN_DAYS", retain_days)]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice::<Value>(&output.stdout).unwrap()[0].clone()
}

/// Raw retention deletes only history: after several syncs (so entities have older
/// versions), nothing inside the window goes, a dry run counts what a real pass deletes, a
/// pass stopped inside its statement deletes nothing, pending and failed rows and the newest
/// version of every entity stay, and reprocessing afterwards gives the same tables byte for
/// byte.
async fn pruning_keeps_what_reprocess_reads(case: &Case) {
    let sim = start((case.simulator)(120)).await;
    let db = ScratchDb::migrated().await;
    let tenant = (case.tenant)(&db, &sim).await;
    for (mutate, extra) in [(0.0, &[][..]), (0.1, &[][..]), (0.0, &["--full"][..])] {
        if mutate > 0.0 {
            control(&sim, "mutate", mutate).await;
        }
        let synced = run(case, &db, &tenant, extra).await;
        assert!(synced.status.success(), "{}", stderr(&synced));
    }
    let integration: i64 = sqlx::query_scalar("SELECT id FROM integrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let integration = integration.to_string();
    let reprocess = || async {
        let args = strings(&[
            "reprocess",
            "--tenant",
            &tenant,
            "--integration",
            &integration,
        ]);
        let output = cli(&db, args).await;
        assert!(output.status.success(), "{}", stderr(&output));
        dump(&db, case.replayed).await
    };
    let reference = reprocess().await;

    // Inside the window nothing is history yet.
    let raw_rows = "SELECT count(*) FROM raw_extraction_data";
    let stored = count(&db, raw_rows).await;
    assert_eq!(prune(&db, &tenant, "14", &["--dry-run"]).await["pruned"], 0);

    // A month later: two older versions are still being processed (one pending, one
    // failed), and a processed and a pending webhook delivery wait.
    sqlx::query("UPDATE raw_extraction_data SET created_at = created_at - interval '30 days'")
        .execute(&db.pool)
        .await
        .unwrap();
    let superseded: Vec<i64> = sqlx::query_scalar(
        "SELECT r.id FROM raw_extraction_data r
         WHERE EXISTS (SELECT 1 FROM raw_extraction_data n
                       WHERE n.type = r.type AND n.external_id = r.external_id AND n.id > r.id
                         AND (n.extraction_metadata->>'startAt')
                             IS NOT DISTINCT FROM (r.extraction_metadata->>'startAt'))
         ORDER BY r.id LIMIT 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(superseded.len(), 2, "the syncs left older versions");
    sqlx::query(
        "UPDATE raw_extraction_data SET status = CASE WHEN id = $1 THEN 'pending' ELSE 'failed' END
         WHERE id = ANY($2)",
    )
    .bind(superseded[0])
    .bind(&superseded)
    .execute(&db.pool)
    .await
    .unwrap();
    let mut stored = stored;
    if let Some(delivery_kind) = case.deliveries {
        sqlx::query(
            "INSERT INTO raw_extraction_data
                 (tenant_id, integration_id, type, external_id, raw_data, status, created_at)
             SELECT i.tenant_id, i.id, $1, d.delivery, '{}', d.status, now() - interval '30 days'
             FROM integrations i,
                  (VALUES ('delivery-done', 'processed'), ('delivery-waiting', 'pending')) d(delivery, status)",
        )
        .bind(delivery_kind)
        .execute(&db.pool)
        .await
        .unwrap();
        stored += 2;
    }
    let kept: BTreeSet<i64> = sqlx::query_scalar(KEPT_BY_RULE)
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let dry = prune(&db, &tenant, "14", &["--dry-run"]).await;
    let would = dry["pruned"].as_i64().unwrap();
    assert!(would > 0, "{dry}");
    assert_eq!(
        count(&db, raw_rows).await,
        stored,
        "a dry run deletes nothing"
    );

    // A pass stopped inside its statement (its backend ended while it waits for a row)
    // leaves every row where it was.
    let mut blocker = db.pool.begin().await.unwrap();
    let newest_history: i64 = sqlx::query_scalar(
        "SELECT max(id) FROM raw_extraction_data WHERE status = 'processed' AND NOT (id = ANY($1))",
    )
    .bind(kept.iter().copied().collect::<Vec<_>>())
    .fetch_one(&mut *blocker)
    .await
    .unwrap();
    sqlx::query("SELECT 1 FROM raw_extraction_data WHERE id = $1 FOR UPDATE")
        .bind(newest_history)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let stopped = cli_in_background(
        &db,
        strings(&["raw", "prune", "--tenant", &tenant]),
        &[("PULSE_RAW__RETAIN_DAYS", "14")],
    );
    let pruner = loop {
        let waiting: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'
               AND query LIKE '%superseded%'",
        )
        .fetch_optional(&db.pool)
        .await
        .unwrap();
        if let Some(pid) = waiting {
            break pid;
        }
        assert!(
            !stopped.is_finished(),
            "the pass ended without waiting for row {newest_history}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pruner)
        .execute(&db.pool)
        .await
        .unwrap();
    assert!(!stopped.await.unwrap().status.success());
    blocker.rollback().await.unwrap();
    assert_eq!(count(&db, raw_rows).await, stored, "nothing half-done");

    // The pass itself: what the dry run counted goes, exactly what the rule keeps stays.
    let pruned = prune(&db, &tenant, "14", &[]).await;
    assert_eq!(pruned["pruned"].as_i64().unwrap(), would, "{pruned}");
    assert_eq!(count(&db, raw_rows).await, stored - would);
    let left: BTreeSet<i64> = sqlx::query_scalar("SELECT id FROM raw_extraction_data")
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        kept.difference(&left).collect::<Vec<_>>(),
        Vec::<&i64>::new(),
        "rows the rule keeps were deleted"
    );
    assert_eq!(
        left.difference(&kept).collect::<Vec<_>>(),
        Vec::<&i64>::new(),
        "history left behind"
    );
    for id in &superseded {
        assert!(left.contains(id), "pending or failed row {id} was pruned");
    }
    if let Some(delivery_kind) = case.deliveries {
        let deliveries: Vec<String> = sqlx::query_scalar(
            "SELECT external_id FROM raw_extraction_data WHERE type = $1 ORDER BY external_id",
        )
        .bind(delivery_kind)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(deliveries, ["delivery-waiting"]);
    }
    assert_eq!(prune(&db, &tenant, "14", &[]).await["pruned"], 0);

    // Reprocessing what is left gives the same tables.
    sqlx::query("UPDATE raw_extraction_data SET status = 'processed' WHERE id = ANY($1)")
        .bind(&superseded)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(reprocess().await, reference, "reprocess after pruning");
    sim.stop().await.unwrap();
}

/// The suite's tests for one source.
macro_rules! conformance {
    ($source:ident, $case:expr) => {
        mod $source {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn full_sync_replay_and_incremental() {
                super::full_replay_and_incremental(&$case).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_poison_record_fails_alone() {
                super::a_poison_record_fails_alone(&$case).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pruning_keeps_what_reprocess_reads() {
                super::pruning_keeps_what_reprocess_reads(&$case).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rabbitmq_workers_end_as_in_process() {
                super::rabbitmq_workers_end_as_in_process(&$case).await;
            }
        }
    };
}

conformance!(jira, super::JIRA);
conformance!(github, super::GITHUB);
conformance!(github_rest, super::GITHUB_REST);
conformance!(azure_devops, super::AZURE_DEVOPS);
conformance!(azure_repos, super::AZURE_REPOS);
