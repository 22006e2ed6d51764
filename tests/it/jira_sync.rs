//! `run-job jira` beyond the conformance suite: development links, deletions, a reset, a
//! flaky source, bad credentials, custom fields, the account's time zone, progress events.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common;
use crate::common::source::{
    cli, control, count, jira_tenant, jira_tenant_with, requests, stats, strings,
};
use crate::common::{stdout, ScratchDb};
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};
use serde_json::Value;

async fn simulator(issues: u32, fault_rate: f64) -> RunningSimulator {
    simulator_in(issues, fault_rate, "UTC").await
}

async fn simulator_in(issues: u32, fault_rate: f64, timezone: &str) -> RunningSimulator {
    let config = SimulatorConfig {
        seed: 11,
        jira_issues: issues,
        fault_rate,
        slow_response: Duration::from_millis(20),
        jira_timezone: timezone.into(),
        ..SimulatorConfig::default()
    };
    RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

/// Jira beyond the conformance suite: development links, deletions found by a full run, and
/// an operator's reset making the next run a full one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_marks_deleted_issues_and_a_reset_rereads_everything() {
    let sim = simulator(1_500, 0.0).await;
    let db = ScratchDb::migrated().await;
    // Development-panel links: a Jira-only tenant has them without any pull request loaded.
    let tenant = jira_tenant_with(&db, &sim, "sim-token", &["--dev-status"]).await;

    let first = cli(
        &db,
        strings(&["--json", "run-job", "jira", "--tenant", &tenant]),
    )
    .await;
    assert!(first.status.success(), "{}", common::stderr(&first));
    let summary: Value = serde_json::from_str(&stdout(&first)).unwrap();
    assert_eq!(summary[2]["step"], "jira_issues_with_changelogs");
    assert_eq!(summary[2]["loaded"], 1_500);
    let first_requests = requests(&stats(&sim).await);
    assert!(count(&db, "SELECT count(*) FROM work_item_pr_links").await > 100);

    // A full run marks what the source deleted instead of keeping ghosts.
    let deleted = control(&sim, "delete", 0.02).await["issues_deleted"]
        .as_u64()
        .unwrap();
    let full = cli(
        &db,
        strings(&["run-job", "jira", "--tenant", &tenant, "--full"]),
    )
    .await;
    assert!(full.status.success(), "{}", common::stderr(&full));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM work_items WHERE deleted_at IS NOT NULL"
        )
        .await as u64,
        deleted
    );

    // An operator's reset makes the next scheduled-style run (no --full) a full one, once.
    let job: String = sqlx::query_scalar("SELECT id::text FROM etl_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let reset = cli(&db, strings(&["jobs", "reset", "--tenant", &tenant, &job])).await;
    assert!(reset.status.success(), "{}", common::stderr(&reset));
    let before = requests(&stats(&sim).await);
    let run = cli(&db, strings(&["run-job", "jira", "--tenant", &tenant])).await;
    assert!(run.status.success(), "{}", common::stderr(&run));
    assert!(
        requests(&stats(&sim).await) - before > first_requests / 2,
        "the run after a reset re-reads everything"
    );
    let (state, full_next): (String, bool) =
        sqlx::query_as("SELECT state, full_sync_requested FROM etl_jobs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), full_next), ("FINISHED", false));
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_source_still_syncs_completely() {
    let sim = simulator(300, 0.08).await;
    let db = ScratchDb::migrated().await;
    // With the development panel a run makes enough requests for faults to be served.
    let tenant = jira_tenant_with(&db, &sim, "sim-token", &["--dev-status"]).await;
    let run = cli(&db, strings(&["run-job", "jira", "--tenant", &tenant])).await;
    assert!(run.status.success(), "{}", common::stderr(&run));
    let truth = stats(&sim).await;
    let faults: u64 = ["500", "502", "503"]
        .iter()
        .filter_map(|s| truth["responses"][s].as_u64())
        .sum();
    assert!(faults > 0, "faults were served: {}", truth["responses"]);
    assert_eq!(
        count(&db, "SELECT count(*) FROM work_items").await as u64,
        truth["truth"]["issues"].as_u64().unwrap()
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM changelogs").await as u64,
        truth["truth"]["status_transitions"].as_u64().unwrap()
    );
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_fail_the_job_with_a_clear_error() {
    let sim = simulator(50, 0.0).await;
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "wrong-token").await;
    let run = cli(&db, strings(&["run-job", "jira", "--tenant", &tenant])).await;
    common::assert_clear_failure(&run, "401");
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, error_message FROM etl_jobs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(state, "FAILED");
    assert!(error.unwrap().contains("401"));
    let missing = cli(&db, strings(&["run-job", "jira", "--tenant", "999"])).await;
    common::assert_clear_failure(&missing, "tenant 999 does not exist");

    // A failure before the first request (credentials that no longer open) is recorded too.
    sqlx::query("UPDATE integrations SET credentials_encrypted = '\\x01'")
        .execute(&db.pool)
        .await
        .unwrap();
    let run = cli(&db, strings(&["run-job", "jira", "--tenant", &tenant])).await;
    common::assert_clear_failure(&run, "sealed credentials");
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, error_message FROM etl_jobs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(state, "FAILED");
    assert!(error.unwrap().contains("sealed credentials"));
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_fields_mapped_after_a_sync_apply_on_reprocess_without_api_calls() {
    let sim = simulator(200, 0.0).await;
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let run = cli(&db, strings(&["run-job", "jira", "--tenant", &tenant])).await;
    assert!(run.status.success(), "{}", common::stderr(&run));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM work_items WHERE story_points IS NOT NULL"
        )
        .await,
        0,
        "nothing mapped yet"
    );
    let overflow = count(
        &db,
        "SELECT count(*) FROM work_items WHERE custom_fields_overflow ? 'customfield_10010'",
    )
    .await;
    assert!(overflow > 0, "unmapped custom fields land in the overflow");

    let integration: i64 = sqlx::query_scalar("SELECT id FROM integrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let integration = integration.to_string();
    let synced = cli(
        &db,
        strings(&[
            "--json",
            "custom-fields",
            "sync",
            "--integration",
            &integration,
        ]),
    )
    .await;
    assert!(synced.status.success(), "{}", common::stderr(&synced));
    let fields: Value = serde_json::from_str(&stdout(&synced)).unwrap();
    assert!(fields.as_array().unwrap().len() >= 30);
    let unknown = cli(
        &db,
        strings(&[
            "custom-fields",
            "map",
            "--integration",
            &integration,
            "--team",
            "customfield_99999",
        ]),
    )
    .await;
    common::assert_clear_failure(&unknown, "custom-fields sync");
    let nothing = cli(
        &db,
        strings(&["custom-fields", "map", "--integration", &integration]),
    )
    .await;
    assert_eq!(nothing.status.code(), Some(2), "a target is required");
    let mapped = cli(
        &db,
        strings(&[
            "custom-fields",
            "map",
            "--integration",
            &integration,
            "--story-points",
            "customfield_10010",
            "--team",
            "customfield_10012",
            "--slot",
            "1",
            "--field",
            "customfield_10016",
        ]),
    )
    .await;
    assert!(mapped.status.success(), "{}", common::stderr(&mapped));

    let before = requests(&stats(&sim).await);
    let again = cli(
        &db,
        strings(&[
            "reprocess",
            "--tenant",
            &tenant,
            "--integration",
            &integration,
        ]),
    )
    .await;
    assert!(again.status.success(), "{}", common::stderr(&again));
    assert_eq!(
        requests(&stats(&sim).await),
        before,
        "reprocess makes no API call"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM work_items WHERE story_points IS NOT NULL"
        )
        .await,
        overflow
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM work_items WHERE custom_fields_overflow ? 'customfield_10010'"
        )
        .await,
        0
    );
    assert!(
        count(
            &db,
            "SELECT count(*) FROM work_items WHERE team IS NOT NULL"
        )
        .await
            > 0
    );
    assert!(
        count(
            &db,
            "SELECT count(*) FROM work_items WHERE custom_field_01 IN ('S1', 'S2', 'S3', 'S4')"
        )
        .await
            > 0
    );
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_cursor_is_written_in_the_accounts_time_zone() {
    // West of UTC: a cursor written in UTC would be read hours too late and miss changes.
    let sim = simulator_in(300, 0.0, "America/New_York").await;
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let first = cli(&db, strings(&["run-job", "jira", "--tenant", &tenant])).await;
    assert!(first.status.success(), "{}", common::stderr(&first));
    control(&sim, "mutate", 0.05).await;
    let second = cli(&db, strings(&["run-job", "jira", "--tenant", &tenant])).await;
    assert!(second.status.success(), "{}", common::stderr(&second));
    let truth = stats(&sim).await["truth"].clone();
    assert_eq!(
        count(&db, "SELECT count(*) FROM work_items").await as u64,
        truth["issues"].as_u64().unwrap()
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM changelogs").await as u64,
        truth["status_transitions"].as_u64().unwrap()
    );
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_events_stream_to_watchers_in_other_processes() {
    use std::io::Read;
    use std::process::{Command, Stdio};

    let sim = simulator(120, 0.0).await;
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let other = common::source::tenant(&db).await;
    let watch = |tenant: &str| {
        Command::new(env!("CARGO_BIN_EXE_pulse-etl"))
            .args(["--json", "jobs", "watch", "--tenant", tenant])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    };
    let mut watcher = watch(&tenant);
    let mut outsider = watch(&other);
    // Both are listening once their sessions have run LISTEN.
    let started = std::time::Instant::now();
    while count(
        &db,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .await
        < 2
    {
        assert!(started.elapsed() < Duration::from_secs(20), "watchers did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let run = cli(&db, strings(&["run-job", "jira", "--tenant", &tenant])).await;
    assert!(run.status.success(), "{}", common::stderr(&run));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut lines = Vec::new();
    for child in [&mut watcher, &mut outsider] {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        assert!(child.wait().unwrap().success());
        let mut text = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        lines.push(text);
    }
    let events: Vec<Value> = lines[0]
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        lines[1].trim().is_empty(),
        "another tenant's watcher saw: {}",
        lines[1]
    );
    let job = |state: &str| {
        events
            .iter()
            .any(|e| e["step"].is_null() && e["state"] == state)
    };
    assert!(job("RUNNING") && job("FINISHED"), "{events:?}");
    for step in [
        "jira_projects_and_issue_types",
        "jira_statuses_and_relationships",
        "jira_issues_with_changelogs",
        "jira_dev_status",
    ] {
        for stage in ["extraction", "transform", "load"] {
            for state in ["running", "finished"] {
                assert!(
                    events
                        .iter()
                        .any(|e| e["step"] == step && e["stage"] == stage && e["state"] == state),
                    "no {step} {stage} {state} event in {events:?}"
                );
            }
        }
    }
    assert_eq!(events.last().unwrap()["state"], "FINISHED");
    sim.stop().await.unwrap();
}

/// The `extracted=` and `loaded=` of each progress line in a run's log.
fn progress_counts(log: &str) -> Vec<(u64, u64)> {
    let field = |line: &str, name: &str| -> Option<u64> {
        let (_, rest) = line.split_once(&format!("{name}="))?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    log.lines()
        .filter(|line| line.contains("progress") && line.contains("jira_issues_with_changelogs"))
        .filter_map(|line| Some((field(line, "extracted")?, field(line, "loaded")?)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_lines_count_what_was_extracted_so_far() {
    let sim = simulator(1_500, 0.0).await;
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let args = common::source::strings(&["run-job", "jira", "--tenant", &tenant]);
    let run = common::source::cli_logging(&db, args, "info").await;
    assert!(run.status.success(), "{}", common::stderr(&run));
    let lines = progress_counts(&common::stderr(&run));
    assert!(
        lines.len() > 1,
        "progress lines while the step ran: {lines:?}"
    );
    // Extraction runs ahead of the load, and every line says how far it got.
    for (extracted, loaded) in &lines {
        assert!(extracted >= loaded && *extracted > 0, "{lines:?}");
    }
    sim.stop().await.unwrap();
}
