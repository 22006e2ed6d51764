//! Recorded real Jira responses through transform and load into a real database.

use std::collections::HashMap;

use crate::common;
use crate::common::ScratchDb;
use pulse_etl::domain::{IntegrationId, IntegrationRef, Provider, TenantId};
use pulse_etl::search::query::comparable;
use pulse_etl::security::{CredentialCipher, SecretKey};
use pulse_etl::sources::fields::jira_time;
use pulse_etl::sources::jira::transform::issue::{transform_issue, IssueContext};
use pulse_etl::sources::jira::transform::meta as jira_meta;
use pulse_etl::sources::work_items::tables as jira;
use pulse_etl::store::integrations::{self, Credentials, IntegrationSettings, NewIntegration};
use pulse_etl::store::load_batches::LoadRows;
use pulse_etl::store::tenants;
use serde_json::{json, Value};

fn records(path: &str) -> Vec<Value> {
    let file = format!(
        "{}/../shared/fixtures/real/jira/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let parsed: Value = serde_json::from_str(&text).unwrap();
    parsed["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].clone())
        .collect()
}

async fn integration(db: &ScratchDb) -> (TenantId, IntegrationId) {
    let tenant = tenants::create(&db.pool, "Real", pulse_etl::domain::Tier::Basic)
        .await
        .unwrap();
    let cipher = CredentialCipher::new(&SecretKey::parse(common::TEST_SECRET_KEY).unwrap());
    let id = integrations::create(
        &db.pool,
        &cipher,
        NewIntegration {
            tenant_id: tenant,
            provider: Provider::Jira,
            steps: pulse_etl::sources::CATALOG.steps(Provider::Jira),
            base_url: "https://example.atlassian.net",
            username: Some("bot@example.com"),
            credentials: &Credentials {
                tokens: vec!["t".into()],
            },
            settings: &IntegrationSettings::default(),
        },
    )
    .await
    .unwrap();
    (tenant, id)
}

/// Loads every fixture: statuses, projects, issue types, issues with embedded changelogs,
/// and the separately paged changelogs.
async fn load_everything(db: &ScratchDb, tenant: TenantId, integration: IntegrationId) {
    let pool = &db.pool;
    jira::upsert_statuses(
        pool,
        tenant,
        integration,
        &jira_meta::statuses(&Value::Array(records("statuses.json"))),
    )
    .await
    .unwrap();
    let (projects, project_wits, links) =
        jira_meta::projects(&json!({"values": records("projects.json")}));
    jira::upsert_projects(pool, tenant, integration, &projects)
        .await
        .unwrap();
    jira::upsert_wits(pool, tenant, integration, &project_wits)
        .await
        .unwrap();
    jira::upsert_wits(
        pool,
        tenant,
        integration,
        &jira_meta::issue_types(&Value::Array(records("issue_types.json"))),
    )
    .await
    .unwrap();
    jira::link_projects_wits(pool, tenant, integration, &links)
        .await
        .unwrap();

    let statuses = jira::status_classes(pool, tenant, integration)
        .await
        .unwrap();
    let mapping = jira::field_mapping(pool, tenant, integration)
        .await
        .unwrap();
    let context = IssueContext {
        statuses: &statuses,
        mapping: &mapping,
    };
    let mut items = Vec::new();
    let mut changelogs = Vec::new();
    for issue in records("board_issues_with_changelog.json") {
        let (item, rows) = transform_issue(&issue, None, &context).unwrap();
        items.push(item);
        changelogs.extend(rows);
    }
    // Issues whose changelog was paged: a minimal issue with the pages as its histories.
    let mut paged: HashMap<String, Vec<Value>> = HashMap::new();
    for (record, history) in raw_page_records()
        .into_iter()
        .zip(records("issue_changelog_pages.json"))
    {
        paged.entry(record).or_default().push(history);
    }
    for (issue_id, histories) in &paged {
        let issue = json!({"id": issue_id, "key": format!("PAGED-{issue_id}"), "fields": {"created": "2021-01-01T00:00:00.000+0800"}});
        let (item, rows) = transform_issue(&issue, Some(histories), &context).unwrap();
        items.push(item);
        changelogs.extend(rows);
    }
    let mut load = LoadRows::default();
    load.add(&items).unwrap();
    load.add(&changelogs).unwrap();
    load.load(pool, IntegrationRef::new(tenant, integration))
        .await
        .unwrap();
}

/// The issue id of each changelog page record, from its request URL.
fn raw_page_records() -> Vec<String> {
    let file = format!(
        "{}/../shared/fixtures/real/jira/issue_changelog_pages.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let parsed: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    parsed["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["request_url"]
                .as_str()
                .unwrap()
                .split("/issue/")
                .nth(1)
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn status_items(histories: &[Value]) -> usize {
    histories
        .iter()
        .filter(|h| {
            h["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["field"] == "status")
        })
        .count()
}

async fn dump(pool: &sqlx::PgPool, table: &str) -> Vec<Value> {
    sqlx::query_scalar(&format!("SELECT to_jsonb(t) FROM {table} t ORDER BY id"))
        .fetch_all(pool)
        .await
        .unwrap()
}

const TABLES: &[&str] = &[
    "statuses",
    "projects",
    "wits",
    "projects_wits_view",
    "workflows",
    "status_mappings",
    "work_items",
    "changelogs",
];

async fn dump_all(pool: &sqlx::PgPool) -> Vec<Vec<Value>> {
    let mut dumps = Vec::new();
    for table in TABLES {
        let table = if *table == "projects_wits_view" {
            "(SELECT row_number() OVER (ORDER BY project_id, wit_id) AS id, * FROM projects_wits)"
        } else {
            table
        };
        dumps.push(dump(pool, table).await);
    }
    dumps
}

#[tokio::test]
async fn recorded_jira_data_lands_whole_and_reloads_identically() {
    let db = ScratchDb::migrated().await;
    let (tenant, integration) = integration(&db).await;
    // Map story points the way `custom-fields map --story-points` will.
    let field_id: i64 = sqlx::query_scalar(
        "INSERT INTO custom_fields (tenant_id, integration_id, external_id, name, field_type) VALUES ($1, $2, 'customfield_10024', 'Story Points', 'number') RETURNING id",
    )
    .bind(tenant)
    .bind(integration)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO custom_fields_mapping (tenant_id, integration_id, story_points_field_id) VALUES ($1, $2, $3)")
        .bind(tenant)
        .bind(integration)
        .bind(field_id)
        .execute(&db.pool)
        .await
        .unwrap();

    load_everything(&db, tenant, integration).await;

    let issues = records("board_issues_with_changelog.json");
    let count = |sql: &str| {
        let pool = db.pool.clone();
        let sql = sql.to_owned();
        async move {
            sqlx::query_scalar::<_, i64>(&sql)
                .bind(tenant)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let paged_issues = 3;
    assert_eq!(
        count("SELECT count(*) FROM work_items WHERE tenant_id = $1").await,
        issues.len() as i64 + paged_issues
    );
    let expected_transitions: usize = issues
        .iter()
        .map(|i| status_items(i["changelog"]["histories"].as_array().unwrap()))
        .sum::<usize>()
        + status_items(&records("issue_changelog_pages.json"));
    assert_eq!(
        count("SELECT count(*) FROM changelogs WHERE tenant_id = $1").await,
        expected_transitions as i64
    );
    assert!(expected_transitions > 100);
    // The recording's histories name a few statuses its /status answer lacks: those
    // transitions are kept, with no status row to point at.
    let known: Vec<String> = records("statuses.json")
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let all_histories: Vec<Value> = issues
        .iter()
        .flat_map(|i| i["changelog"]["histories"].as_array().unwrap().clone())
        .chain(records("issue_changelog_pages.json"))
        .collect();
    let to_unknown = all_histories
        .iter()
        .flat_map(|h| h["items"].as_array().unwrap().iter())
        .filter(|i| i["field"] == "status" && !known.iter().any(|k| i["to"] == k.as_str()))
        .count();
    assert!(to_unknown > 0);
    assert_eq!(
        count("SELECT count(*) FROM changelogs WHERE tenant_id = $1 AND to_status_id IS NULL")
            .await,
        to_unknown as i64
    );

    // Story points given as strings are numbers.
    let points: Vec<(String, Option<f64>)> = sqlx::query_as("SELECT key, story_points FROM work_items WHERE tenant_id = $1 AND key IN ('EE-1', 'EE-2') ORDER BY key")
        .bind(tenant)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        points,
        vec![
            ("EE-1".to_owned(), Some(-1.0)),
            ("EE-2".to_owned(), Some(2.0))
        ]
    );

    // Chinese status names survive, attached to the work items.
    let done: i64 = count("SELECT count(*) FROM work_items w JOIN statuses s ON s.id = w.status_id WHERE w.tenant_id = $1 AND s.name = '已完成'").await;
    assert_eq!(
        done,
        issues
            .iter()
            .filter(|i| i["fields"]["status"]["name"] == "已完成")
            .count() as i64
    );

    // resolutiondate - created, as stored, equals the hand computation from the payloads.
    let stored: HashMap<String, Option<f64>> = sqlx::query_as::<_, (String, Option<f64>)>(
        "SELECT key, extract(epoch FROM resolved - created)::float8 FROM work_items WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    for issue in &issues {
        let key = issue["key"].as_str().unwrap();
        let parse = |field: &str| issue["fields"][field].as_str().and_then(jira_time);
        let expected: Option<f64> = match (parse("created"), parse("resolutiondate")) {
            (Some(created), Some(resolved)) => {
                Some(((resolved - created) as chrono::TimeDelta).num_milliseconds() as f64 / 1000.0)
            }
            _ => None,
        };
        let got = stored[key];
        match (expected, got) {
            (Some(e), Some(g)) => assert!((e - g).abs() < 0.001, "{key}: {e} vs {g}"),
            (None, None) => {}
            other => panic!("{key}: {other:?}"),
        }
    }

    // Issue types are deduplicated; the parent links survive.
    assert_eq!(
        count("SELECT count(*) FROM wits WHERE tenant_id = $1").await,
        count("SELECT count(DISTINCT external_id) FROM wits WHERE tenant_id = $1").await
    );
    assert_eq!(count("SELECT count(*) FROM work_items WHERE tenant_id = $1 AND parent_external_id IS NOT NULL").await, issues.iter().filter(|i| i["fields"]["parent"].is_object()).count() as i64);

    // Loading the same data again changes nothing, byte for byte.
    let before = dump_all(&db.pool).await;
    load_everything(&db, tenant, integration).await;
    assert_eq!(before, dump_all(&db.pool).await);
}

/// How often each recorded issue's own summary, typed as the query, finds it first.
async fn own_title_first(
    db: &ScratchDb,
    embedding: &pulse_etl::pipeline::embed_stage::Embedding,
    tenant: TenantId,
    mode: pulse_etl::search::SearchMode,
) -> (usize, usize, Vec<String>) {
    let titled: Vec<(String, String)> = sqlx::query_as(
        "SELECT key, summary FROM work_items WHERE tenant_id = $1 AND summary <> ''",
    )
    .bind(tenant)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let mut misses = Vec::new();
    for (key, summary) in &titled {
        let query = pulse_etl::service::search::SearchQuery {
            text: summary.clone(),
            mode,
            limit: 5,
            ..Default::default()
        };
        let hits = pulse_etl::service::search::search(
            &db.pool,
            pulse_etl::sources::CATALOG,
            embedding,
            tenant,
            &query,
        )
        .await
        .unwrap();
        // An issue whose summary another issue shares cannot be told apart: a first hit
        // with the same summary counts.
        let same = |hit: &pulse_etl::service::search::SearchHit| {
            hit.key == *key || hit.title.as_deref().map(comparable) == Some(comparable(summary))
        };
        if !hits.first().is_some_and(same) {
            let top: Vec<_> = hits.iter().map(|h| (&h.key, &h.title, h.score)).collect();
            misses.push(format!("{key} '{summary}' -> {top:?}"));
        }
    }
    (titled.len() - misses.len(), titled.len(), misses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_chinese_summaries_find_their_own_issue_first() {
    use pulse_etl::search::SearchMode;
    let Some(model) = crate::common::qdrant::model_dir() else {
        return;
    };
    let db = ScratchDb::migrated().await;
    let (tenant, integration) = integration(&db).await;
    load_everything(&db, tenant, integration).await;
    let data = tempfile::tempdir().unwrap();
    let env = crate::embedding::env(&model, data.path());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let id = tenant.get().to_string();
    for args in [
        vec!["embedding", "set", "--tenant", &id, "--provider", "local"],
        vec!["vectors", "rebuild", "--tenant", &id],
    ] {
        let ran =
            crate::common::source::cli_with(&db, crate::common::source::strings(&args), &env).await;
        assert!(ran.status.success(), "{}", crate::common::stderr(&ran));
    }
    let embedding = pulse_etl::pipeline::embed_stage::Embedding {
        store: pulse_etl::vectors::open("", data.path()).unwrap(),
        embedders: pulse_etl::embedding::settings::Embedders::new(
            model,
            None,
            crate::common::api::loopback_allowed(),
        ),
    };
    for mode in [SearchMode::Semantic, SearchMode::Lexical] {
        let (first, of, misses) = own_title_first(&db, &embedding, tenant, mode).await;
        eprintln!("{mode:?}: own summary first for {first} of {of}: {misses:#?}");
    }
    let (first, of, misses) = own_title_first(&db, &embedding, tenant, SearchMode::Hybrid).await;
    eprintln!("Hybrid: own summary first for {first} of {of}");
    assert!(of >= 30, "{of} summaries");
    assert!(first * 100 >= of * 95, "below 95 %: {misses:#?}");
}
