//! The embed stage and semantic search, against the real PostgreSQL, RabbitMQ and a real
//! Qdrant server: the local model agrees with sentence-transformers; a synced tenant is
//! searchable by each item's own words; only changed records are embedded again; deleted
//! records leave the index; embed workers over RabbitMQ fill a Qdrant server exactly, even
//! when one is killed; the OpenAI-compatible provider batches, waits out 429s and, failing,
//! fails the job with the count; a tenant never sees another's points.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use uuid::Uuid;

use crate::common::qdrant::{model_dir, QdrantServer};
use crate::common::queues::{terminate, Queues};
use crate::common::source::{
    azure_tenant, cli_with, connect_github, control, count, jira_tenant, strings,
};
use crate::common::{run_cli, stderr, stdout, ScratchDb, TEST_SECRET_KEY};
use pulse_etl::domain::{Provider, TenantId};
use pulse_etl::embedding::cosine;
use pulse_etl::embedding::local::LocalModel;
use pulse_etl::embedding::settings::Embedders;
use pulse_etl::pipeline::embed_stage::Embedding;
use pulse_etl::search::fusion::MatchedBy;
use pulse_etl::search::terms::{document_vector, query_vector};
use pulse_etl::search::SearchMode;
use pulse_etl::service::search::{search, SearchHit, SearchQuery};
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};
use pulse_etl::sources::CATALOG;
use pulse_etl::vectors::{Payload, Point, Probe, SearchFilter, VectorStore};

/// The environment of every CLI run of a test: the model, and a data directory of its own
/// (the embedded vector store lives there).
pub(super) fn env(model: &Path, data: &Path) -> Vec<(String, String)> {
    vec![
        (
            "PULSE_EMBEDDING__MODEL_DIR".into(),
            model.display().to_string(),
        ),
        ("PULSE_DATA_DIR".into(), data.display().to_string()),
    ]
}

async fn run(db: &ScratchDb, env: &[(String, String)], args: &[&str]) -> std::process::Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    cli_with(db, strings(args), &env).await
}

/// `embedding set --provider local` for the tenant.
pub(super) async fn set_local(db: &ScratchDb, env: &[(String, String)], tenant: &str) {
    let set = run(
        db,
        env,
        &[
            "embedding",
            "set",
            "--tenant",
            tenant,
            "--provider",
            "local",
        ],
    )
    .await;
    assert!(set.status.success(), "{}", stderr(&set));
}

async fn simulator(config: SimulatorConfig) -> RunningSimulator {
    RunningSimulator::start(config, std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

/// The `embedded` count of a run's `--json` summary for `step`.
fn embedded(output: &std::process::Output, step: &str) -> u64 {
    let lines: Value = serde_json::from_str(&stdout(output)).unwrap();
    lines
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| line["step"] == step)
        .map(|line| line["embedded"].as_u64().unwrap())
        .sum()
}

/// Work items whose summary no other item shares, spread over the table.
async fn unique_summaries(db: &ScratchDb, tenant: &str, limit: i64) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT key, summary FROM work_items w
         WHERE tenant_id = $1::bigint AND deleted_at IS NULL AND summary IN (
             SELECT summary FROM work_items WHERE tenant_id = $1::bigint GROUP BY summary HAVING count(*) = 1)
         ORDER BY md5(key) LIMIT $2",
    )
    .bind(tenant)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

fn embedding_at(store: std::sync::Arc<dyn VectorStore>, model: &Path) -> Embedding {
    Embedding {
        store,
        embedders: Embedders::new(
            model.to_owned(),
            None,
            crate::common::api::loopback_allowed(),
        ),
    }
}

async fn top_keys(
    db: &ScratchDb,
    embedding: &Embedding,
    tenant: &str,
    text: &str,
    limit: usize,
) -> Vec<String> {
    let query = SearchQuery {
        text: text.to_owned(),
        limit,
        ..SearchQuery::default()
    };
    let tenant: TenantId = tenant.parse().unwrap();
    search(&db.pool, CATALOG, embedding, tenant, &query)
        .await
        .unwrap()
        .into_iter()
        .map(|hit| hit.key)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_model_matches_sentence_transformers() {
    let Some(dir) = model_dir() else { return };
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/minilm_reference.json")).unwrap();
    let sentences: Vec<String> = fixture["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let model = tokio::task::spawn_blocking(move || LocalModel::load(&dir).unwrap())
        .await
        .unwrap();
    let ours = model.embed_blocking(&sentences).unwrap();
    let mut reversed = sentences.clone();
    reversed.reverse();
    let mut again = model.embed_blocking(&reversed).unwrap();
    again.reverse();
    for (i, reference) in fixture["vectors"].as_array().unwrap().iter().enumerate() {
        let reference: Vec<f32> = reference
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(ours[i].len(), 384);
        let similarity = cosine(&ours[i], &reference);
        assert!(similarity >= 0.999, "sentence {i}: cosine {similarity}");
        // Batching and order change nothing.
        assert!(
            cosine(&ours[i], &again[i]) > 0.99999,
            "sentence {i} in another batch"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_records_are_searchable_and_only_what_changed_is_embedded_again() {
    let Some(model) = model_dir() else { return };
    let sim = simulator(SimulatorConfig {
        seed: 21,
        jira_issues: 300,
        github_repos: 2,
        github_prs: 60,
        ..SimulatorConfig::default()
    })
    .await;
    let db = ScratchDb::migrated().await;
    let data = tempfile::tempdir().unwrap();
    let env = env(&model, data.path());
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    connect_github(&db, &sim, &tenant, &["sim-gh-token"], &[]).await;

    // Without settings nothing is embedded and search says why.
    let plain = run(
        &db,
        &env,
        &["--json", "run-job", "jira", "--tenant", &tenant],
    )
    .await;
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_eq!(embedded(&plain, "jira_issues_with_changelogs"), 0);
    let refused = run(&db, &env, &["search", "--tenant", &tenant, "login"]).await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("no complete vector index"),
        "{}",
        stderr(&refused)
    );

    set_local(&db, &env, &tenant).await;
    let jira = run(
        &db,
        &env,
        &["--json", "run-job", "jira", "--tenant", &tenant],
    )
    .await;
    assert!(jira.status.success(), "{}", stderr(&jira));
    assert_eq!(embedded(&jira, "jira_issues_with_changelogs"), 300);
    for noise in [
        "Feature flags not initialized",
        "MULTI_MMAP_SUPPORT_CHECK_RESULT",
    ] {
        assert!(!stderr(&jira).contains(noise), "{}", stderr(&jira));
    }
    let github = run(
        &db,
        &env,
        &["--json", "run-job", "github", "--tenant", &tenant],
    )
    .await;
    assert!(github.status.success(), "{}", stderr(&github));
    assert_eq!(embedded(&github, "github_pull_requests"), 60);

    // One bridge row per work item and pull request, and as many points.
    assert_eq!(count(&db, "SELECT count(*) FROM qdrant_vectors").await, 360);
    let status = run(
        &db,
        &env,
        &["--json", "vectors", "status", "--tenant", &tenant],
    )
    .await;
    assert!(status.status.success(), "{}", stderr(&status));
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(status["points"], 360, "{status}");
    for table in status["tables"].as_array().unwrap() {
        assert_eq!(table["pending"], 0, "{status}");
        assert_eq!(table["failed"], 0, "{status}");
        assert_eq!(table["embedded"], table["records"], "{status}");
    }
    let status_job: Value = sqlx::query_scalar(
        "SELECT status->'steps'->'jira_issues_with_changelogs' FROM etl_jobs j
         JOIN integrations i ON i.id = j.integration_id WHERE i.provider = 'jira'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(status_job["embedding"], "finished", "{status_job}");

    // Each of 20 items is found first by its own summary; a pull request by its title.
    let embedding = embedding_at(pulse_etl::vectors::open("", data.path()).unwrap(), &model);
    let samples = unique_summaries(&db, &tenant, 20).await;
    assert_eq!(samples.len(), 20);
    let mut misses = Vec::new();
    for (key, summary) in &samples {
        let keys = top_keys(&db, &embedding, &tenant, summary, 3).await;
        if keys.first() != Some(key) {
            let texts: Vec<(String, String)> =
                sqlx::query_as("SELECT key, summary FROM work_items WHERE key = ANY($1)")
                    .bind(&keys)
                    .fetch_all(&db.pool)
                    .await
                    .unwrap();
            misses.push(format!("{key} '{summary}' -> {texts:?}"));
        }
    }
    assert!(misses.is_empty(), "{misses:#?}");
    let (pr_key, title): (String, String) = sqlx::query_as(
        "SELECT r.full_name || '#' || p.number, p.title FROM prs p JOIN repositories r ON r.id = p.repository_id
         WHERE p.title IN (SELECT title FROM prs GROUP BY title HAVING count(*) = 1) ORDER BY p.id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let query = SearchQuery {
        text: title.clone(),
        source: Some(Provider::Github),
        limit: 5,
        ..SearchQuery::default()
    };
    let hits = search(
        &db.pool,
        CATALOG,
        &embedding,
        tenant.parse().unwrap(),
        &query,
    )
    .await
    .unwrap();
    assert_eq!(hits[0].key, pr_key, "{hits:?}");
    assert!(hits.iter().all(|hit| hit.source == "github"), "{hits:?}");
    hybrid_search_rules(&db, &embedding, tenant.parse().unwrap()).await;
    drop(embedding); // the next runs open the store themselves

    // The command line finds the same, as JSON.
    let (key, summary) = &samples[0];
    let found = run(
        &db,
        &env,
        &[
            "--json", "search", "--tenant", &tenant, summary, "--source", "jira", "--limit", "3",
        ],
    )
    .await;
    assert!(found.status.success(), "{}", stderr(&found));
    let found: Value = serde_json::from_str(&stdout(&found)).unwrap();
    assert_eq!(found[0]["key"], key.as_str(), "{found}");
    assert!(found[0]["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/browse/{key}")));

    // After 1 % of the source changes, only records whose text changed are embedded.
    let changed = control(&sim, "mutate", 0.01).await;
    let touched =
        changed["issues_changed"].as_u64().unwrap() + changed["issues_added"].as_u64().unwrap();
    let again = run(
        &db,
        &env,
        &["--json", "run-job", "jira", "--tenant", &tenant],
    )
    .await;
    assert!(again.status.success(), "{}", stderr(&again));
    let re_embedded = embedded(&again, "jira_issues_with_changelogs");
    assert!(
        re_embedded > 0 && re_embedded <= touched,
        "{re_embedded} embedded, {touched} touched at the source"
    );
    let items = count(&db, "SELECT count(*) FROM work_items").await;
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM qdrant_vectors WHERE table_name = 'work_items'"
        )
        .await,
        items
    );

    // Deleted at the source and a full sync: their vectors are gone.
    control(&sim, "delete", 0.02).await;
    let full = run(
        &db,
        &env,
        &["run-job", "jira", "--tenant", &tenant, "--full"],
    )
    .await;
    assert!(full.status.success(), "{}", stderr(&full));
    let deleted = count(
        &db,
        "SELECT count(*) FROM work_items WHERE deleted_at IS NOT NULL",
    )
    .await;
    assert!(deleted > 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM qdrant_vectors v JOIN work_items w ON w.id = v.record_id
                    WHERE v.table_name = 'work_items' AND w.deleted_at IS NOT NULL"
        )
        .await,
        0
    );
    let status = run(
        &db,
        &env,
        &["--json", "vectors", "status", "--tenant", &tenant],
    )
    .await;
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    let live = count(
        &db,
        "SELECT count(*) FROM work_items WHERE deleted_at IS NULL",
    )
    .await
        + count(&db, "SELECT count(*) FROM prs").await;
    assert_eq!(status["points"].as_i64().unwrap(), live, "{status}");
    sim.stop().await.unwrap();
}

async fn find(
    db: &ScratchDb,
    embedding: &Embedding,
    tenant: TenantId,
    query: SearchQuery,
) -> Vec<SearchHit> {
    search(&db.pool, CATALOG, embedding, tenant, &query)
        .await
        .unwrap()
}

/// What hybrid search promises, on a synced tenant whose summaries are in four scripts.
async fn hybrid_search_rules(db: &ScratchDb, embedding: &Embedding, tenant: TenantId) {
    let query = |text: &str| SearchQuery {
        text: text.to_owned(),
        limit: 10,
        ..SearchQuery::default()
    };
    // Every unique summary in Chinese or Japanese script finds its own item first.
    let cjk: Vec<(String, String)> = sqlx::query_as(
        "SELECT key, summary FROM work_items WHERE tenant_id = $1 AND summary ~ '[\\u3040-\\u9fff]'
           AND summary IN (SELECT summary FROM work_items WHERE tenant_id = $1
                           GROUP BY summary HAVING count(*) = 1)",
    )
    .bind(tenant)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(cjk.len() >= 60, "{} CJK summaries", cjk.len());
    let mut misses = Vec::new();
    for (key, summary) in &cjk {
        let hits = find(db, embedding, tenant, query(summary)).await;
        if hits.first().map(|hit| &hit.key) != Some(key) {
            misses.push(format!(
                "{key} '{summary}' -> {:?}",
                hits.first().map(|h| &h.title)
            ));
        }
    }
    eprintln!(
        "own CJK title first: {}/{}",
        cjk.len() - misses.len(),
        cjk.len()
    );
    assert!(
        misses.len() * 20 <= cjk.len(),
        "more than 5 % missed: {misses:#?}"
    );

    // A key puts its item first, wherever it is in the query; its match says so.
    let (key, summary): (String, String) = sqlx::query_as(
        "SELECT key, summary FROM work_items WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(tenant)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    for text in [key.clone(), format!("why is {} slow", key.to_lowercase())] {
        let hits = find(db, embedding, tenant, query(&text)).await;
        assert_eq!(hits[0].key, key, "{text}: {hits:?}");
        assert_eq!(hits[0].matched, MatchedBy::Key);
    }
    // ... but not past a filter that leaves it out.
    let other_source = SearchQuery {
        source: Some(Provider::Github),
        ..query(&key)
    };
    let hits = find(db, embedding, tenant, other_source).await;
    assert!(hits.iter().all(|hit| hit.key != key), "{hits:?}");

    // A quoted phrase ranks its matches first.
    let phrase = "when the session expires";
    let holding: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM work_items WHERE tenant_id = $1 AND summary ILIKE '%' || $2 || '%'",
    )
    .bind(tenant)
    .bind(phrase)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(holding >= 2, "the sample needs items holding the phrase");
    let hits = find(db, embedding, tenant, query(&format!("fix \"{phrase}\""))).await;
    let first = usize::try_from(holding).unwrap().min(hits.len());
    for hit in &hits[..first] {
        let title = hit.title.as_deref().unwrap_or_default().to_lowercase();
        assert!(title.contains(phrase), "{hits:#?}");
    }

    // Words of a description its title lacks find the item by words (lexical mode) and in
    // hybrid; why each hit matched is given.
    let (described_key, body): (String, String) = sqlx::query_as(
        "SELECT key, description FROM work_items WHERE tenant_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(tenant)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let words = body
        .split(". ")
        .find(|sentence| sentence.contains(" shows "))
        .map(|sentence| {
            sentence
                .replace("The ", "")
                .replace(" shows ", " ")
                .replace(" for ", " ")
        })
        .unwrap();
    for mode in [SearchMode::Lexical, SearchMode::Hybrid] {
        let hits = find(
            db,
            embedding,
            tenant,
            SearchQuery {
                mode,
                ..query(&words)
            },
        )
        .await;
        assert!(
            hits.iter().any(|hit| hit.key == described_key),
            "{mode:?} '{words}': {hits:?}"
        );
        let expected: &[MatchedBy] = match mode {
            SearchMode::Lexical => &[MatchedBy::Lexical],
            _ => &[MatchedBy::Lexical, MatchedBy::Semantic, MatchedBy::Both],
        };
        assert!(
            hits.iter().all(|hit| expected.contains(&hit.matched)),
            "{hits:?}"
        );
    }
    let semantic = find(
        db,
        embedding,
        tenant,
        SearchQuery {
            mode: SearchMode::Semantic,
            ..query(&summary)
        },
    )
    .await;
    assert!(semantic
        .iter()
        .all(|hit| hit.matched == MatchedBy::Semantic));

    // Filters hold for every hit.
    let (assignee, cut): (String, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT (SELECT assignee FROM work_items WHERE tenant_id = $1 AND assignee IS NOT NULL
                 ORDER BY id LIMIT 1),
                (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY updated) FROM work_items
                 WHERE tenant_id = $1)",
    )
    .bind(tenant)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let filtered = SearchQuery {
        status_category: Some("done".into()),
        kind: Some("Bug".into()),
        updated_to: Some(cut),
        ..query("fix login")
    };
    let hits = find(db, embedding, tenant, filtered).await;
    assert!(!hits.is_empty());
    for hit in &hits {
        let (category, kind, updated): (String, String, chrono::DateTime<chrono::Utc>) =
            sqlx::query_as(
                "SELECT s.category, t.name, w.updated FROM work_items w
             JOIN statuses s ON s.id = w.status_id JOIN wits t ON t.id = w.wit_id WHERE w.id = $1",
            )
            .bind(hit.record_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(
            (category.as_str(), kind.as_str()),
            ("done", "Bug"),
            "{hit:?}"
        );
        assert!(updated <= cut, "{hit:?}");
    }
    let theirs = SearchQuery {
        assignee: Some(assignee.clone()),
        ..query("improve")
    };
    for hit in find(db, embedding, tenant, theirs).await {
        let owner: Option<String> =
            sqlx::query_scalar("SELECT assignee FROM work_items WHERE id = $1")
                .bind(hit.record_id)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(owner.as_deref(), Some(assignee.as_str()), "{hit:?}");
    }
}

fn records(hits: &[pulse_etl::vectors::Hit]) -> Vec<i64> {
    hits.iter().map(|h| h.record_id).collect()
}

/// Azure DevOps work items and pull requests are embedded after their own steps, found by
/// search under their source, and link to where Azure shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_devops_records_are_searchable_and_link_to_azure() {
    let Some(model) = model_dir() else { return };
    let sim = simulator(SimulatorConfig {
        seed: 9,
        jira_issues: 10,
        github_prs: 10,
        azure_work_items: 40,
        azure_prs: 20,
        ..SimulatorConfig::default()
    })
    .await;
    let db = ScratchDb::migrated().await;
    let data = tempfile::tempdir().unwrap();
    let env = env(&model, data.path());
    let tenant = azure_tenant(&db, &sim, "sim-azure-token").await;
    set_local(&db, &env, &tenant).await;
    let synced = run(
        &db,
        &env,
        &["--json", "run-job", "azure_devops", "--tenant", &tenant],
    )
    .await;
    assert!(synced.status.success(), "{}", stderr(&synced));
    assert_eq!(embedded(&synced, "azure_work_items_with_history"), 40);
    assert_eq!(
        embedded(&synced, "azure_repositories_and_pull_requests"),
        20
    );
    let steps: Value = sqlx::query_scalar("SELECT status->'steps' FROM etl_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    for step in [
        "azure_work_items_with_history",
        "azure_repositories_and_pull_requests",
    ] {
        assert_eq!(steps[step]["embedding"], "finished", "{steps}");
    }

    let embedding = embedding_at(pulse_etl::vectors::open("", data.path()).unwrap(), &model);
    let base = sim.base_url_for(Provider::AzureDevops);
    let find = |text: String| {
        let query = SearchQuery {
            text,
            source: Some(Provider::AzureDevops),
            limit: 5,
            ..SearchQuery::default()
        };
        let (pool, embedding, tenant) = (&db.pool, &embedding, tenant.parse().unwrap());
        async move {
            search(pool, CATALOG, embedding, tenant, &query)
                .await
                .unwrap()
        }
    };
    let (key, summary) = unique_summaries(&db, &tenant, 1).await.remove(0);
    let hits = find(summary).await;
    assert_eq!(hits[0].key, key, "{hits:?}");
    assert!(
        hits.iter().all(|hit| hit.source == "azure_devops"),
        "{hits:?}"
    );
    let url = hits[0].url.clone().unwrap_or_default();
    assert!(
        url.starts_with(&format!("{base}/")) && url.ends_with(&format!("/_workitems/edit/{key}")),
        "{url}"
    );
    let (pr_key, title): (String, String) = sqlx::query_as(
        "SELECT r.full_name || '#' || p.number, p.title FROM prs p JOIN repositories r ON r.id = p.repository_id
         WHERE p.title IN (SELECT title FROM prs GROUP BY title HAVING count(*) = 1) ORDER BY p.id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let hits = find(title).await;
    assert_eq!(hits[0].key, pr_key, "{hits:?}");
    let number = pr_key.rsplit('#').next().unwrap();
    assert!(
        hits[0]
            .url
            .as_deref()
            .is_some_and(|url| url.contains("/_git/repo-")
                && url.ends_with(&format!("/pullrequest/{number}"))),
        "{hits:?}"
    );
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_embedded_while_the_sync_still_loads() {
    let Some(model) = model_dir() else { return };
    // Every answer takes eight seconds and one project's search pages follow each other:
    // the sync's loads spread over 24 seconds, far longer than loading the model and
    // embedding one small message, even in a debug build on a machine busy with other tests.
    let sim = simulator(SimulatorConfig {
        seed: 23,
        jira_projects: 1,
        jira_issues: 400,
        latency: Duration::from_secs(8),
        ..SimulatorConfig::default()
    })
    .await;
    let db = ScratchDb::migrated().await;
    let data = tempfile::tempdir().unwrap();
    let env = env(&model, data.path());
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    set_local(&db, &env, &tenant).await;
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let running = crate::common::source::cli_in_background(
        &db,
        strings(&["--json", "run-job", "jira", "--tenant", &tenant]),
        &env_refs,
    );
    // Seen at one moment: vectors recorded while work items are still being loaded.
    let mut overlapped = None;
    while !running.is_finished() {
        let (loaded, vectors): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM work_items), (SELECT count(*) FROM qdrant_vectors)",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if vectors > 0 && loaded < 400 && overlapped.is_none() {
            overlapped = Some((loaded, vectors));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ran = running.await.unwrap();
    assert!(ran.status.success(), "{}", stderr(&ran));
    assert_eq!(embedded(&ran, "jira_issues_with_changelogs"), 400);
    assert_eq!(count(&db, "SELECT count(*) FROM qdrant_vectors").await, 400);
    let (loaded, vectors) = overlapped.expect("no vector was recorded before the last load");
    eprintln!("{vectors} vectors recorded with {loaded} of 400 work items loaded");
    sim.stop().await.unwrap();
}

/// Points of two tenants in one collection: searches (by meaning and by words) and counts
/// of one never see the other; filters and payload rewrites hold in the store.
async fn tenants_stay_apart(store: &dyn VectorStore) {
    let collection = format!("isolation_{}", Uuid::new_v4().simple());
    store.ensure_collection(&collection, 3).await.unwrap();
    let payload = |tenant: i64, record: i64, category: &str| Payload {
        tenant_id: tenant,
        source_type: "JIRA".into(),
        table_name: "work_items",
        record_id: record,
        scope: Some("CORE".into()),
        kind: None,
        status: None,
        status_category: Some(category.into()),
        assignee: None,
        updated: chrono::DateTime::from_timestamp(1_000 * record, 0),
    };
    let point = |tenant: i64, record: i64, vector: Vec<f32>, words: &str| Point {
        id: pulse_etl::vectors::point_id(TenantId(tenant), "work_items", record),
        vector,
        terms: document_vector(&[(words, 1)]),
        payload: payload(tenant, record, "new"),
    };
    let points = vec![
        point(1, 10, vec![1.0, 0.0, 0.0], "cache layer 登录失败"),
        point(1, 11, vec![0.0, 1.0, 0.0], "billing export"),
        point(2, 20, vec![1.0, 0.0, 0.0], "cache layer"),
        point(2, 21, vec![0.9, 0.1, 0.0], "登录失败 cache"),
    ];
    store.upsert(&collection, points.clone()).await.unwrap();
    store.upsert(&collection, points).await.unwrap(); // written twice: no duplicates
    let filter = |tenant| SearchFilter::tenant(TenantId(tenant));
    let meaning = || Probe::Meaning(vec![1.0, 0.0, 0.0]);
    let hits = store
        .search(&collection, meaning(), &filter(1), 10)
        .await
        .unwrap();
    assert_eq!(records(&hits), vec![10, 11]);
    let by_words = async |text: &str, tenant: i64| {
        let probe = Probe::Words(query_vector(text));
        records(
            &store
                .search(&collection, probe, &filter(tenant), 10)
                .await
                .unwrap(),
        )
    };
    assert_eq!(by_words("登录", 1).await, vec![10]);
    assert_eq!(by_words("billing", 1).await, vec![11]);
    assert_eq!(by_words("billing", 2).await, Vec::<i64>::new());
    assert_eq!(by_words("登录失败", 2).await, vec![21]);
    let newer = SearchFilter {
        updated_from: Some(11_000),
        ..filter(1)
    };
    let hits = store
        .search(&collection, meaning(), &newer, 10)
        .await
        .unwrap();
    assert_eq!(records(&hits), vec![11]);
    let done = SearchFilter {
        status_category: Some("done".into()),
        ..filter(1)
    };
    assert!(store
        .search(&collection, meaning(), &done, 10)
        .await
        .unwrap()
        .is_empty());
    let rewritten = vec![(
        pulse_etl::vectors::point_id(TenantId(1), "work_items", 10),
        payload(1, 10, "done"),
    )];
    store.set_payloads(&collection, rewritten).await.unwrap();
    let hits = store
        .search(&collection, meaning(), &done, 10)
        .await
        .unwrap();
    assert_eq!(records(&hits), vec![10]);
    // The rewrite kept the point's vectors.
    assert_eq!(by_words("登录", 1).await, vec![10]);
    assert_eq!(store.count(&collection, TenantId(1)).await.unwrap(), 2);
    assert_eq!(store.count(&collection, TenantId(2)).await.unwrap(), 2);
    let other_project = SearchFilter {
        scope: Some("OTHER".into()),
        ..filter(2)
    };
    assert!(store
        .search(&collection, meaning(), &other_project, 10)
        .await
        .unwrap()
        .is_empty());
    store
        .delete(
            &collection,
            vec![pulse_etl::vectors::point_id(TenantId(2), "work_items", 20)],
        )
        .await
        .unwrap();
    assert_eq!(store.count(&collection, TenantId(2)).await.unwrap(), 1);
    store.drop_collection(&collection).await.unwrap();
    assert_eq!(store.count(&collection, TenantId(1)).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_never_sees_another_tenants_points_in_either_store() {
    let dir = tempfile::tempdir().unwrap();
    let edge = pulse_etl::vectors::open("", dir.path()).unwrap();
    tenants_stay_apart(edge.as_ref()).await;
    let Some(qdrant) = QdrantServer::start().await else {
        return;
    };
    let server = pulse_etl::vectors::open(&qdrant.url, dir.path()).unwrap();
    server.ping().await.unwrap();
    tenants_stay_apart(server.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embed_workers_over_rabbitmq_fill_a_qdrant_server_exactly_despite_a_kill() {
    let Some(model) = model_dir() else { return };
    let Some(qdrant) = QdrantServer::start().await else {
        return;
    };
    let sim = simulator(SimulatorConfig {
        seed: 22,
        jira_issues: 400,
        ..SimulatorConfig::default()
    })
    .await;
    let queues = Queues::new();
    let db = ScratchDb::migrated().await;
    let data = tempfile::tempdir().unwrap();
    let mut env = env(&model, data.path());
    env.push(("QDRANT_URL".into(), qdrant.url.clone()));
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    set_local(&db, &env, &tenant).await;

    let mut all_env: Vec<(String, String)> = queues
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    all_env.extend(env.clone());
    let worker_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    let transform = queues.worker_with(&db, dir.path(), &["transform", "load"], &worker_env);
    let job = {
        let mut env = all_env.clone();
        env.push(("DATABASE_URL".into(), db.url.clone()));
        env.push(("PULSE_SECRET_KEY".into(), TEST_SECRET_KEY.into()));
        let (dir, tenant) = (dir.path().to_owned(), tenant.clone());
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_cli(
                &dir,
                &env,
                &[
                    "--json", "run-job", "jira", "--tenant", &tenant, "--queue", "rabbitmq",
                ],
                None,
            )
        })
    };

    // An embed worker starts, is killed without warning mid-job, and another takes over.
    let first = queues.worker_with(&db, dir.path(), &["embed"], &worker_env);
    let started = Instant::now();
    while count(&db, "SELECT count(*) FROM qdrant_vectors").await < 64 {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "nothing embedded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut first = first;
    first.kill().unwrap();
    first.wait().unwrap();
    let at_kill = count(&db, "SELECT count(*) FROM qdrant_vectors").await;
    let second = queues.worker_with(&db, dir.path(), &["embed"], &worker_env);
    let output = job.await.unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(terminate(second).success());
    assert!(terminate(transform).success());
    assert!(
        at_kill < 400,
        "the kill landed mid-job ({at_kill} embedded)"
    );

    let state: String = sqlx::query_scalar("SELECT state FROM etl_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(state, "FINISHED");
    assert_eq!(count(&db, "SELECT count(*) FROM qdrant_vectors").await, 400);
    assert_eq!(
        count(&db, "SELECT count(*) FROM embedding_failures").await,
        0
    );
    let collection: String = sqlx::query_scalar("SELECT collection FROM embedding_settings")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        qdrant.points(&collection).await,
        400,
        "one point per record, none twice"
    );

    // The server answers searches as the embedded store does for the same data.
    let server = embedding_at(
        pulse_etl::vectors::open(&qdrant.url, data.path()).unwrap(),
        &model,
    );
    let reference_db = ScratchDb::migrated().await;
    let reference_data = tempfile::tempdir().unwrap();
    let reference_env = self::env(&model, reference_data.path());
    let reference_tenant = jira_tenant(&reference_db, &sim, "sim-token").await;
    set_local(&reference_db, &reference_env, &reference_tenant).await;
    let reference = run(
        &reference_db,
        &reference_env,
        &["run-job", "jira", "--tenant", &reference_tenant],
    )
    .await;
    assert!(reference.status.success(), "{}", stderr(&reference));
    let edge = embedding_at(
        pulse_etl::vectors::open("", reference_data.path()).unwrap(),
        &model,
    );
    for (_, summary) in unique_summaries(&db, &tenant, 10).await {
        let from_server = top_keys(&db, &server, &tenant, &summary, 3).await;
        let from_edge = top_keys(&reference_db, &edge, &reference_tenant, &summary, 3).await;
        assert_eq!(from_server, from_edge, "'{summary}'");
    }
    queues.delete().await;
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_provider_batches_waits_out_429s_and_a_failing_one_fails_the_job() {
    let Some(model) = model_dir() else { return };
    let sim = simulator(SimulatorConfig {
        seed: 23,
        jira_issues: 200,
        embeddings_model_dir: Some(model.clone()),
        embeddings_throttle_every: 3,
        ..SimulatorConfig::default()
    })
    .await;
    let db = ScratchDb::migrated().await;
    let data = tempfile::tempdir().unwrap();
    // No local model: every vector comes from the endpoint.
    let env = self::env(&data.path().join("no-model"), data.path());
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    let set = {
        let mut env = env.clone();
        env.push(("DATABASE_URL".into(), db.url.clone()));
        env.push(("PULSE_SECRET_KEY".into(), TEST_SECRET_KEY.into()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let base = sim.base_url();
        let args = [
            "--json",
            "embedding",
            "set",
            "--tenant",
            &tenant,
            "--provider",
            "openai",
            "--base-url",
            &base,
            "--model",
            "all-MiniLM-L6-v2",
            "--api-key-stdin",
        ];
        run_cli(data.path(), &env, &args, Some("sim-embeddings-key\n"))
    };
    assert!(set.status.success(), "{}", stderr(&set));
    let shown: Value = serde_json::from_str(&stdout(&set)).unwrap();
    assert_eq!(shown[0]["has_api_key"], true);
    assert!(
        !stdout(&set).contains("sim-embeddings-key"),
        "the key is never shown"
    );
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT api_key_encrypted FROM embedding_settings")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&sealed).contains("sim-embeddings-key"),
        "encrypted at rest"
    );

    let first = run(
        &db,
        &env,
        &["--json", "run-job", "jira", "--tenant", &tenant],
    )
    .await;
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(embedded(&first, "jira_issues_with_changelogs"), 200);
    let endpoint: Value = reqwest::get(format!("{}/_sim/embeddings", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(endpoint["texts"], 200, "each text sent once: {endpoint}");
    let requests = endpoint["requests"].as_u64().unwrap();
    // 200 records in messages of 64: 4 batches, each one request plus retries after 429s.
    assert!((5..=8).contains(&requests), "{requests} requests");
    let stats = crate::common::source::stats(&sim).await;
    assert!(
        crate::common::source::responses(&stats, "429") > 0,
        "{stats}"
    );

    // The provider fails: the changes still load, the job fails with the count.
    reqwest::Client::new()
        .post(format!("{}/_sim/embeddings", sim.base_url()))
        .json(&serde_json::json!({"failing": true}))
        .send()
        .await
        .unwrap();
    control(&sim, "mutate", 0.05).await;
    let failing = run(&db, &env, &["run-job", "jira", "--tenant", &tenant]).await;
    assert!(!failing.status.success());
    let failures = count(&db, "SELECT count(*) FROM embedding_failures").await;
    assert!(failures > 0);
    assert!(
        stderr(&failing).contains(&format!("{failures} record(s) failed to embed")),
        "{}",
        stderr(&failing)
    );
    let (state, error): (String, String) =
        sqlx::query_as("SELECT state, error_message FROM etl_jobs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(state, "FAILED");
    assert!(error.contains("failed to embed"), "{error}");
    let pending_raw = count(
        &db,
        "SELECT count(*) FROM raw_extraction_data WHERE status = 'pending'",
    )
    .await;
    assert_eq!(pending_raw, 0, "the rest of the data loaded");
    sim.stop().await.unwrap();
}

/// Texts the simulated OpenAI-compatible endpoint has embedded.
async fn endpoint_texts(sim: &RunningSimulator) -> u64 {
    let counts: Value = reqwest::get(format!("{}/_sim/embeddings", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    counts["texts"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_change_fills_a_new_collection_and_search_switches_once_it_is_complete() {
    let Some(model) = model_dir() else { return };
    let sim = simulator(SimulatorConfig {
        seed: 24,
        jira_issues: 100,
        embeddings_model_dir: Some(model.clone()),
        embeddings_key: String::new(),
        ..SimulatorConfig::default()
    })
    .await;
    let db = ScratchDb::migrated().await;
    let data = tempfile::tempdir().unwrap();
    let env = env(&model, data.path());
    let tenant = jira_tenant(&db, &sim, "sim-token").await;
    set_local(&db, &env, &tenant).await;
    let synced = run(&db, &env, &["run-job", "jira", "--tenant", &tenant]).await;
    assert!(synced.status.success(), "{}", stderr(&synced));
    let (key, summary) = unique_summaries(&db, &tenant, 1).await.remove(0);
    let search = [
        "--json", "search", "--tenant", &tenant, &summary, "--limit", "1",
    ];

    // Another model: a second collection is being built; search still reads the first.
    let base = sim.base_url();
    let set = run(
        &db,
        &env,
        &[
            "--json",
            "embedding",
            "set",
            "--tenant",
            &tenant,
            "--provider",
            "openai",
            "--base-url",
            &base,
            "--model",
            "minilm-served",
        ],
    )
    .await;
    assert!(set.status.success(), "{}", stderr(&set));
    let collections: Value = serde_json::from_str(&stdout(&set)).unwrap();
    let states: Vec<(&str, &str)> = collections
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["model"].as_str().unwrap(), c["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("all-MiniLM-L6-v2", "active"),
            ("minilm-served", "building")
        ]
    );
    let found = run(&db, &env, &search).await;
    assert!(found.status.success(), "{}", stderr(&found));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&found)).unwrap()[0]["key"],
        key.as_str()
    );
    assert_eq!(
        endpoint_texts(&sim).await,
        0,
        "the query went to the searched collection's model"
    );
    let status = run(
        &db,
        &env,
        &["--json", "vectors", "status", "--tenant", &tenant],
    )
    .await;
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(
        status["collection"],
        format!("pulse_h_t{tenant}_minilm_served")
    );
    assert_eq!(status["tables"][0]["pending"], 100, "{status}");

    // Rebuilt: search switches, the old collection is gone.
    let rebuilt = run(&db, &env, &["vectors", "rebuild", "--tenant", &tenant]).await;
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    assert_eq!(endpoint_texts(&sim).await, 100);
    let shown = run(
        &db,
        &env,
        &["--json", "embedding", "show", "--tenant", &tenant],
    )
    .await;
    let shown: Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(shown.as_array().unwrap().len(), 1, "{shown}");
    assert_eq!(shown[0]["state"], "active");
    assert_eq!(shown[0]["model"], "minilm-served");
    assert!(!data
        .path()
        .join(format!("vectors/pulse_h_t{tenant}_all_minilm_l6_v2"))
        .exists());
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM qdrant_vectors WHERE collection LIKE '%all_minilm%'"
        )
        .await,
        0
    );
    let found = run(&db, &env, &search).await;
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&found)).unwrap()[0]["key"],
        key.as_str()
    );
    assert_eq!(
        endpoint_texts(&sim).await,
        101,
        "the query now goes to the new model"
    );
    sim.stop().await.unwrap();
}
