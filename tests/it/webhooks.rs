//! Webhooks over real HTTP: the receivers' refusals and once-only storage, secrets made and
//! rotated through the CLI, and the simulator's signed deliveries bringing changes and
//! deletions into the tables through `all` with no poll in between.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::api::TestApi;
use crate::common::queues::terminate;
use crate::common::source::{
    cli, connect_github, control, count, github_tables, jira_tables, jira_tenant, stats, strings,
};
use crate::common::{qdrant, spawn_cli, stderr, stdout, ScratchDb, TEST_SECRET_KEY};
use pulse_etl::security::sign_webhook;
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};

async fn simulator(issues: u32, prs: u32) -> RunningSimulator {
    slow_simulator(issues, prs, Duration::ZERO).await
}

/// As [`simulator`], every API answer taking `latency`.
async fn slow_simulator(issues: u32, prs: u32, latency: Duration) -> RunningSimulator {
    let config = SimulatorConfig {
        seed: 29,
        jira_issues: issues,
        github_prs: prs,
        github_repos: 2,
        latency,
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
    let (tenant, jira, jira_secret, github, github_secret) = tenant_with_hooks(&db, &sim).await;
    // With the local model (when it is here), what deliveries change is embedded too.
    let model = qdrant::model_dir();
    let data = tempfile::tempdir().unwrap();
    let env = match &model {
        Some(model) => crate::embedding::env(model, data.path()),
        None => Vec::new(),
    };
    if model.is_some() {
        crate::embedding::set_local(&db, &env, &tenant).await;
    }
    let (mut all, address) = start_all_with(&db, &env);
    until_counted(
        &db,
        "SELECT count(*) FROM etl_jobs WHERE state = 'FINISHED'",
        2,
    )
    .await;
    let runs_before = job_runs(&db).await;
    // Registered through the sources' APIs, as on real ones (new secrets replace those made
    // above).
    let _ = (jira_secret, github_secret);
    for id in [jira, github] {
        let installed = install(&db, id, &address).await;
        assert_eq!(installed["manual"], json!([]), "{installed}");
        assert!(
            !installed["registered"].as_array().unwrap().is_empty(),
            "{installed}"
        );
    }

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
    until_processed(&db).await;
    if model.is_some() {
        for (table, live) in [("work_items", "r.deleted_at IS NULL"), ("prs", "TRUE")] {
            let stale = format!(
                "SELECT count(*) FROM {table} r LEFT JOIN qdrant_vectors v
                   ON v.tenant_id = r.tenant_id AND v.table_name = '{table}' AND v.record_id = r.id
                 WHERE {live} AND (v.id IS NULL OR v.row_updated_at IS DISTINCT FROM r.updated_at)"
            );
            until_counted(&db, &stale, 0).await;
        }
        let deleted_vectors = "SELECT count(*) FROM qdrant_vectors v JOIN work_items w
            ON v.table_name = 'work_items' AND v.record_id = w.id WHERE w.deleted_at IS NOT NULL";
        until_counted(&db, deleted_vectors, 0).await;
    }

    assert_eq!(runs_before, job_runs(&db).await, "no poll ran");
    assert!(terminate(all.0.take().unwrap()).success());
    sim.stop().await.unwrap();
}

/// `integration webhooks install ID --public-url http://<address>` (JSON).
async fn install(db: &ScratchDb, integration: i64, address: &str) -> Value {
    let public_url = format!("http://{address}");
    let args = strings(&[
        "--json",
        "integration",
        "webhooks",
        "install",
        &integration.to_string(),
        "--public-url",
        &public_url,
    ]);
    let installed = cli(db, args).await;
    assert!(installed.status.success(), "{}", stderr(&installed));
    serde_json::from_str(&stdout(&installed)).unwrap()
}

#[tokio::test]
async fn install_registers_hooks_or_says_what_to_set_up_and_uninstall_removes_them() {
    let db = ScratchDb::migrated().await;
    let sim = simulator(30, 10).await;
    let (tenant, jira, _, github, _) = tenant_with_hooks(&db, &sim).await;
    for provider in ["jira", "github"] {
        let run = cli(&db, strings(&["run-job", provider, "--tenant", &tenant])).await;
        assert!(run.status.success(), "{}", stderr(&run));
    }
    // Without the right: what to paste, with the URL and the new secret.
    set_targets(
        &sim,
        &Hooks {
            address: "unused",
            jira: (0, ""),
            github: (0, ""),
        },
        json!({"deny_registration": true}),
    )
    .await;
    let denied = install(&db, github, "pulse.example.com").await;
    assert_eq!(denied["registered"], json!([]), "{denied}");
    let manual = denied["manual"].as_array().unwrap();
    assert_eq!(manual.len(), 2, "one per repository: {denied}");
    let line = manual[0].as_str().unwrap();
    assert!(
        line.contains(&format!(
            "http://pulse.example.com/api/v1/webhooks/github/{github}"
        )),
        "{line}"
    );
    assert!(line.contains("application/json"), "{line}");

    // With it: registered, recorded, shown in the status, removed by uninstall.
    let reset = reqwest::Client::new()
        .post(format!("{}/_sim/webhooks", sim.base_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success());
    let jira_installed = install(&db, jira, "pulse.example.com").await;
    assert_eq!(
        jira_installed["registered"],
        json!(["site"]),
        "{jira_installed}"
    );
    let github_installed = install(&db, github, "pulse.example.com").await;
    assert_eq!(
        github_installed["registered"].as_array().unwrap().len(),
        2,
        "{github_installed}"
    );
    // Installing again replaces the hooks rather than adding more.
    install(&db, github, "pulse.example.com").await;
    let registered = count(&db, "SELECT count(*) FROM webhook_registrations").await;
    assert_eq!(registered, 3);
    let status = cli(
        &db,
        strings(&[
            "--json",
            "integration",
            "webhooks",
            "status",
            &github.to_string(),
        ]),
    )
    .await;
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(
        status[0]["installed"].as_array().unwrap().len(),
        2,
        "{status}"
    );
    for id in [jira, github] {
        let removed = cli(
            &db,
            strings(&["integration", "webhooks", "uninstall", &id.to_string()]),
        )
        .await;
        assert!(removed.status.success(), "{}", stderr(&removed));
    }
    assert_eq!(
        count(&db, "SELECT count(*) FROM webhook_registrations").await,
        0
    );
    // Nothing left registered at the source: a change is delivered nowhere.
    let round = control(&sim, "mutate", 0.2).await;
    assert_eq!(round["webhook_deliveries"], 0, "{round}");

    // A public URL that is not one: refused by name.
    let bad = cli(
        &db,
        strings(&[
            "integration",
            "webhooks",
            "install",
            &jira.to_string(),
            "--public-url",
            "ftp://x",
        ]),
    )
    .await;
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--public-url"), "{}", stderr(&bad));
    sim.stop().await.unwrap();
}

/// When each job's last run started.
async fn job_runs(db: &ScratchDb) -> Vec<Option<chrono::DateTime<chrono::Utc>>> {
    sqlx::query_scalar("SELECT last_run_started_at FROM etl_jobs ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

/// `pulse-etl all` over `db` (poll every second, the next run an hour after the first, so
/// anything after the first runs comes by webhook), and its API's address.
fn start_all(db: &ScratchDb) -> (KilledOnDrop, String) {
    start_all_with(db, &[])
}

/// As [`start_all`], with more environment variables.
fn start_all_with(db: &ScratchDb, extra: &[(String, String)]) -> (KilledOnDrop, String) {
    let address = format!("127.0.0.1:{}", qdrant::free_port());
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_JWT_SECRET", crate::common::api::TEST_JWT_SECRET),
        ("PULSE_HTTP_ADDR", address.as_str()),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let child = spawn_cli(dir.path(), &env, &["all", "--interval-secs", "3600"]);
    (KilledOnDrop(Some(child), dir), address)
}

/// Where the simulator delivers: the integrations' receivers on an API, with their secrets.
struct Hooks<'a> {
    address: &'a str,
    jira: (i64, &'a str),
    github: (i64, &'a str),
}

/// Points the simulator's deliveries at `hooks`, with `knobs` (duplicate, reverse, …).
async fn set_targets(sim: &RunningSimulator, hooks: &Hooks<'_>, knobs: Value) {
    let base = format!("http://{}/api/v1/webhooks", hooks.address);
    let mut settings = json!({
        "jira": {"url": format!("{base}/jira/{}", hooks.jira.0), "secret": hooks.jira.1},
        "github": {"url": format!("{base}/github/{}", hooks.github.0), "secret": hooks.github.1},
    });
    for (key, value) in knobs.as_object().unwrap() {
        settings[key] = value.clone();
    }
    let set = reqwest::Client::new()
        .post(format!("{}/_sim/webhooks", sim.base_url()))
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success(), "{}", set.text().await.unwrap());
}

/// A tenant with a Jira and a GitHub integration on `sim`, each with a webhook secret:
/// `(tenant, jira id, jira secret, github id, github secret)`.
async fn tenant_with_hooks(
    db: &ScratchDb,
    sim: &RunningSimulator,
) -> (String, i64, String, i64, String) {
    let tenant = jira_tenant(db, sim, "sim-token").await;
    connect_github(db, sim, &tenant, &["sim-gh-token"], &[]).await;
    let jira = integration_of(db, &tenant, "jira").await;
    let github = integration_of(db, &tenant, "github").await;
    let jira_secret = webhook_secret(db, jira, false).await.unwrap();
    let github_secret = webhook_secret(db, github, false).await.unwrap();
    (tenant, jira, jira_secret, github, github_secret)
}

/// Both sources' tables as a fresh full sync of `sim` into a new database leaves them.
async fn fresh_full_sync(sim: &RunningSimulator) -> (Value, Value) {
    let db = ScratchDb::migrated().await;
    let tenant = jira_tenant(&db, sim, "sim-token").await;
    connect_github(&db, sim, &tenant, &["sim-gh-token"], &[]).await;
    for provider in ["jira", "github"] {
        let run = cli(
            &db,
            strings(&["run-job", provider, "--tenant", &tenant, "--full"]),
        )
        .await;
        assert!(run.status.success(), "{}", stderr(&run));
    }
    tables(&db).await
}

async fn tables(db: &ScratchDb) -> (Value, Value) {
    let (items, changelogs) = jira_tables(db).await;
    (json!([items, changelogs]), json!(github_tables(db).await))
}

/// Waits until no delivery is pending.
async fn until_processed(db: &ScratchDb) {
    until_counted(
        db,
        "SELECT count(*) FROM raw_extraction_data WHERE type LIKE '%_webhook' AND status = 'pending'",
        0,
    )
    .await;
}

/// A tenant with both sources synced once by `all`, the simulator delivering to its
/// receivers with `knobs`; returns the tenant and the running `all`.
async fn synced_and_delivering(
    db: &ScratchDb,
    sim: &RunningSimulator,
    knobs: Value,
) -> (String, KilledOnDrop) {
    let (tenant, jira, jira_secret, github, github_secret) = tenant_with_hooks(db, sim).await;
    let (all, address) = start_all(db);
    let finished = "SELECT count(*) FROM etl_jobs WHERE state = 'FINISHED'";
    until_counted(db, finished, 2).await;
    let hooks = Hooks {
        address: &address,
        jira: (jira, &jira_secret),
        github: (github, &github_secret),
    };
    set_targets(sim, &hooks, knobs).await;
    (tenant, all)
}

#[tokio::test]
async fn duplicated_reordered_refused_and_dropped_deliveries_end_equal_after_a_reconcile() {
    let db = ScratchDb::migrated().await;
    let sim = simulator(200, 40).await;
    let knobs = json!({"duplicate": true, "reverse": true, "delay_ms": 300,
        "drop_every": 5, "bad_signature_every": 7});
    let (tenant, mut all) = synced_and_delivering(&db, &sim, knobs).await;
    for _ in 0..3 {
        control(&sim, "mutate", 0.05).await;
    }
    let counts: Value = reqwest::get(format!("{}/_sim/webhooks", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let counts = &counts["counts"];
    assert!(counts["dropped"].as_u64().unwrap() > 0, "{counts}");
    assert!(
        counts["refused"].as_u64().unwrap() > 0,
        "bad signatures refused: {counts}"
    );
    assert_eq!(counts["failed"], 0, "{counts}");
    // Each accepted delivery id stored once (its duplicate answered as a redelivery).
    let stored = count(
        &db,
        "SELECT count(*) FROM raw_extraction_data WHERE type LIKE '%_webhook'",
    )
    .await;
    let accepted = counts["accepted"].as_i64().unwrap();
    assert_eq!(stored * 2, accepted, "{counts}");
    until_processed(&db).await;

    // What was dropped or refused is missing until polling reconciles it.
    let fresh = fresh_full_sync(&sim).await;
    assert_ne!(
        tables(&db).await,
        fresh,
        "the lost deliveries' changes are missing"
    );
    // The scheduler's next runs (made due now) reconcile, and report the gap; the last full
    // runs (the first ones) made two days old, the runs after are due to read everything.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM etl_jobs WHERE last_full_sync_at IS NOT NULL"
        )
        .await,
        2,
        "a first run reads everything"
    );
    sqlx::query("UPDATE etl_jobs SET last_full_sync_at = now() - interval '2 days'")
        .execute(&db.pool)
        .await
        .unwrap();
    let runs_before = job_runs(&db).await;
    let jobs: Vec<i64> = sqlx::query_scalar("SELECT id FROM etl_jobs ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    for job in &jobs {
        let args = ["jobs", "trigger", "--tenant", &tenant, &job.to_string()];
        let triggered = cli(&db, strings(&args)).await;
        assert!(triggered.status.success(), "{}", stderr(&triggered));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = job_runs(&db).await;
        let finished = count(
            &db,
            "SELECT count(*) FROM etl_jobs WHERE state = 'FINISHED'",
        )
        .await;
        if finished == 2
            && runs
                .iter()
                .zip(&runs_before)
                .all(|(now, before)| now > before)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the reconcile runs never ended");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(terminate(all.0.take().unwrap()).success());
    let gaps = count(
        &db,
        "SELECT count(*) FROM webhook_secrets WHERE last_gap_records > 0",
    )
    .await;
    assert!(gaps > 0, "the reconcile found what the deliveries missed");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM etl_jobs WHERE full_sync_requested"
        )
        .await,
        2,
        "a full reconcile is due"
    );
    assert_eq!(tables(&db).await, fresh);
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn deliveries_stored_before_a_kill_are_processed_after_the_restart() {
    let db = ScratchDb::migrated().await;
    // Answers slow enough that the processing of the burst is under way at the kill.
    let sim = slow_simulator(300, 60, Duration::from_millis(800)).await;
    let (_, mut all) = synced_and_delivering(&db, &sim, json!({})).await;
    let runs_before = job_runs(&db).await;
    let round = control(&sim, "mutate", 0.3).await;
    assert!(
        round["webhook_deliveries"].as_u64().unwrap() > 50,
        "{round}"
    );
    // Mid-burst: after the coalescing second, while the batch is being read (each answer
    // takes 0.8 s) and loaded.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let mut killed = all.0.take().unwrap();
    killed.kill().unwrap();
    killed.wait().unwrap();
    let pending = count(
        &db,
        "SELECT count(*) FROM raw_extraction_data WHERE type LIKE '%_webhook' AND status = 'pending'",
    )
    .await;
    assert!(pending > 0, "the kill came before the deliveries were done");

    let (mut again, _) = start_all(&db);
    until_processed(&db).await;
    assert!(terminate(again.0.take().unwrap()).success());
    assert_eq!(
        job_runs(&db).await,
        runs_before,
        "no poll ran: the deliveries did it"
    );
    assert_eq!(tables(&db).await, fresh_full_sync(&sim).await);
    sim.stop().await.unwrap();
}

/// A child process killed if the test fails before stopping it.
struct KilledOnDrop(
    Option<std::process::Child>,
    #[allow(dead_code)] tempfile::TempDir,
);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
