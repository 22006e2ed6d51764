//! Helpers for tests that sync the simulator: the CLI run off the async runtime, the
//! simulator's request counts and truth, and its control endpoints.

use serde_json::{json, Value};

use super::{run_cli, ScratchDb, TEST_SECRET_KEY};
use pulse_etl::domain::IntegrationRef;
use pulse_etl::simulator::RunningSimulator;

/// Runs `pulse-etl` against `db` on a blocking thread, in a fresh directory.
pub async fn cli(db: &ScratchDb, args: Vec<String>) -> std::process::Output {
    cli_with(db, args, &[]).await
}

/// As [`cli`], with `RUST_LOG` set to `log`.
pub async fn cli_logging(db: &ScratchDb, args: Vec<String>, log: &str) -> std::process::Output {
    cli_with(db, args, &[("RUST_LOG", log)]).await
}

/// As [`cli`], with more environment variables.
pub async fn cli_with(
    db: &ScratchDb,
    args: Vec<String>,
    env: &[(&str, &str)],
) -> std::process::Output {
    cli_in_background(db, args, env).await.unwrap()
}

/// As [`cli_with`], started now and awaited later (to act on the run while it goes on).
pub fn cli_in_background(
    db: &ScratchDb,
    args: Vec<String>,
    env: &[(&str, &str)],
) -> tokio::task::JoinHandle<std::process::Output> {
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.push(("PULSE_SECRET_KEY".into(), TEST_SECRET_KEY.into()));
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_cli(dir.path(), &env, &args, None)
    })
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// A new tenant's id.
pub async fn tenant(db: &ScratchDb) -> String {
    let name = format!("Sync {}", uuid::Uuid::new_v4().simple());
    let created = cli(
        db,
        strings(&["tenant", "create", "--name", &name, "--tier", "premium"]),
    )
    .await;
    assert!(created.status.success(), "{}", super::stderr(&created));
    super::stdout(&created).trim().to_owned()
}

/// `/_sim/stats`: requests per route, responses per status, and the truth.
pub async fn stats(sim: &RunningSimulator) -> Value {
    reqwest::get(format!("{}/_sim/stats", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// All requests the simulator answered.
pub fn requests(stats: &Value) -> u64 {
    stats["requests"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

/// Requests the simulator answered with `status`.
pub fn responses(stats: &Value, status: &str) -> u64 {
    stats["responses"][status].as_u64().unwrap_or(0)
}

/// `/_sim/mutate` or `/_sim/delete` with a fraction.
pub async fn control(sim: &RunningSimulator, path: &str, fraction: f64) -> Value {
    reqwest::Client::new()
        .post(format!("{}/_sim/{path}", sim.base_url()))
        .json(&json!({"fraction": fraction}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn count(db: &ScratchDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}

/// Work items and transitions by natural keys, without surrogate ids or bookkeeping times.
pub async fn jira_tables(db: &ScratchDb) -> (Vec<Value>, Vec<Value>) {
    let items = sqlx::query_scalar(
        "SELECT to_jsonb(w) - ARRAY['id', 'tenant_id', 'integration_id', 'project_id', 'wit_id', 'status_id', 'created_at', 'updated_at']
                || jsonb_build_object('status', s.external_id)
         FROM work_items w LEFT JOIN statuses s ON s.id = w.status_id ORDER BY w.external_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let changelogs = sqlx::query_scalar(
        "SELECT to_jsonb(c) - ARRAY['id', 'tenant_id', 'integration_id', 'work_item_id', 'from_status_id', 'to_status_id', 'created_at', 'updated_at']
                || jsonb_build_object('item', w.external_id, 'from', f.external_id, 'to', t.external_id)
         FROM changelogs c JOIN work_items w ON w.id = c.work_item_id
         LEFT JOIN statuses f ON f.id = c.from_status_id LEFT JOIN statuses t ON t.id = c.to_status_id
         ORDER BY c.external_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    (items, changelogs)
}

/// A tenant with an Azure DevOps integration signing in with `token` at the simulated
/// organization; returns the tenant id.
pub async fn azure_tenant(db: &ScratchDb, sim: &RunningSimulator, token: &str) -> String {
    let tenant = tenant(db).await;
    let base_url = sim.base_url_for(pulse_etl::domain::Provider::AzureDevops);
    let extra = ["--requests-per-second", "2000", "--concurrency", "16"];
    let created = create_azure(db, &tenant, (&base_url, token), &extra).await;
    assert!(created.status.success(), "{}", super::stderr(&created));
    tenant
}

/// `integration create --provider azure_devops` for `tenant` at `base_url` with `token`
/// and `extra` arguments.
pub async fn create_azure(
    db: &ScratchDb,
    tenant: &str,
    (base_url, token): (&str, &str),
    extra: &[&str],
) -> std::process::Output {
    let mut args = strings(&[
        "integration",
        "create",
        "--tenant",
        tenant,
        "--provider",
        "azure_devops",
        "--base-url",
        base_url,
        "--token",
        token,
    ]);
    args.extend(strings(extra));
    cli(db, args).await
}

/// A tenant with a Jira integration pointed at the simulator; returns the tenant id.
pub async fn jira_tenant(db: &ScratchDb, sim: &RunningSimulator, token: &str) -> String {
    jira_tenant_with(db, sim, token, &[]).await
}

/// As [`jira_tenant`], with more `integration create` flags (`--dev-status`, say).
pub async fn jira_tenant_with(
    db: &ScratchDb,
    sim: &RunningSimulator,
    token: &str,
    extra: &[&str],
) -> String {
    let tenant = tenant(db).await;
    let mut args = strings(&[
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
        token,
        "--requests-per-second",
        "2000",
        "--concurrency",
        "16",
    ]);
    args.extend(strings(extra));
    let created = cli(db, args).await;
    assert!(created.status.success(), "{}", super::stderr(&created));
    tenant
}

/// Adds a GitHub integration with `tokens` (and any extra arguments) to the tenant.
pub async fn connect_github(
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
    assert!(created.status.success(), "{}", super::stderr(&created));
}

pub async fn github_tenant(db: &ScratchDb, sim: &RunningSimulator) -> String {
    let tenant = tenant(db).await;
    connect_github(db, sim, &tenant, &["sim-gh-token"], &[]).await;
    tenant
}

/// GitHub tables by natural keys, without surrogate ids or bookkeeping times.
pub async fn github_tables(db: &ScratchDb) -> Vec<Vec<Value>> {
    let bookkeeping = "ARRAY['id', 'tenant_id', 'integration_id', 'repository_id', 'pr_id', 'created_at', 'updated_at']";
    let mut tables = Vec::new();
    for (table, order) in [
        ("repositories", "t.external_id"),
        ("prs", "t.external_id"),
        ("pr_commits", "t.external_id"),
        ("pr_reviews", "t.external_id"),
        ("pr_comments", "t.comment_type, t.external_id"),
        ("deployments", "t.external_id"),
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

/// A tenant with a GitHub integration created through the library (no CLI); returns
/// the pair.
pub async fn github_integration(db: &ScratchDb, name: &str) -> IntegrationRef {
    use pulse_etl::domain::{Provider, Tier};
    use pulse_etl::security::{CredentialCipher, SecretKey};
    use pulse_etl::store::integrations::{self, Credentials, IntegrationSettings, NewIntegration};
    let tenant_id = pulse_etl::store::tenants::create(&db.pool, name, Tier::Basic)
        .await
        .unwrap();
    let cipher = CredentialCipher::new(&SecretKey::parse(TEST_SECRET_KEY).unwrap());
    let integration_id = integrations::create(
        &db.pool,
        &cipher,
        NewIntegration {
            tenant_id,
            provider: Provider::Github,
            steps: pulse_etl::sources::CATALOG.steps(Provider::Github),
            base_url: "https://api.github.com",
            username: None,
            credentials: &Credentials {
                tokens: vec!["t".into()],
            },
            settings: &IntegrationSettings::default(),
        },
    )
    .await
    .unwrap();
    IntegrationRef::new(tenant_id, integration_id)
}
