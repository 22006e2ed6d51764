//! Recorded real GitHub responses through raw storage, transform and load into a real
//! database, by the same loader a sync uses.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::common;
use crate::common::ScratchDb;
use chrono::{DateTime, Utc};
use pulse_etl::domain::Scope;
use pulse_etl::sources::github::kinds;
use pulse_etl::sources::github::load::GithubLoader;
use pulse_etl::sources::pull_requests::tables::refresh_flow_metrics;
use pulse_etl::store::raw;
use serde_json::{json, Value};

/// `(request URL, body)` of every record of a fixture file.
fn records(file: &str) -> Vec<(String, Value)> {
    let path = format!(
        "{}/../shared/fixtures/real/github/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut parsed: Value = serde_json::from_str(&text).unwrap();
    restore_bot_logins(&mut parsed);
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

/// GitHub's REST API names app accounts (`"type": "Bot"`) `<name>[bot]`; the recording's
/// pseudonymised logins lost the suffix, which GraphQL's view of the same account (no
/// suffix) relies on.
fn restore_bot_logins(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.get("type").and_then(Value::as_str) == Some("Bot") {
                if let Some(Value::String(login)) = object.get_mut("login") {
                    if !login.ends_with("[bot]") {
                        login.push_str("[bot]");
                    }
                }
            }
            object.values_mut().for_each(restore_bot_logins);
        }
        Value::Array(items) => items.iter_mut().for_each(restore_bot_logins),
        _ => {}
    }
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

/// Loads the recording as a REST sync would: pull requests with their review and commit
/// pages, then the comments, then flow metrics. Returns the recorded pull requests and
/// their ids by number.
async fn load_rest(db: &ScratchDb, scope: Scope) -> (Vec<Value>, HashMap<i64, String>) {
    let pool = &db.pool;
    let loader = GithubLoader { pool, scope };
    let pulls: Vec<Value> = records("pulls.json").into_iter().map(|(_, b)| b).collect();
    let pull_ids: HashMap<i64, String> = pulls
        .iter()
        .map(|p| (p["number"].as_i64().unwrap(), id(p)))
        .collect();
    store_pages(
        db,
        scope,
        kinds::PULL_REVIEWS,
        "pull_reviews.json",
        &pull_ids,
    )
    .await;
    store_pages(
        db,
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
    refresh_flow_metrics(pool, scope.integration(), &touched)
        .await
        .unwrap();
    (pulls, pull_ids)
}

#[tokio::test]
async fn recorded_pull_requests_reviews_commits_and_comments_all_land() {
    let db = ScratchDb::migrated().await;
    let scope = scope(&db).await;
    let pool = &db.pool;
    let (pulls, pull_ids) = load_rest(&db, scope).await;

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

/// GraphQL's view of a REST user: its type, and a bot's login without `[bot]`.
fn actor(user: &Value) -> Value {
    if user.is_null() {
        return Value::Null;
    }
    let kind = user["type"].as_str().unwrap_or("User");
    let login = user["login"].as_str().unwrap_or_default();
    let login = if kind == "Bot" {
        login.trim_end_matches("[bot]")
    } else {
        login
    };
    json!({"__typename": kind, "login": login, "databaseId": user["id"]})
}

fn upper(state: &Value) -> Value {
    Value::from(state.as_str().unwrap_or_default().to_uppercase())
}

/// A recorded pull request as GitHub's GraphQL API answers it, with its recorded reviews,
/// commits and comments nested (each review comment a thread of its own, replies included).
fn graphql_node(pull: &Value, number: i64) -> Value {
    let of_pull = |file: &str| -> Vec<Value> {
        records(file)
            .into_iter()
            .filter(|(url, body)| {
                let owner = body["pull_request_url"]
                    .as_str()
                    .or(body["issue_url"].as_str())
                    .map(|u| u.rsplit('/').next().unwrap().parse::<i64>().unwrap());
                owner.map_or_else(|| number_in(url) == number, |n| n == number)
            })
            .map(|(_, body)| body)
            .collect()
    };
    let commits: Vec<Value> = of_pull("pull_commits.json")
        .iter()
        .map(|c| {
            let who = |role: &str| {
                let user = &c[role];
                json!({"name": c["commit"][role]["name"], "email": c["commit"][role]["email"],
                       "user": if user.is_null() { Value::Null } else { json!({"login": user["login"]}) }})
            };
            json!({"commit": {"oid": c["sha"], "message": c["commit"]["message"],
                "authoredDate": c["commit"]["author"]["date"], "committedDate": c["commit"]["committer"]["date"],
                "author": who("author"), "committer": who("committer")}})
        })
        .collect();
    let reviews: Vec<Value> = of_pull("pull_reviews.json")
        .iter()
        .map(|r| {
            json!({"fullDatabaseId": id(r), "state": r["state"], "body": r["body"].as_str().unwrap_or_default(),
                "submittedAt": r["submitted_at"], "commit": {"oid": r["commit_id"]}, "author": actor(&r["user"])})
        })
        .collect();
    let comment = |c: &Value| {
        json!({"fullDatabaseId": id(c), "body": c["body"], "createdAt": c["created_at"],
            "updatedAt": c["updated_at"], "author": actor(&c["user"]), "path": c["path"],
            "line": c["line"], "originalLine": c["original_line"],
            "replyTo": c["in_reply_to_id"].as_i64().map(|r| json!({"fullDatabaseId": r.to_string()}))})
    };
    let issue_comments: Vec<Value> = of_pull("issue_comments.json").iter().map(comment).collect();
    let threads: Vec<Value> = of_pull("pull_review_comments.json")
        .iter()
        .map(|c| json!({"id": format!("T_{}", id(c)), "comments": {"nodes": [comment(c)]}}))
        .collect();
    let state = if pull["merged_at"].is_string() {
        Value::from("MERGED")
    } else {
        upper(&pull["state"])
    };
    json!({
        "id": pull["node_id"], "fullDatabaseId": id(pull), "number": number, "title": pull["title"],
        "body": pull["body"].as_str().unwrap_or_default(), "state": state, "isDraft": pull["draft"],
        "createdAt": pull["created_at"], "updatedAt": pull["updated_at"], "closedAt": pull["closed_at"],
        "mergedAt": pull["merged_at"], "additions": pull["additions"], "deletions": pull["deletions"],
        "changedFiles": pull["changed_files"], "baseRefName": pull["base"]["ref"],
        "headRefName": pull["head"]["ref"], "baseRefOid": pull["base"]["sha"], "headRefOid": pull["head"]["sha"],
        "repository": {"nameWithOwner": pull["base"]["repo"]["full_name"]},
        "author": actor(&pull["user"]),
        "assignees": {"nodes": if pull["assignee"].is_null() { vec![] } else {
            vec![json!({"login": pull["assignee"]["login"], "databaseId": pull["assignee"]["id"]})] }},
        "commits": {"totalCount": pull["commits"], "nodes": commits},
        "reviews": {"nodes": reviews},
        "comments": {"totalCount": pull["comments"], "nodes": issue_comments},
        "reviewThreads": {"nodes": threads},
    })
}

/// The pull request tables by natural keys, without the counts a REST listing does not
/// carry (the recording is of `/pulls`, not of each pull request's detail).
async fn compared_tables(db: &ScratchDb) -> Vec<Vec<Value>> {
    let mut tables = crate::common::source::github_tables(db).await;
    tables.remove(0); // repositories: loaded by the repositories step, not checked here
    for row in &mut tables[0] {
        row.as_object_mut().unwrap().remove("review_comments_count");
    }
    tables
}

#[tokio::test]
async fn recorded_pull_requests_as_graphql_answers_load_the_same_rows_as_over_rest() {
    let rest = ScratchDb::migrated().await;
    let rest_scope = scope(&rest).await;
    let (pulls, _) = load_rest(&rest, rest_scope).await;

    let db = ScratchDb::migrated().await;
    let scope = scope(&db).await;
    let loader = GithubLoader {
        pool: &db.pool,
        scope,
    };
    let repositories: Vec<Value> = pulls.iter().map(|p| p["base"]["repo"].clone()).collect();
    let stored = raw::insert(
        &db.pool,
        scope,
        kinds::REPOSITORY,
        repositories
            .iter()
            .map(|r| (Some(id(r)), r.clone()))
            .collect(),
        &json!({}),
    )
    .await
    .unwrap();
    let stored: Vec<_> = stored.into_iter().zip(repositories).collect();
    loader.repositories(&stored).await.unwrap();
    let nodes: Vec<Value> = pulls
        .iter()
        .map(|p| graphql_node(p, p["number"].as_i64().unwrap()))
        .collect();
    let raw_ids = raw::insert(
        &db.pool,
        scope,
        kinds::GRAPHQL_PULL,
        nodes
            .iter()
            .map(|n| {
                (
                    Some(n["fullDatabaseId"].as_str().unwrap().to_owned()),
                    n.clone(),
                )
            })
            .collect(),
        &json!({"extraction": "recorded"}),
    )
    .await
    .unwrap();
    let report = loader.graphql_pulls_by_raw_ids(&raw_ids).await.unwrap();
    assert_eq!((report.failed, report.loaded), (0, 50));
    let touched: Vec<String> = pulls.iter().map(id).collect();
    refresh_flow_metrics(&db.pool, scope.integration(), &touched)
        .await
        .unwrap();

    let over_graphql = compared_tables(&db).await;
    assert_eq!(over_graphql[0].len(), 49, "every pull request");
    assert!(over_graphql[3].len() > 50, "comments of both kinds");
    let over_rest = compared_tables(&rest).await;
    for (graphql_rows, rest_rows) in over_graphql.iter().zip(&over_rest) {
        assert_eq!(graphql_rows.len(), rest_rows.len());
        for (graphql_row, rest_row) in graphql_rows.iter().zip(rest_rows) {
            let differing: Vec<(&String, &Value, &Value)> = graphql_row
                .as_object()
                .unwrap()
                .iter()
                .filter(|(key, value)| rest_row.get(key.as_str()) != Some(*value))
                .map(|(key, value)| (key, value, &rest_row[key.as_str()]))
                .collect();
            assert!(
                differing.is_empty(),
                "{}: {differing:?}",
                graphql_row["external_id"]
            );
        }
    }
}
