//! Load batches against the real PostgreSQL: a redelivered transform message rewrites its
//! batch instead of adding one, a saved batch loads once (a second delivery finds nothing
//! and changes nothing), and another tenant can neither load nor see it.

use crate::common;
use crate::common::ScratchDb;
use pulse_etl::domain::Scope;
use pulse_etl::sources::pull_requests::rows::RepositoryRow;
use pulse_etl::sources::CATALOG;
use pulse_etl::store::load_batches::{self, LoadRows};
use pulse_etl::store::raw;
use serde_json::json;

fn repository(id: &str, description: &str) -> RepositoryRow {
    RepositoryRow {
        external_id: id.into(),
        owner: "acme".into(),
        name: format!("repo-{id}"),
        full_name: format!("acme/repo-{id}"),
        description: Some(description.into()),
        default_branch: Some("main".into()),
        language: None,
        private: false,
        archived: false,
        repo_created_at: None,
        repo_updated_at: None,
        pushed_at: None,
    }
}

async fn repositories(db: &ScratchDb) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT external_id, description, tenant_id FROM repositories ORDER BY tenant_id, external_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn count(db: &ScratchDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}

#[tokio::test]
async fn a_saved_batch_loads_once_for_its_own_tenant_only() {
    let db = ScratchDb::migrated().await;
    let ids = common::source::github_integration(&db, "Acme").await;
    let (tenant_id, integration_id) = (ids.tenant, ids.integration);
    let other = common::source::github_integration(&db, "Other").await;
    let scope = Scope {
        tenant_id,
        integration_id,
        job_id: None,
    };
    let raw_ids = raw::insert(
        &db.pool,
        scope,
        "github_repository",
        vec![(Some("1".into()), json!({})), (Some("2".into()), json!({}))],
        &json!({}),
    )
    .await
    .unwrap();

    // The first transform of the message, then its redelivery with newer content.
    let mut first = LoadRows::default();
    first.add(&[repository("1", "old")]).unwrap();
    first.processed(raw_ids.clone());
    let batch = first.save(&db.pool, ids, None, raw_ids[0]).await.unwrap();
    let mut again = LoadRows::default();
    again
        .add(&[
            repository("1", "older copy"),
            repository("1", "new"),
            repository("2", "two"),
        ])
        .unwrap();
    again.processed(raw_ids.clone());
    let rewritten = again.save(&db.pool, ids, None, raw_ids[0]).await.unwrap();
    assert_eq!(rewritten, batch, "one batch per transform message");
    assert_eq!(count(&db, "SELECT count(*) FROM load_batches").await, 1);

    // Another tenant's load worker cannot load it.
    assert_eq!(
        load_batches::load_saved(&db.pool, other, batch, &CATALOG.load_tables())
            .await
            .unwrap(),
        None
    );
    assert!(repositories(&db).await.is_empty());

    // Its own loads it: the last row of a key wins, the raw rows are processed, the batch
    // is gone.
    assert_eq!(
        load_batches::load_saved(&db.pool, ids, batch, &CATALOG.load_tables())
            .await
            .unwrap(),
        Some(2)
    );
    let loaded = repositories(&db).await;
    assert_eq!(
        loaded,
        vec![
            ("1".to_owned(), "new".to_owned(), tenant_id.get()),
            ("2".to_owned(), "two".to_owned(), tenant_id.get())
        ]
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM raw_extraction_data WHERE status = 'processed'"
        )
        .await,
        2
    );
    assert_eq!(count(&db, "SELECT count(*) FROM load_batches").await, 0);

    // Delivered again: nothing to load, nothing changes.
    let before: Vec<(String, String)> =
        sqlx::query_as("SELECT external_id, updated_at::text FROM repositories ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        load_batches::load_saved(&db.pool, ids, batch, &CATALOG.load_tables())
            .await
            .unwrap(),
        None
    );
    let after: Vec<(String, String)> =
        sqlx::query_as("SELECT external_id, updated_at::text FROM repositories ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(before, after);
}
