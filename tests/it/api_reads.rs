//! Reading through the API: keyset pages that cover a list exactly once, filters that
//! agree with the database, full-text search, and details that hold what was loaded.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::api_access::{small_simulator, synced_tenant};
use crate::common::api::{self, TestApi};
use crate::common::ScratchDb;
use pulse_etl::domain::UserRole;

/// Every item of a list, following `next_cursor` from `first` (a path with a query).
async fn every_page(api: &TestApi, token: &str, first: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut path = first.to_owned();
    loop {
        let page = api.get(&path, token).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("{first}&cursor={cursor}"),
            None => return items,
        }
    }
}

async fn count(db: &ScratchDb, sql: &str, tenant: &str) -> usize {
    let n: i64 = sqlx::query_scalar(sql)
        .bind(tenant.parse::<i64>().unwrap())
        .fetch_one(&db.pool)
        .await
        .unwrap();
    n as usize
}

#[tokio::test]
async fn pages_filters_and_search_agree_with_the_database() {
    let db = ScratchDb::migrated().await;
    let sim = small_simulator(2).await;
    let tenant = synced_tenant(&db, &sim).await;
    let api = TestApi::start(&db.pool).await;
    let (viewer, _) = api::user(&db.pool, &tenant, UserRole::Viewer).await;
    let token = api.login(&viewer).await;

    let all = every_page(&api, &token, "/api/v1/work-items?limit=7").await;
    let ids: Vec<i64> = all
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect();
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no item on two pages");
    assert_eq!(
        ids.len(),
        count(
            &db,
            "SELECT count(*) FROM work_items WHERE tenant_id = $1",
            &tenant
        )
        .await
    );
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "newest first");

    let done_in_core = every_page(
        &api,
        &token,
        "/api/v1/work-items?limit=5&project=CORE&status=Done",
    )
    .await;
    assert!(!done_in_core.is_empty());
    assert!(done_in_core
        .iter()
        .all(|item| item["project_key"] == "CORE" && item["status"] == "Done"));
    let expected = count(
        &db,
        "SELECT count(*) FROM work_items w JOIN projects p ON p.id = w.project_id JOIN statuses s ON s.id = w.status_id
         WHERE w.tenant_id = $1 AND p.key = 'CORE' AND s.name = 'Done'",
        &tenant,
    )
    .await;
    assert_eq!(done_in_core.len(), expected);
    let since = "2025-12-01T00:00:00Z";
    let recent = every_page(
        &api,
        &token,
        &format!("/api/v1/work-items?limit=50&updated_since={since}"),
    )
    .await;
    assert!(recent
        .iter()
        .all(|item| item["updated"].as_str().unwrap() >= since));
    assert_eq!(
        recent.len(),
        count(
            &db,
            "SELECT count(*) FROM work_items WHERE tenant_id = $1 AND updated >= '2025-12-01'",
            &tenant
        )
        .await
    );
    let none = api.get("/api/v1/work-items?project=NOPE", &token).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);

    // Full text: every hit has the word; every item with the word is a hit.
    let word = all[0]["summary"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_lowercase();
    let hits = every_page(
        &api,
        &token,
        &format!("/api/v1/work-items?limit=100&q={word}"),
    )
    .await;
    assert!(!hits.is_empty());
    let matching = all
        .iter()
        .filter(|item| {
            item["summary"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .split_whitespace()
                .any(|w| w == word)
        })
        .count();
    assert!(
        hits.len() >= matching,
        "{} hits for '{word}', {matching} summaries have it",
        hits.len()
    );

    // Pull requests: pages cover the table; a repository filter holds.
    let prs = every_page(&api, &token, "/api/v1/prs?limit=4").await;
    assert_eq!(
        prs.len(),
        count(
            &db,
            "SELECT count(*) FROM prs WHERE tenant_id = $1",
            &tenant
        )
        .await
    );
    let repository = prs[0]["repository"].as_str().unwrap().to_owned();
    let in_repo = every_page(
        &api,
        &token,
        &format!("/api/v1/prs?limit=100&repository={repository}"),
    )
    .await;
    assert!(in_repo
        .iter()
        .all(|pr| pr["repository"] == repository.as_str()));
    let detail = api
        .get(&format!("/api/v1/prs/{}", prs[0]["id"]), &token)
        .await;
    let commits = count(
        &db,
        &format!(
            "SELECT count(*) FROM pr_commits WHERE tenant_id = $1 AND pr_id = {}",
            prs[0]["id"]
        ),
        &tenant,
    )
    .await;
    assert_eq!(detail["commits"].as_array().unwrap().len(), commits);
    assert_eq!(detail["number"], prs[0]["number"]);

    // A bad cursor or limit is refused naming the field.
    let (status, body) = api
        .call(
            reqwest::Method::GET,
            "/api/v1/work-items?cursor=nonsense",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "cursor");
    api.stop().await;
}
