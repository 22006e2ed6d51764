//! Webhooks over real HTTP: the receivers' refusals and once-only storage, secrets made and
//! rotated through the CLI, and the simulator's signed deliveries bringing changes and
//! deletions into the tables through `all` with no poll in between.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::api::TestApi;
use crate::common::queues::terminate;
use crate::common::source::{cli, connect_github, control, count, jira_tenant, stats, strings};
use crate::common::{qdrant, spawn_cli, stderr, stdout, ScratchDb, TEST_SECRET_KEY};
use pulse_etl::security::sign_webhook;
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};

async fn simulator(issues: u32, prs: u32) -> RunningSimulator {
    let config = SimulatorConfig {
        seed: 29,
        jira_issues: issues,
        github_prs: prs,
        github_repos: 2,
        ..SimulatorConfig::default()
    };
    RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

async fn integration_of(db: &ScratchDb, tenant: &str, provider: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT id FROM integrations WHERE tenant_id = $1::text::bigint AND provider = $2",
    )
    .bind(tenant)
    .bind(provider)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// `integration webhook-secret ID [--rotate]`: the secret printed once.
async fn webhook_secret(db: &ScratchDb, integration: i64, rotate: bool) -> Result<String, String> {
    let mut args = strings(&["integration", "webhook-secret", &integration.to_string()]);
    if rotate {
        args.push("--rotate".into());
    }
    let made = cli(db, args).await;
    match made.status.success() {
        true => Ok(stdout(&made).trim().to_owned()),
        false => Err(stderr(&made)),
    }
}

async fn deliver_jira(
    api: &TestApi,
    integration: i64,
    (secret, delivery): (&str, &str),
    body: &[u8],
) -> (StatusCode, Value) {
    let answer = reqwest::Client::new()
        .post(api.url(&format!("/api/v1/webhooks/jira/{integration}")))
        .header("content-type", "application/json")
        .header("x-hub-signature", sign_webhook(secret.as_bytes(), body))
        .header("x-atlassian-webhook-identifier", delivery)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = answer.status();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn receivers_refuse_unsigned_unknown_and_oversized_deliveries_and_store_each_once() {
    let db = ScratchDb::migrated().await;
    let sim = simulator(20, 5).await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let jira = integration_of(&db, &tenant, "jira").await;
    let api = TestApi::start(&db.pool).await;
    let body = br#"{"webhookEvent":"jira:issue_updated","issue":{"id":"10001","key":"CORE-1"}}"#;

    // No secret yet: refused like a wrong signature.
    let (status, refused_before) = deliver_jira(&api, jira, ("anything", "d-0"), body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused_before}");

    let first = webhook_secret(&db, jira, false).await.unwrap();
    assert_eq!(first.len(), 64, "{first}");
    let again = webhook_secret(&db, jira, false).await.unwrap_err();
    assert!(again.contains("--rotate"), "{again}");

    let (status, answer) = deliver_jira(&api, jira, (&first, "d-1"), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["stored"], true);
    let (status, answer) = deliver_jira(&api, jira, (&first, "d-1"), body).await;
    assert_eq!(
        (status, &answer["stored"]),
        (StatusCode::OK, &json!(false)),
        "a redelivery is a no-op"
    );

    // Wrong secret, unknown integration, wrong source: one answer.
    let (status, wrong) = deliver_jira(&api, jira, ("not-it", "d-2"), body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, unknown) = deliver_jira(&api, jira + 1000, (&first, "d-3"), body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, refused_before);
    let as_github = reqwest::Client::new()
        .post(api.url(&format!("/api/v1/webhooks/github/{jira}")))
        .header("x-hub-signature-256", sign_webhook(first.as_bytes(), body))
        .header("x-github-delivery", "d-4")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        as_github.status(),
        StatusCode::UNAUTHORIZED,
        "a Jira integration takes no GitHub deliveries"
    );

    // 2 MiB: 413 in the error shape, nothing stored.
    let large = format!("{{\"pad\":\"{}\"}}", "x".repeat(2 << 20));
    let (status, too_large) = deliver_jira(&api, jira, (&first, "d-5"), large.as_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large["error"]["code"], "payload_too_large");

    // Signed but not JSON: 400.
    let (status, _) = deliver_jira(&api, jira, (&first, "d-6"), b"not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // After a rotation both secrets verify (the old one for a day).
    let second = webhook_secret(&db, jira, true).await.unwrap();
    assert_ne!(first, second);
    for (secret, delivery) in [(&first, "d-7"), (&second, "d-8")] {
        let (status, answer) = deliver_jira(&api, jira, (secret, delivery), body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }

    // Disabled: refused like the rest.
    let disabled = cli(&db, strings(&["integration", "disable", &jira.to_string()])).await;
    assert!(disabled.status.success(), "{}", stderr(&disabled));
    let (status, answer) = deliver_jira(&api, jira, (&second, "d-9"), body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer, refused_before);

    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT external_id FROM raw_extraction_data WHERE type = 'jira_webhook' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored, ["d-1", "d-7", "d-8"]);
    let status = cli(
        &db,
        strings(&[
            "--json",
            "integration",
            "webhooks",
            "status",
            &jira.to_string(),
        ]),
    )
    .await;
    assert!(status.status.success(), "{}", stderr(&status));
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(status[0]["secret_set"], true, "{status}");
    assert_eq!(status[0]["deliveries_last_hour"], 3, "{status}");
    api.stop().await;
    sim.stop().await.unwrap();
}

/// Waits until `sql` counts `expected`, or fails saying what it last counted.
async fn until_counted(db: &ScratchDb, sql: &str, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counted = count(db, sql).await;
        if counted == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sql}: {counted}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn signed_deliveries_bring_changes_and_deletions_without_a_poll() {
    let db = ScratchDb::migrated().await;
    let sim = simulator(300, 60).await;
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    connect_github(&db, &sim, &tenant, &["sim-gh-token"], &[]).await;
    let jira = integration_of(&db, &tenant, "jira").await;
    let github = integration_of(&db, &tenant, "github").await;
    let (jira_secret, github_secret) = (
        webhook_secret(&db, jira, false).await.unwrap(),
        webhook_secret(&db, github, false).await.unwrap(),
    );

    let address = format!("127.0.0.1:{}", qdrant::free_port());
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_JWT_SECRET", crate::common::api::TEST_JWT_SECRET),
        ("PULSE_HTTP_ADDR", address.as_str()),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
    ];
    // One run each at start, the next an hour later: anything after comes by webhook.
    let mut all = KilledOnDrop(Some(spawn_cli(
        dir.path(),
        &env,
        &["all", "--interval-secs", "3600"],
    )));
    until_counted(
        &db,
        "SELECT count(*) FROM etl_jobs WHERE state = 'FINISHED'",
        2,
    )
    .await;
    let runs_before: Vec<Option<chrono::DateTime<chrono::Utc>>> =
        sqlx::query_scalar("SELECT last_run_started_at FROM etl_jobs ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();

    let base = format!("http://{address}/api/v1/webhooks");
    let targets = json!({
        "jira": {"url": format!("{base}/jira/{jira}"), "secret": jira_secret},
        "github": {"url": format!("{base}/github/{github}"), "secret": github_secret},
    });
    let set = reqwest::Client::new()
        .post(format!("{}/_sim/webhooks", sim.base_url()))
        .json(&targets)
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success());

    let requests_before = crate::common::source::requests(&stats(&sim).await);
    let round = control(&sim, "mutate", 0.02).await;
    let changed = round["issues_changed"].as_u64().unwrap()
        + round["issues_added"].as_u64().unwrap()
        + round["prs_changed"].as_u64().unwrap()
        + round["prs_added"].as_u64().unwrap();
    assert!(changed > 0, "{round}");
    assert_eq!(
        round["webhook_deliveries"].as_u64(),
        Some(changed),
        "{round}"
    );

    let truth = stats(&sim).await["truth"].clone();
    let expect = |key: &str| truth[key].as_i64().unwrap();
    until_counted(
        &db,
        "SELECT count(*) FROM work_items WHERE deleted_at IS NULL",
        expect("issues"),
    )
    .await;
    until_counted(
        &db,
        "SELECT count(*) FROM changelogs",
        expect("status_transitions"),
    )
    .await;
    until_counted(&db, "SELECT count(*) FROM prs", expect("prs")).await;
    until_counted(&db, "SELECT count(*) FROM pr_reviews", expect("reviews")).await;
    until_counted(&db, "SELECT count(*) FROM pr_commits", expect("commits")).await;
    until_counted(&db, "SELECT count(*) FROM pr_comments", expect("comments")).await;
    until_counted(
        &db,
        "SELECT count(*) FROM raw_extraction_data WHERE type LIKE '%_webhook' AND status = 'processed'",
        changed as i64,
    )
    .await;
    let used = crate::common::source::requests(&stats(&sim).await) - requests_before;
    assert!(
        used <= changed + 20,
        "about one read per changed entity: {used} requests for {changed} changes"
    );

    let deleted = control(&sim, "delete", 0.01).await;
    let gone = deleted["issues_deleted"].as_i64().unwrap();
    until_counted(
        &db,
        "SELECT count(*) FROM work_items WHERE deleted_at IS NOT NULL",
        gone,
    )
    .await;

    let runs_after: Vec<Option<chrono::DateTime<chrono::Utc>>> =
        sqlx::query_scalar("SELECT last_run_started_at FROM etl_jobs ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(runs_before, runs_after, "no poll ran");
    assert!(terminate(all.0.take().unwrap()).success());
    sim.stop().await.unwrap();
}

/// A child process killed if the test fails before stopping it.
struct KilledOnDrop(Option<std::process::Child>);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
