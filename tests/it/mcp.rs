//! The MCP server driven by the official MCP Python SDK (`tests/mcp/client.py`), over
//! streamable HTTP on the real `serve` role and over stdio from `pulse-etl mcp`: it
//! initialises, lists the tools with their schemas, calls every one, and a tenant's
//! credential never reaches another tenant's records.

use serde_json::{json, Value};

use crate::common::api::TestApi;
use crate::common::qdrant::model_dir;
use crate::common::source::{cli_with, strings};
use crate::common::{stderr, ScratchDb, TEST_SECRET_KEY};
use pulse_etl::domain::{TenantId, UserRole};
use pulse_etl::service::api_tokens;

const TOOLS: [&str; 8] = [
    "search",
    "get_work_item",
    "list_work_items",
    "get_pull_request",
    "list_pull_requests",
    "flow_metrics",
    "pr_metrics",
    "job_status",
];

/// The Python with the MCP SDK (scripts/test installs it), or None with the reason printed.
fn python() -> Option<String> {
    let python = std::env::var("PULSE_MCP_PYTHON").ok();
    if python.is_none() {
        eprintln!("skipped: PULSE_MCP_PYTHON (a Python with the `mcp` package) is not set");
    }
    python
}

async fn client(python: &str, args: &[String]) -> Value {
    let script = format!("{}/tests/mcp/client.py", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "MCP client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Two synced tenants whose records are indexed for search; the key of a work item and of
/// a pull request only the first has.
struct Tenants {
    a: String,
    b: String,
    a_only_item: String,
    /// A pull request of A's; B's site has one under the same key (both sites are made
    /// from one seed), which is B's own record.
    a_pr: String,
    a_pr_id: i64,
}

async fn tenants(db: &ScratchDb, env: &[(&str, &str)]) -> Tenants {
    let sim_a = crate::api_access::small_simulator(2).await;
    let sim_b = crate::api_access::small_simulator(3).await;
    let a = crate::api_access::synced_tenant(db, &sim_a).await;
    let b = crate::api_access::synced_tenant(db, &sim_b).await;
    for tenant in [&a, &b] {
        for args in [
            vec![
                "embedding",
                "set",
                "--tenant",
                tenant,
                "--provider",
                "local",
            ],
            vec!["vectors", "rebuild", "--tenant", tenant],
        ] {
            let ran = cli_with(db, strings(&args), env).await;
            assert!(ran.status.success(), "{}", stderr(&ran));
        }
    }
    let (a_id, b_id): (i64, i64) = (a.parse().unwrap(), b.parse().unwrap());
    let only_a = async |sql: &'static str| {
        sqlx::query_scalar::<_, String>(sql)
            .bind(a_id)
            .bind(b_id)
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    let a_only_item = only_a(
        "SELECT key FROM work_items WHERE tenant_id = $1
         AND key NOT IN (SELECT key FROM work_items WHERE tenant_id = $2) ORDER BY key LIMIT 1",
    )
    .await;
    let (a_pr, a_pr_id): (String, i64) = sqlx::query_as(
        "SELECT repo.full_name || '#' || p.number, p.id FROM prs p
         JOIN repositories repo ON repo.id = p.repository_id WHERE p.tenant_id = $1
         ORDER BY p.number LIMIT 1",
    )
    .bind(a_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sim_a.stop().await.unwrap();
    sim_b.stop().await.unwrap();
    Tenants {
        a,
        b,
        a_only_item,
        a_pr,
        a_pr_id,
    }
}

async fn viewer_token(db: &ScratchDb, tenant: &str) -> String {
    let tenant = TenantId(tenant.parse().unwrap());
    api_tokens::create(
        &db.pool,
        tenant,
        ("agent", UserRole::Viewer),
        Default::default(),
    )
    .await
    .unwrap()
    .token
}

/// A call of every tool about `t.a`'s records.
fn every_tool(t: &Tenants) -> Value {
    json!([
        ["search", {"query": t.a_only_item, "limit": 5}],
        ["get_work_item", {"key": t.a_only_item}],
        ["list_work_items", {"limit": 3}],
        ["get_pull_request", {"key": t.a_pr}],
        ["list_pull_requests", {"limit": 3}],
        ["flow_metrics", {"group_by": "type"}],
        ["pr_metrics", {}],
        ["job_status", {}],
    ])
}

/// Checks a report of [`every_tool`] made with tenant A's credential.
fn answers_every_tool(report: &Value, t: &Tenants) {
    let names: Vec<&str> = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    for tool in TOOLS {
        assert!(names.contains(&tool), "{tool} not listed: {names:?}");
    }
    let search = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["name"] == "search")
        .unwrap();
    assert_eq!(search["schema"]["required"], json!(["query"]), "{search}");
    assert!(search["description"].as_str().unwrap().len() > 40);
    let results = report["results"].as_array().unwrap();
    for result in results {
        assert_eq!(result["is_error"], false, "{result}");
    }
    let text =
        |i: usize| -> Value { serde_json::from_str(results[i]["text"].as_str().unwrap()).unwrap() };
    assert_eq!(
        text(0)[0]["key"],
        t.a_only_item.as_str(),
        "a key comes first"
    );
    assert_eq!(text(0)[0]["matched"], "key");
    assert_eq!(text(1)["key"], t.a_only_item.as_str());
    assert!(text(1)["timeline"].is_array() && text(1)["linked_prs"].is_array());
    assert!(text(1)["url"].as_str().unwrap().ends_with(&t.a_only_item));
    assert_eq!(text(2)["items"].as_array().unwrap().len(), 3);
    assert!(
        text(2)["next_cursor"].is_i64(),
        "a first page says where the next starts"
    );
    assert_eq!(text(3)["id"], t.a_pr_id);
    assert!(text(3)["url"].as_str().unwrap().contains("/pull/"));
    assert_eq!(text(4)["items"].as_array().unwrap().len(), 3);
    assert!(text(5).as_array().is_some_and(|groups| !groups.is_empty()));
    assert!(text(6).is_array());
    assert_eq!(
        text(7).as_array().unwrap().len(),
        2,
        "a Jira and a GitHub job"
    );
}

/// What tenant B's credential gets when it asks for tenant A's records.
fn sees_nothing_of_a(report: &Value, t: &Tenants) {
    let results = report["results"].as_array().unwrap();
    let found: Value = serde_json::from_str(results[0]["text"].as_str().unwrap()).unwrap();
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .all(|hit| hit["key"] != t.a_only_item.as_str()),
        "{found}"
    );
    assert_eq!(results[1]["is_error"], true, "{}", results[1]);
    assert!(
        results[1]["text"].as_str().unwrap().contains("work item '"),
        "{}",
        results[1]
    );
    // The same key names B's own pull request, never A's.
    let pr: Value = serde_json::from_str(results[3]["text"].as_str().unwrap()).unwrap();
    assert_ne!(pr["id"], t.a_pr_id, "{pr}");
    // Lists hold only B's records.
    let items: Value = serde_json::from_str(results[2]["text"].as_str().unwrap()).unwrap();
    assert!(items["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|item| item["key"] != t.a_only_item.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the MCP Python SDK: scripts/test provides it and runs this"]
async fn an_mcp_client_uses_every_tool_over_http_and_stdio_within_its_tenant() {
    let Some(python) = python() else { return };
    let Some(model) = model_dir() else { return };
    let db = ScratchDb::migrated().await;
    let data = tempfile::tempdir().unwrap();
    let env = crate::embedding::env(&model, data.path());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let t = tenants(&db, &env).await;
    let token_a = viewer_token(&db, &t.a).await;
    let token_b = viewer_token(&db, &t.b).await;
    let calls = every_tool(&t).to_string();

    // Streamable HTTP on the real `serve` role.
    let api = TestApi::serve(&db, &env).await;
    let url = api.url("/mcp");
    let report = client(&python, &strings(&["http", &url, &token_a, &calls])).await;
    answers_every_tool(&report, &t);
    let report = client(&python, &strings(&["http", &url, &token_b, &calls])).await;
    sees_nothing_of_a(&report, &t);
    let http = reqwest::Client::new();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"}}});
    let unsigned = http.post(&url).json(&initialize).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let body: Value = unsigned.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let rebound = http
        .post(&url)
        .bearer_auth(&token_a)
        .header("host", "attacker.example")
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(
        rebound.status(),
        403,
        "a Host outside http.mcp_allowed_hosts"
    );
    api.stop().await;

    // Stdio from `pulse-etl mcp`.
    let binary = env!("CARGO_BIN_EXE_pulse-etl");
    let mut stdio_env: serde_json::Map<String, Value> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    stdio_env.insert("DATABASE_URL".into(), db.url.clone().into());
    stdio_env.insert("PULSE_SECRET_KEY".into(), TEST_SECRET_KEY.into());
    let over_stdio = async |tenant: &str, token: &str| {
        let mut env = stdio_env.clone();
        env.insert("PULSE_API_TOKEN".into(), token.into());
        let command = json!([binary, "mcp", "--tenant", tenant]).to_string();
        let env = Value::Object(env).to_string();
        client(&python, &strings(&["stdio", &command, &env, &calls])).await
    };
    answers_every_tool(&over_stdio(&t.a, &token_a).await, &t);
    let report = over_stdio(&t.b, &token_b).await;
    sees_nothing_of_a(&report, &t);

    // A token of another tenant starts nothing.
    stdio_env.insert("PULSE_API_TOKEN".into(), token_b.clone().into());
    let refused = tokio::process::Command::new(binary)
        .args(["mcp", "--tenant", &t.a])
        .envs(
            stdio_env
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
        )
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not a live token of tenant"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
