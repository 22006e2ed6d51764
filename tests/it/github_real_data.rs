//! Recorded real GitHub responses through raw storage, transform and load into a real
//! database, by the same loader a sync uses.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::common;
use crate::common::ScratchDb;
use chrono::{DateTime, Utc};
use pulse_etl::domain::Scope;
use pulse_etl::sources::github::kinds;
use pulse_etl::sources::github::load::GithubLoader;
use pulse_etl::store::raw;
use serde_json::{json, Value};

/// `(request URL, body)` of every record of a fixture file.
fn records(file: &str) -> Vec<(String, Value)> {
    let path = format!(
        "{}/../shared/fixtures/real/github/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let parsed: Value = serde_json::from_str(&text).unwrap();
    parsed["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["request_url"].as_str().unwrap().to_owned(),
                r["body"].clone(),
            )
        })
        .collect()
}

fn id(value: &Value) -> String {
    value["id"].to_string()
}

/// The pull request number in `.../pulls/{n}/...`.
fn number_in(url: &str) -> i64 {
    url.split("/pulls/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
}

async fn scope(db: &ScratchDb) -> Scope {
    let ids = common::source::github_integration(db, "Real").await;
    Scope {
        tenant_id: ids.tenant,
        integration_id: ids.integration,
        job_id: None,
    }
}

/// One stored page per pull request of a per-PR listing (`/reviews`, `/commits`).
async fn store_pages(
    db: &ScratchDb,
    scope: Scope,
    kind: &str,
    file: &str,
    pull_ids: &HashMap<i64, String>,
) {
    let mut pages: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for (url, body) in records(file) {
        pages.entry(number_in(&url)).or_default().push(body);
    }
    let entities = pages
        .into_iter()
        .map(|(number, items)| {
            (
                Some(pull_ids[&number].clone()),
                Value::Array(items),
                json!({"startAt": 0, "last": true}),
            )
        })
        .collect();
    raw::insert_each(&db.pool, scope, kind, entities)
        .await
        .unwrap();
}

#[tokio::test]
async fn recorded_pull_requests_reviews_commits_and_comments_all_land() {
    let db = ScratchDb::migrated().await;
    let scope = scope(&db).await;
    let pool = &db.pool;
    let loader = GithubLoader { pool, scope };

    let pulls: Vec<Value> = records("pulls.json").into_iter().map(|(_, b)| b).collect();
    let pull_ids: HashMap<i64, String> = pulls
        .iter()
        .map(|p| (p["number"].as_i64().unwrap(), id(p)))
        .collect();
    store_pages(
        &db,
        scope,
        kinds::PULL_REVIEWS,
        "pull_reviews.json",
        &pull_ids,
    )
    .await;
    store_pages(
        &db,
        scope,
        kinds::PULL_COMMITS,
        "pull_commits.json",
        &pull_ids,
    )
    .await;
    let pull_raw = raw::insert(
        pool,
        scope,
        kinds::PULL,
        pulls.iter().map(|p| (Some(id(p)), p.clone())).collect(),
        &json!({}),
    )
    .await
    .unwrap();
    let loaded = loader.pulls_by_raw_ids(&pull_raw).await.unwrap();
    assert_eq!(loaded.failed, 0);
    assert_eq!(
        loaded.loaded, 50,
        "every recorded pull request went through"
    );

    let mut comment_raw = Vec::new();
    for (kind, file) in [
        (kinds::REVIEW_COMMENT, "pull_review_comments.json"),
        (kinds::ISSUE_COMMENT, "issue_comments.json"),
    ] {
        let comments = records(file)
            .into_iter()
            .map(|(_, c)| (Some(id(&c)), c))
            .collect();
        comment_raw.extend(
            raw::insert(pool, scope, kind, comments, &json!({}))
                .await
                .unwrap(),
        );
    }
    let comments = loader.comments_by_raw_ids(&comment_raw).await.unwrap();
    assert_eq!(comments.failed, 0);
    let touched: Vec<String> = pull_ids.values().cloned().collect();
    loader.flow_metrics(&touched).await.unwrap();

    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    // The recording lists one pull request twice: 49 distinct ones.
    assert_eq!(
        count("SELECT count(*) FROM prs").await as usize,
        pull_ids.len()
    );
    assert_eq!(pull_ids.len(), 49);
    let distinct = |file: &str, key: fn(&str, &Value) -> String| {
        records(file)
            .iter()
            .map(|(url, body)| key(url, body))
            .collect::<BTreeSet<_>>()
            .len() as i64
    };
    assert_eq!(
        count("SELECT count(*) FROM pr_reviews").await,
        distinct("pull_reviews.json", |_, b| id(b))
    );
    assert_eq!(
        count("SELECT count(*) FROM pr_commits").await,
        distinct("pull_commits.json", |url, b| format!(
            "{}:{}",
            number_in(url),
            b["sha"]
        ))
    );
    assert_eq!(
        count("SELECT count(*) FROM pr_comments WHERE comment_type = 'review'").await,
        distinct("pull_review_comments.json", |_, b| id(b))
    );
    // Issue comments land when they belong to a recorded pull request (the rest are on
    // plain issues).
    let on_pulls = records("issue_comments.json")
        .iter()
        .filter(|(_, c)| {
            let number: i64 = c["issue_url"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            pull_ids.contains_key(&number)
        })
        .map(|(_, c)| id(c))
        .collect::<BTreeSet<_>>()
        .len() as i64;
    assert!(on_pulls > 40);
    assert_eq!(
        count("SELECT count(*) FROM pr_comments WHERE comment_type = 'issue'").await,
        on_pulls
    );
    assert_eq!(
        count("SELECT count(*) FROM raw_extraction_data WHERE status <> 'processed'").await,
        0
    );

    // Dates and sizes are the payloads' own.
    type Stored = (
        String,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<i32>,
        Option<i32>,
        String,
    );
    let stored: Vec<Stored> = sqlx::query_as(
        "SELECT external_id, merged_at, closed_at, additions, deletions, state FROM prs",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let by_id: HashMap<String, &Value> = pulls.iter().map(|p| (id(p), p)).collect();
    for (external_id, merged, closed, additions, deletions, state) in &stored {
        let payload = by_id[external_id];
        assert_eq!(*merged, time(&payload["merged_at"]), "{external_id}");
        assert_eq!(*closed, time(&payload["closed_at"]), "{external_id}");
        assert_eq!(additions.map(i64::from), payload["additions"].as_i64());
        assert_eq!(deletions.map(i64::from), payload["deletions"].as_i64());
        assert_eq!(state, payload["state"].as_str().unwrap());
    }
    assert!(stored.iter().any(|s| s.1.is_some()), "some were merged");

    // Cycle time is first authored commit → merged, by hand from the recording.
    let mut first_commit: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for (url, commit) in records("pull_commits.json") {
        let at = time(&commit["commit"]["author"]["date"]).unwrap();
        let entry = first_commit.entry(number_in(&url)).or_insert(at);
        *entry = (*entry).min(at);
    }
    let metrics: Vec<(i32, Option<f64>)> =
        sqlx::query_as("SELECT number, cycle_time_seconds FROM prs")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut checked = 0;
    for (number, cycle) in metrics {
        let payload = pulls.iter().find(|p| p["number"] == number).unwrap();
        let expected = match (
            first_commit.get(&i64::from(number)),
            time(&payload["merged_at"]),
        ) {
            (Some(first), Some(merged)) => {
                checked += 1;
                Some(((merged - *first).num_seconds().max(0)) as f64)
            }
            _ => None,
        };
        assert_eq!(cycle, expected, "pull request {number}");
    }
    assert!(checked > 10, "{checked} merged pull requests with commits");
}
